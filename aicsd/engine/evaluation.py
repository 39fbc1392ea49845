"""Evaluating a run: its network rebuilt from the checkpoint, scored on a split, the score stored.

:func:`load_network` gives a run's trained network; :func:`evaluate_run` scores it on any split,
eval protocol or data root; :func:`record_evaluation` stores that score in the run folder
(``evaluations/``, read back by :func:`aicsd.engine.runstore.read_evaluations`). The run's files
are read through :mod:`aicsd.engine.runstore`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from aicsd.data import build_dataset, dataset_info
from aicsd.data.identity import dataset_fingerprint
from aicsd.data.transforms import eval_size_of, pad_collate
from aicsd.engine.checkpoint import atomic_write_json, evaluated_weights
from aicsd.engine.distributed import DistContext, resolve_device
from aicsd.engine.loaders import build_eval_dataset, take_first
from aicsd.engine.loops import evaluate, select_precision
from aicsd.engine.networks import build_student
from aicsd.engine.runstore import EVALUATIONS, Run, evaluation_name, read_checkpoint, read_config, run_dir

__all__ = ["evaluate_run", "load_network", "record_evaluation"]


def load_network(run: Run, device: str | torch.device = "cpu") -> nn.Module:
    """The trained network of a run (its latest checkpoint), in eval mode on ``device``.

    Raises FileNotFoundError naming the checkpoint when the run has none yet.
    """
    directory = run_dir(run)
    state = read_checkpoint(directory)
    cfg = read_config(directory)
    model = build_student(cfg, pretrained=False)
    model.load_state_dict(evaluated_weights(state))
    return model.eval().to(device)


def evaluate_run(
    run: Run,
    *,
    split: str | None = None,
    eval_mode: str | None = None,
    eval_size: int | None = None,
    data_root: str | Path | None = None,
    device: str = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate the weights of a run on a split, possibly under another eval protocol or data root.

    Args:
        run: a run directory (with ``config.json`` and ``checkpoint.pt``) or the run's config.
        split: dataset split (default: the run's ``val_split``).
        eval_mode: ``"released"`` (shorter side resized to ``eval_size``) or ``"full"`` (original
            resolution); default: the run's.
        eval_size: default: the run's; ignored (and returned as None) in ``"full"`` mode.
        data_root: a dataset folder of the same layout (default: the run's ``data_root``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...

    Returns:
        :meth:`aicsd.metrics.SegmentationMetrics.compute`'s dict plus ``run_id``, ``split``,
        ``eval_mode``, ``eval_size``, ``data_root``, ``images`` (scored) and ``epoch`` (of the
        checkpoint). :func:`record_evaluation` also names the label resolution and stores the result.
    """
    directory = run_dir(run)
    cfg = read_config(directory)
    state = read_checkpoint(directory)
    split = cfg.val_split if split is None else split
    cfg = dataclasses.replace(  # validates the protocol: eval_size 0 or -5 is refused, never replaced by the run's
        cfg,
        eval_mode=cfg.eval_mode if eval_mode is None else eval_mode,
        eval_size=cfg.eval_size if eval_size is None else eval_size,
        data_root=str(cfg.data_root if data_root is None else data_root),
    )
    device_ = resolve_device(device, DistContext())
    model = build_student(cfg, pretrained=False)
    model.load_state_dict(evaluated_weights(state))
    loader = DataLoader(
        take_first(build_eval_dataset(cfg, split), cfg.val_limit if split == cfg.val_split else None),
        batch_size=cfg.eval_batch_size,
        collate_fn=pad_collate,
        num_workers=cfg.num_workers,
    )
    precision = select_precision(device_, amp=cfg.amp, channels_last=cfg.channels_last)
    previous_threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        metrics = evaluate(model.to(device_), loader, cfg.num_classes, device_, precision=precision, progress=progress)
    finally:
        torch.set_num_threads(previous_threads)
    return {
        **metrics,
        "run_id": directory.name,
        "split": split,
        "eval_mode": cfg.eval_mode,
        "eval_size": cfg.eval_size if cfg.eval_mode == "released" else None,
        "data_root": cfg.data_root,
        "images": len(loader.dataset),
        "epoch": state["epoch"],
    }


def _label_sizes(samples: Sequence[tuple[Path, Path]], eval_mode: str, eval_size: int) -> str:
    """The sizes at which the labels of ``samples`` are scored, read from the image headers:
    ``"192x256"``, a few listed, or ``"64-96 x 64-96 (273 sizes)"`` (heights x widths)."""
    sizes = set()
    for image, _ in samples:
        with Image.open(image) as opened:
            width, height = opened.size
        sizes.add(eval_size_of(height, width, eval_mode, eval_size))
    if len(sizes) <= 3:
        return ", ".join(f"{height}x{width}" for height, width in sorted(sizes))
    heights, widths = zip(*sizes, strict=True)
    return f"{min(heights)}-{max(heights)} x {min(widths)}-{max(widths)} ({len(sizes)} sizes)"


def record_evaluation(
    run: Run,
    *,
    split: str | None = None,
    eval_mode: str | None = None,
    eval_size: int | None = None,
    data_root: str | Path | None = None,
    device: str = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """:func:`evaluate_run`, stored in the run folder as ``evaluations/`` + :func:`evaluation_name`.

    The file is written atomically; evaluating again under the same protocol on the same files
    replaces it. The record holds :func:`evaluate_run`'s values with ``per_class_iou`` keyed by
    class name, and ``dataset``, ``data_root`` (absolute), ``data_fingerprint`` (the split's, 12 hex
    digits of :func:`aicsd.data.identity.dataset_fingerprint`: the same files under another folder
    give the same one), ``label_sizes`` (the sizes the labels were
    scored at, ``"HxW"``), ``labels`` (that resolution in words: ``released`` scores labels resized with
    the images, ``full`` the original ones) and ``evaluated_at``; the returned dict adds ``path``.
    Raises ValueError for a split the dataset does not have, FileNotFoundError for missing files.
    """
    directory = run_dir(run)
    cfg = read_config(directory)
    root = Path(cfg.data_root if data_root is None else data_root).resolve()
    metrics = evaluate_run(
        directory, split=split, eval_mode=eval_mode, eval_size=eval_size, data_root=root, device=device, progress=progress
    )
    samples = build_dataset(cfg.dataset, root, metrics["split"]).samples[: metrics["images"]]
    fingerprint = dataset_fingerprint(cfg.dataset, root, (metrics["split"],)).digest[:12]
    sizes = _label_sizes(samples, metrics["eval_mode"], metrics["eval_size"] or cfg.eval_size)
    if metrics["eval_mode"] == "released":
        labels = f"labels resized with the images to shorter side {metrics['eval_size']} (nearest): {sizes}"
    else:
        labels = f"labels at their original resolution: {sizes}"
    names = dataset_info(cfg.dataset).class_names
    record = {
        **metrics,
        "per_class_iou": dict(zip(names, metrics["per_class_iou"], strict=True)),
        "dataset": cfg.dataset,
        "data_root": str(root),
        "data_fingerprint": fingerprint,
        "label_sizes": sizes,
        "labels": labels,
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = directory / EVALUATIONS / evaluation_name(record)
    atomic_write_json(path, record)
    return {**record, "path": str(path)}
