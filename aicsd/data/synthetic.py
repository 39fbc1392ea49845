"""Write and read the generated default dataset, in the Pascal VOC 2012 on-disk layout.

``make_synthetic(root)`` writes ``root/VOCdevkit/VOC2012/{JPEGImages, SegmentationClass,
ImageSets/Segmentation/{train,val,test}.txt, SYNTHETIC.json}``; the same VOC reader then loads it. Output
is byte-identical for the same parameters. ``test`` is a held-out split: the book reports it, while
``val`` is what training curves and any choice of the CPU profile looked at. The set is generated in a temporary folder under
``root`` (``.synthetic-<pid>-*``) and moved into place at the end, so an interrupted run leaves no
half-written dataset; the temporary folder of a killed generator is removed by the next one.
:func:`synthetic_description` is what identifies a generated set in a run's identity: the
generator's parameters and each split's image names.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aicsd.data.files import SegmentationFiles, Transforms
from aicsd.errors import CorruptFileError, DataError
from aicsd.data.info import voc_colormap
from aicsd.data.synthetic_classes import SYNTHETIC_CLASSES, SYNTHETIC_INFO
from aicsd.data.synthetic_render import render_sample
from aicsd.data.voc import build_voc
from aicsd.paths import DATA_ROOT

GENERATOR_VERSION = 3
DEFAULT_SYNTHETIC_ROOT = DATA_ROOT / "synthetic"
"""``data/synthetic`` in the repository checkout."""
SYNTHETIC_SPLITS = ("train", "val", "test")
JPEG_QUALITY = 85
METADATA_FILE = "SYNTHETIC.json"
_TEMPORARY_PREFIX = ".synthetic-"


def _voc_dir(root: Path) -> Path:
    return root / "VOCdevkit" / "VOC2012"


def _parameters(
    seed: int, num_train: int, num_val: int, num_test: int, image_size: tuple[int, int]
) -> dict[str, Any]:
    if min(num_train, num_val, num_test) < 1:
        raise ValueError(
            f"num_train, num_val and num_test must be >= 1, got {num_train}, {num_val} and {num_test}"
        )
    low, high = image_size
    if not 32 <= low <= high:
        raise ValueError(f"image_size must be (min_side, max_side) with 32 <= min <= max, got {image_size}")
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "num_train": int(num_train),
        "num_val": int(num_val),
        "num_test": int(num_test),
        "image_size": [int(low), int(high)],
    }


def split_names(split: str, count: int) -> list[str]:
    """The image names the generator writes for ``split``: ``<split>_00000`` ... (``count`` of them)."""
    return [f"{split}_{index:05d}" for index in range(count)]


def _write_split(voc_dir: Path, split_id: int, split: str, count: int, params: dict[str, Any]) -> None:
    palette = voc_colormap().reshape(-1).tolist()
    low, high = params["image_size"]
    names = split_names(split, count)
    for index, name in enumerate(names):
        rng = np.random.default_rng([params["seed"], split_id, index])
        height, width = (int(side) for side in rng.integers(low, high + 1, 2))
        image, mask = render_sample(rng, height, width, anchor=1 + index % len(SYNTHETIC_CLASSES))
        Image.fromarray(image).save(voc_dir / "JPEGImages" / f"{name}.jpg", quality=JPEG_QUALITY)
        label = Image.fromarray(mask)
        label.putpalette(palette)
        label.save(voc_dir / "SegmentationClass" / f"{name}.png")
    (voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(root: str | Path) -> list[Path]:
    """Remove the ``.synthetic-<pid>-*`` folders under ``root`` whose generator process is gone.

    A killed :func:`make_synthetic` cannot clean up after itself; the folders of generators still
    running are left alone. Returns the removed folders.
    """
    removed = []
    for path in Path(root).glob(f"{_TEMPORARY_PREFIX}*"):
        pid_text = path.name[len(_TEMPORARY_PREFIX) :].split("-", 1)[0]
        if path.is_dir() and pid_text.isdigit() and not _process_alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def make_synthetic(
    root: str | Path = DEFAULT_SYNTHETIC_ROOT,
    *,
    seed: int = 0,
    num_train: int = 1000,
    num_val: int = 300,
    num_test: int = 300,
    image_size: tuple[int, int] = (64, 96),
) -> Path:
    """Generate the synthetic dataset under ``root`` (replacing an older generated one); returns ``root``.

    Args:
        root: dataset root; the files go to ``root/VOCdevkit/VOC2012``.
        seed: generator seed; sample ``i`` of split ``s`` uses ``default_rng([seed, s, i])``.
        num_train, num_val, num_test: number of images per split.
        image_size: (min_side, max_side); height and width are drawn independently in it.

    Raises:
        FileExistsError: ``root/VOCdevkit`` exists but was not written by this generator.
    """
    root = Path(root)
    params = _parameters(seed, num_train, num_val, num_test, image_size)
    final = root / "VOCdevkit"
    if final.exists() and not (_voc_dir(root) / METADATA_FILE).is_file():
        raise FileExistsError(
            f"{final} exists but has no {METADATA_FILE}: it is not a generated dataset, so it is left "
            f"alone; choose another root or remove that folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root)
    with tempfile.TemporaryDirectory(dir=root, prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-") as tmp:
        voc_dir = _voc_dir(Path(tmp))
        for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
            (voc_dir / sub).mkdir(parents=True)
        for split_id, split in enumerate(SYNTHETIC_SPLITS):
            _write_split(voc_dir, split_id, split, params[f"num_{split}"], params)
        info = SYNTHETIC_INFO
        metadata = {**params, "num_classes": info.num_classes, "classes": info.class_names}
        (voc_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if final.exists():
            os.replace(final, Path(tmp) / "previous")
        os.replace(Path(tmp) / "VOCdevkit", final)
    return root


def synthetic_is_complete(
    root: str | Path,
    *,
    seed: int = 0,
    num_train: int = 1000,
    num_val: int = 300,
    num_test: int = 300,
    image_size: tuple[int, int] = (64, 96),
) -> bool:
    """Whether ``root`` holds a complete dataset generated with exactly these parameters."""
    voc_dir = _voc_dir(Path(root))
    try:
        metadata = json.loads((voc_dir / METADATA_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    params = _parameters(seed, num_train, num_val, num_test, image_size)
    if any(metadata.get(key) != value for key, value in params.items()):
        return False
    total = num_train + num_val + num_test
    lists = voc_dir / "ImageSets" / "Segmentation"
    return (
        all((lists / f"{split}.txt").is_file() for split in SYNTHETIC_SPLITS)
        and sum(1 for _ in (voc_dir / "JPEGImages").glob("*.jpg")) == total
        and sum(1 for _ in (voc_dir / "SegmentationClass").glob("*.png")) == total
    )


def ensure_synthetic(
    root: str | Path = DEFAULT_SYNTHETIC_ROOT,
    *,
    seed: int = 0,
    num_train: int = 1000,
    num_val: int = 300,
    num_test: int = 300,
    image_size: tuple[int, int] = (64, 96),
) -> Path:
    """Generate the dataset only if ``root`` lacks a complete one with these parameters; returns ``root``."""
    kwargs: dict[str, Any] = dict(
        seed=seed, num_train=num_train, num_val=num_val, num_test=num_test, image_size=image_size
    )
    if not synthetic_is_complete(root, **kwargs):
        make_synthetic(root, **kwargs)
    return Path(root)


def build_synthetic(root: str | Path, split: str, transforms: Transforms | None = None) -> SegmentationFiles:
    """The generated dataset's ``split`` ("train", "val" or "test") under ``root``, read by the VOC reader."""
    if split not in SYNTHETIC_SPLITS:
        raise ValueError(f"synthetic: unknown split {split!r}; valid splits are {SYNTHETIC_SPLITS}")
    if not (_voc_dir(Path(root)) / METADATA_FILE).is_file():
        raise FileNotFoundError(
            f"synthetic: no generated dataset at {root} (missing VOCdevkit/VOC2012/{METADATA_FILE}); "
            f"create it with `python -m aicsd make-synthetic` or aicsd.data.ensure_synthetic(root)"
        )
    return build_voc(root, split, transforms, info=SYNTHETIC_INFO, splits=SYNTHETIC_SPLITS)


DEFAULT_PARAMETERS: dict[str, Any] = {
    name: parameter.default for name, parameter in inspect.signature(ensure_synthetic).parameters.items() if name != "root"
}
"""The parameters of :func:`ensure_synthetic` by default: the dataset training generates where none is."""


def generate_if_absent(root: str | Path) -> bool:
    """Generate the default dataset when ``root`` holds none (no ``VOCdevkit``); returns whether it did.

    An existing dataset is never replaced here, even an incomplete one: a missing split list or
    image is reported when the dataset is read, so nothing under ``VOCdevkit`` is deleted behind
    the user's back (:func:`make_synthetic` replaces a generated set when asked to). A set written
    by another generator version raises DataError saying how to replace it: its images differ
    from the ones this code generates, and the book's numbers are for this version.
    """
    root = Path(root)
    if (root / "VOCdevkit").exists():
        metadata_path = _voc_dir(root) / METADATA_FILE
        if metadata_path.is_file():
            try:
                version = json.loads(metadata_path.read_text()).get("generator_version")
            except ValueError:
                version = GENERATOR_VERSION  # unreadable metadata is reported when the dataset is read
            if version != GENERATOR_VERSION:
                raise DataError(
                    f"{root} holds a dataset of generator version {version}, this code generates version "
                    f"{GENERATOR_VERSION} (other images); replace it with `python -m aicsd make-synthetic --root {root}` "
                    f"or give another data root"
                )
        return False
    make_synthetic(root, **DEFAULT_PARAMETERS)
    return True


def generate_for_training(root: str | Path) -> bool:
    """Training's call before it reads the generated dataset at ``root``: :func:`generate_if_absent`
    at the default root (:data:`DEFAULT_SYNTHETIC_ROOT`, generated on first use); anywhere else a
    folder without a dataset is a FileNotFoundError saying how to generate one there (a mistyped
    ``--data-root`` is reported, never filled with 13 MB of generated images). Returns whether it generated."""
    root = Path(root)
    if not (root / "VOCdevkit").exists() and root.resolve() != DEFAULT_SYNTHETIC_ROOT.resolve():
        raise FileNotFoundError(
            f"synthetic: no generated dataset at {root}; generate it there with "
            f"`python -m aicsd make-synthetic --root {root}`, or leave --data-root out to use {DEFAULT_SYNTHETIC_ROOT} "
            "(generated on first use)"
        )
    return generate_if_absent(root)


def synthetic_description(root: str | Path, splits: tuple[str, ...]) -> dict[str, Any]:
    """What identifies the generated dataset under ``root``: generator parameters and split image names.

    Read from ``SYNTHETIC.json`` and the split lists; when ``root`` holds no dataset yet, those of
    the default dataset that training generates there (:func:`generate_if_absent`), so a run's
    identity is the same before and after generation. Raises FileNotFoundError naming a missing
    metadata file or split list, CorruptFileError for unreadable metadata.
    """
    root = Path(root)
    keys = ("generator_version", "seed", "num_train", "num_val", "num_test", "image_size")
    if not (root / "VOCdevkit").exists():
        defaults = DEFAULT_PARAMETERS
        params = _parameters(**{k: defaults[k] for k in ("seed", "num_train", "num_val", "num_test", "image_size")})
        return {"generator": params, "splits": {split: split_names(split, params[f"num_{split}"]) for split in splits}}
    voc_dir = _voc_dir(root)
    metadata_path = voc_dir / METADATA_FILE
    if not metadata_path.is_file():
        raise FileNotFoundError(
            f"synthetic: no generated dataset at {root} (missing {metadata_path}); create it with "
            f"`python -m aicsd make-synthetic --root {root}`"
        )
    try:
        metadata = json.loads(metadata_path.read_text())
        params = {key: metadata[key] for key in keys}
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptFileError(
            metadata_path,
            f"{metadata_path} is not readable generator metadata ({type(error).__name__}: {error}); "
            f"regenerate the dataset with `python -m aicsd make-synthetic --root {root}`",
        ) from None
    names = {}
    for split in splits:
        path = voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not path.is_file():
            raise FileNotFoundError(
                f"synthetic: split list {path} is missing; regenerate the dataset with "
                f"`python -m aicsd make-synthetic --root {root} --seed {params['seed']}` (other counts: --num-train, --num-val)"
            )
        names[split] = path.read_text().split()
    return {"generator": params, "splits": names}
