"""The run store: one API for a run's folder, ``<output_dir>/<kind>-<method>-<backbone>-<hash12>/``.

A run folder holds

- ``config.json``: the :class:`~aicsd.engine.config.RunConfig` fields (the resolved distillation
  with its effective weights included), written when the run starts;
- ``metrics.jsonl``: one JSON line per epoch (mean loss terms, lr, alpha, val metrics, wall time);
- ``checkpoint.pt``: the latest epoch's training state, replaced atomically every epoch;
- ``result.json``: written atomically at the end. Its presence marks the run as finished.

Everything that reads a run goes through this module: the trainer, ``python -m aicsd runs`` and
``evaluate``, :mod:`aicsd.results` and the book.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json, load_checkpoint
from aicsd.engine.config import RunConfig
from aicsd.engine.distributed import DistContext, resolve_device
from aicsd.engine.identity import run_id
from aicsd.engine.loaders import build_eval_dataset, take_first
from aicsd.engine.loops import evaluate, select_precision
from aicsd.engine.networks import build_student
from aicsd.data.transforms import pad_collate
from aicsd.losses import MethodConfig
from aicsd.paths import REPO_ROOT

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "RESULT",
    "append_metrics",
    "environment_info",
    "evaluate_run",
    "finished_runs",
    "load_network",
    "read_config",
    "read_metrics",
    "read_result",
    "run_dir",
    "truncate_metrics",
    "write_config",
    "write_result",
]

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"

_PACKAGES = ("torch", "torchvision", "numpy", "pandas", "pillow", "torchmetrics")

Run = RunConfig | str | Path


def run_dir(run: Run) -> Path:
    """Folder of a run: ``run`` is its config (the folder need not exist yet) or the folder itself."""
    return Path(run.output_dir) / run_id(run) if isinstance(run, RunConfig) else Path(run)


def write_config(directory: Path, cfg: RunConfig) -> None:
    """Write ``config.json`` (all fields, including the execution-only ones)."""
    atomic_write_json(directory / CONFIG, dataclasses.asdict(cfg))


def read_config(run: Run) -> RunConfig:
    """The :class:`RunConfig` stored in the run's ``config.json``."""
    path = run_dir(run) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {path.parent} is not a run directory")
    fields = json.loads(path.read_text())
    fields["scale_range"] = tuple(fields["scale_range"])
    fields["distillation"] = MethodConfig.from_dict(fields["distillation"])
    return RunConfig(**fields)


def append_metrics(directory: Path, record: dict[str, Any]) -> None:
    """Append one epoch's ``record`` as a JSON line to ``metrics.jsonl`` (flushed and fsync'ed)."""
    with open(directory / METRICS, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_metrics(run: Run) -> list[dict[str, Any]]:
    """All epoch records of ``metrics.jsonl`` (empty when the file does not exist)."""
    path = run_dir(run) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_metrics(directory: Path, epochs_done: int) -> None:
    """Keep only the records of epochs ``< epochs_done`` (used when resuming from a checkpoint)."""
    kept = [record for record in read_metrics(directory) if record["epoch"] < epochs_done]
    text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in kept)
    atomic_write_bytes(directory / METRICS, text.encode())


def read_result(run: Run) -> dict[str, Any] | None:
    """The finished run's ``result.json``, or ``None`` when the run has not finished."""
    path = run_dir(run) / RESULT
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def write_result(directory: Path, result: dict[str, Any]) -> None:
    """Write ``result.json`` atomically (marks the run finished)."""
    atomic_write_json(directory / RESULT, result)


def finished_runs(root: str | Path) -> list[Path]:
    """The folders of ``root`` holding a finished run, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"run store {root} does not exist; train some runs first (python -m aicsd ...)")
    return sorted(path.parent for path in root.glob(f"*/{RESULT}"))


def load_network(run: Run, device: str | torch.device = "cpu") -> nn.Module:
    """The trained network of a run (its latest checkpoint), in eval mode on ``device``.

    Raises FileNotFoundError naming the checkpoint when the run has none yet.
    """
    directory = run_dir(run)
    checkpoint = directory / CHECKPOINT
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint at {checkpoint}: train the run first")
    cfg = read_config(directory)
    model = build_student(cfg, pretrained=False)
    model.load_state_dict(load_checkpoint(checkpoint)["model"])
    return model.eval().to(device)


def evaluate_run(
    run: Run,
    *,
    split: str | None = None,
    eval_mode: str | None = None,
    eval_size: int | None = None,
    device: str = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate the weights of a run on a split, possibly under another eval protocol.

    Args:
        run: a run directory (with ``config.json`` and ``checkpoint.pt``) or the run's config.
        split: dataset split (default: the run's ``val_split``).
        eval_mode: ``"released"`` (shorter side resized to ``eval_size``) or ``"full"`` (original
            resolution); default: the run's.
        eval_size: default: the run's.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...

    Returns:
        :meth:`aicsd.metrics.SegmentationMetrics.compute`'s dict plus ``run_id``, ``split``,
        ``eval_mode``, ``eval_size`` and ``epoch`` (of the checkpoint).
    """
    directory = run_dir(run)
    cfg = read_config(directory)
    state = load_checkpoint(directory / CHECKPOINT)
    split = split or cfg.val_split
    cfg = dataclasses.replace(cfg, eval_mode=eval_mode or cfg.eval_mode, eval_size=eval_size or cfg.eval_size)
    device_ = resolve_device(device, DistContext())
    model = build_student(cfg, pretrained=False)
    model.load_state_dict(state["model"])
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
        "eval_size": cfg.eval_size,
        "epoch": state["epoch"],
    }


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def environment_info() -> dict[str, Any]:
    """Git commit (and whether the tree had uncommitted changes), Python and package versions."""
    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    status = _git("status", "--porcelain")
    return {
        "git_commit": _git("rev-parse", "HEAD") or None,
        "git_dirty": bool(status) if status is not None else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }
