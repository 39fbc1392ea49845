"""The qualitative grid of a reproduction, stored small beside its summary record, so that a book
built without the dataset still shows what the networks predict.

:func:`write_grid` draws :data:`GRID_IMAGES` images of the ``val`` split (:func:`grid_indices`: the
centre of each of that many equal parts of the split, in file order), their ground truth and the
predictions of the teacher, the plain ResNet-18 student and the AICSD ResNet-18 student
(:func:`grid_networks`: the main table's runs of the first reporting seed, at the table's tuned
weights), with :func:`aicsd.study.plots.qualitative_grid`. Every tile is at most :data:`TILE_PX`
pixels on its longest side and the PNG holds a palette of at most 256 colours, so the file stays
small enough to commit. Beside it, a JSON sidecar (:func:`sidecar_path`) names the image files
(relative to the data root), the runs, the commit and the data's attribution
(:attr:`aicsd.data.DatasetInfo.attribution`). ``python -m aicsd.study.record`` writes both next to
the summary record when the data is on disk (:func:`data_missing` says why not otherwise).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2.functional import resize

from aicsd.data import build_dataset, dataset_info, eval_transforms, split_on_disk
from aicsd.engine import RunConfig, read_result, run_dir, run_id, seeds_of
from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json
from aicsd.engine.environment import environment_info
from aicsd.study import experiments, plots
from aicsd.study.analysis import denormalize, predictions

__all__ = [
    "GRID_IMAGES",
    "GRID_SPLIT",
    "GRID_STUDENT",
    "STUDENT_COLUMNS",
    "TILE_PX",
    "data_missing",
    "grid_indices",
    "grid_networks",
    "sidecar_path",
    "write_grid",
]

GRID_IMAGES = 4
"""Images (rows) of the grid."""
GRID_SPLIT = "val"
"""The split the grid's images come from."""
GRID_STUDENT = "resnet18"
"""The student whose runs the grid shows."""
STUDENT_COLUMNS = {"none": "student", "aicsd": "AICSD student"}
"""The main table's methods the grid shows, by the title of their column."""
TILE_PX = 160
"""The longest side of every tile of the stored grid, in pixels."""
PALETTE_COLOURS = 256
"""Colours of the stored PNG's palette (the label maps use a dozen; the photographs take the rest)."""


def grid_indices(total: int, count: int = GRID_IMAGES) -> list[int]:
    """``count`` indices spread evenly over a split of ``total`` images: the centre of each of
    ``count`` equal parts, ``(2k + 1) * total // (2 * count)`` (every image when ``total <= count``)."""
    if total <= count:
        return list(range(total))
    return [(2 * k + 1) * total // (2 * count) for k in range(count)]


def data_missing(teacher: RunConfig) -> str | None:
    """None when the :data:`GRID_SPLIT` split of the dataset of ``teacher`` (its dataset and data
    root) is on disk; else a sentence saying where it is missing."""
    if split_on_disk(teacher.dataset, teacher.data_root, GRID_SPLIT):
        return None
    return f"the {GRID_SPLIT} split of {teacher.dataset} is not on disk under {teacher.data_root}"


def grid_networks(
    profile: str,
    *,
    weights: experiments.StudentWeights,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
) -> dict[str, RunConfig]:
    """The runs the grid shows, keyed by column title: ``"teacher"``, then the main table's
    :data:`GRID_STUDENT` runs of :data:`STUDENT_COLUMNS` at the profile's first reporting seed with
    ``weights`` (:func:`aicsd.study.experiments.tuned_weights`, as the main table uses)."""
    place = {"dataset": dataset, "data_root": data_root, "device": device}
    table = experiments.main_table(profile, **place, seeds=seeds_of(profile)[:1], weights=weights)
    students = {run.label: run.config for run in table if run.config.backbone == GRID_STUDENT}
    return {"teacher": experiments.teacher_run(profile, **place), **{title: students[method] for method, title in STUDENT_COLUMNS.items()}}


def sidecar_path(image: Path) -> Path:
    """The JSON sidecar of a stored grid ``image``: the same name ending in ``.json``."""
    return image.with_suffix(".json")


def _fit(x: Tensor, *, labels: bool) -> Tensor:
    """``x`` (C, H, W) shrunk so that its longest side is at most :data:`TILE_PX` (never enlarged):
    label maps by nearest neighbour (no label is blended into another), images in [0, 1] with
    antialiasing (clamped back to [0, 1], which the filter's overshoot leaves)."""
    height, width = x.shape[-2:]
    if max(height, width) <= TILE_PX:
        return x
    size = [max(1, round(height * TILE_PX / max(height, width))), max(1, round(width * TILE_PX / max(height, width)))]
    if labels:
        return resize(x, size, interpolation=InterpolationMode.NEAREST_EXACT)
    return resize(x, size, interpolation=InterpolationMode.BILINEAR, antialias=True).clamp(0, 1)


def _png(figure: Figure) -> bytes:
    """``figure`` as palette PNG bytes, at the largest whole dpi that draws each of its panels at
    most :data:`TILE_PX` pixels on its longest side."""
    width, height = figure.get_size_inches()
    largest = max(max(ax.get_position().width * width, ax.get_position().height * height) for ax in figure.axes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=math.floor(TILE_PX / largest))
    rgb = Image.open(buffer).convert("RGB")
    stored = io.BytesIO()
    rgb.quantize(PALETTE_COLOURS).save(stored, format="png", optimize=True)
    return stored.getvalue()


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to the data ``root``, or its name alone when it lies elsewhere."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def write_grid(networks: Mapping[str, RunConfig], path: Path, count: int = GRID_IMAGES) -> Path:
    """Draw the grid of ``networks`` (:func:`grid_networks`; ``"teacher"`` gives the dataset, its
    root and the eval transforms) on ``count`` images of :data:`GRID_SPLIT` (:func:`grid_indices`),
    write it to ``path`` (PNG) and its sidecar (:func:`sidecar_path`), each atomically; returns the
    sidecar's path.

    The sidecar holds ``image`` (the PNG's file name), ``profile``, ``dataset``, ``split``,
    ``indices`` and ``files`` (image and label file of each row, relative to the data root),
    ``columns`` (titles, left to right), ``runs`` (per network: ``run_id`` and ``seed``),
    ``tile_px``, ``commit`` and ``dirty`` (of this checkout) and ``attribution``.

    Raises FileNotFoundError when the split is not on disk (:func:`data_missing`) or naming a run
    that has not finished.
    """
    teacher = networks["teacher"]
    missing = data_missing(teacher)
    if missing:
        raise FileNotFoundError(f"cannot draw the qualitative grid: {missing}")
    for title, config in networks.items():
        if read_result(run_dir(config)) is None:
            raise FileNotFoundError(f"run {run_id(config)} ({title}) has not finished; train it first")
    info = dataset_info(teacher.dataset)
    root = Path(teacher.data_root)
    dataset = build_dataset(teacher.dataset, root, GRID_SPLIT, transforms=eval_transforms(teacher.eval_mode, size=teacher.eval_size))
    indices = grid_indices(len(dataset), count)
    images, masks = zip(*(dataset[i] for i in indices))
    predicted = predictions(networks, images)
    tiles = [_fit(denormalize(image).permute(2, 0, 1), labels=False).permute(1, 2, 0) for image in images]
    columns = {
        title: [_fit(mask.unsqueeze(0), labels=True)[0] for mask in maps]
        for title, maps in {"ground truth": list(masks), **predicted}.items()
    }
    atomic_write_bytes(path, _png(plots.qualitative_grid(tiles, columns, info.palette, info.class_names)))
    environment = environment_info()
    sidecar: dict[str, Any] = {
        "image": path.name,
        "profile": teacher.profile,
        "dataset": teacher.dataset,
        "split": GRID_SPLIT,
        "indices": indices,
        "files": [{role: _relative(file, root) for role, file in zip(("image", "label"), dataset.samples[i])} for i in indices],
        "columns": ["input", *columns],
        "runs": {title: {"run_id": run_id(config), "seed": config.seed} for title, config in networks.items()},
        "tile_px": TILE_PX,
        "commit": environment.get("git_commit"),
        "dirty": environment.get("git_dirty"),
        "attribution": info.attribution,
    }
    atomic_write_json(sidecar_path(path), sidecar)
    return sidecar_path(path)
