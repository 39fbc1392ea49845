"""Finished runs as a table: one row per run, mean +- std over seeds.

Each row joins a run's ``config.json`` fields with its ``result.json`` metrics. The unprefixed
metric columns (``miou``, ``pixel_accuracy``, ``mean_class_accuracy``, ``fwiou``,
``per_class_iou``) are those of the **final** epoch, which is what the book's tables use (picking
the best epoch would tune on the validation set); the best epoch's are kept as ``best_*``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["format_mean_std", "load_runs", "mean_std_text", "summarise"]

_SCALARS = ("epochs_done", "wall_time_s", "train_images_per_s", "device", "world_size", "params_m")


def _row(directory: Path) -> dict[str, Any]:
    config = json.loads((directory / "config.json").read_text())
    result = json.loads((directory / "result.json").read_text())
    row: dict[str, Any] = {"run_id": directory.name, "run_dir": str(directory), **config}
    row.update(result["final"])
    row.update({f"best_{name}": value for name, value in result["best"].items()})
    row.update({name: result.get(name) for name in _SCALARS})
    row["git_commit"] = result.get("environment", {}).get("git_commit")
    return row


def load_runs(root: str | Path = "runs") -> pd.DataFrame:
    """One row per finished run (a directory of ``root`` holding ``result.json``).

    Columns: ``run_id``, ``run_dir``, every config field, the final metrics, ``best_*`` (best epoch
    by val mIoU, with ``best_epoch``), ``epochs_done``, ``wall_time_s``, ``train_images_per_s``,
    ``device``, ``world_size``, ``params_m`` and ``git_commit``. Unfinished runs are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"run store {root} does not exist; train some runs first (python -m aicsd ...)")
    rows = [_row(path.parent) for path in sorted(root.glob("*/result.json"))]
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, by: Sequence[str], metric: str = "miou", *, sort: bool = True) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof 1; NaN for one run) and count of ``metric`` per group.

    Returns a frame indexed by ``by`` with columns ``mean``, ``std``, ``n``; groups sorted by key, or
    in order of first appearance with ``sort=False``.
    """
    by = list(by)
    missing = [name for name in [*by, metric] if name not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the runs table; available: {', '.join(map(str, df.columns))}")
    grouped = df.groupby(by, dropna=False, sort=sort)[metric]
    return pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1), "n": grouped.count()})


def mean_std_text(mean: float, std: float, digits: int = 2) -> str:
    """``"mean ± std"``, or ``"mean"`` alone when std is NaN (a single run)."""
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_mean_std(summary: pd.DataFrame, scale: float = 100.0, digits: int = 2) -> pd.Series:
    """``"mean ± std"`` strings of a :func:`summarise` frame, values times ``scale`` (percent)."""
    return summary.apply(lambda row: mean_std_text(row["mean"] * scale, row["std"] * scale, digits), axis=1)
