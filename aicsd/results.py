"""Finished runs as a table: one row per run, mean ± std over seeds.

:func:`run_row` is the one reader of a finished run for tables: ``python -m aicsd runs``,
``make results-table`` and the book all go through it, so they report the same numbers. The
unprefixed metric columns (``miou``, ``pixel_accuracy``, ``mean_class_accuracy``, ``fwiou``) are
the *reported* ones: the final weights on the held-out ``test`` split when the run has one, else
the final validation metrics, as the paper reports VOC and Cityscapes val; ``split`` names which.
``val_*`` and ``test_*`` hold both, ``best_val_*`` the best epoch by val mIoU (never reported:
picking it would tune on the validation set).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from aicsd.engine import runstore

__all__ = ["format_mean_std", "load_runs", "mean_std_text", "reported_metrics", "run_row", "summarise"]

_SCALARS = ("epochs_done", "wall_time_s", "train_images_per_s", "device", "world_size", "params_m")


def _metrics(prefix: str, metrics: dict[str, Any] | None) -> dict[str, Any]:
    if metrics is None:
        return {}
    return {f"{prefix}{name}": value for name, value in metrics.items() if name not in ("split", "per_class_iou")}


def reported_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The metrics a table reports from a ``result.json``: the final weights on the held-out
    ``test`` split when the run has one, else the final validation metrics."""
    return result["test"] if result.get("test") is not None else result["final"]


def run_row(run: runstore.Run) -> dict[str, Any]:
    """One finished run as a flat row: config fields, reported/val/test metrics, timing, commit.

    Raises FileNotFoundError naming the run when it has not finished.
    """
    directory = runstore.run_dir(run)
    result = runstore.read_result(directory)
    if result is None:
        raise FileNotFoundError(f"run {directory} has not finished (no {runstore.RESULT}); train it first")
    cfg = runstore.read_config(directory)
    row: dict[str, Any] = {"run_id": directory.name, "run_dir": str(directory)}
    row.update({f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "distillation"})
    row["method"] = cfg.method
    row["distillation"] = cfg.distillation.describe()
    row["alw"] = cfg.distillation.alw
    row.update({f"{term.name}_weight": term.weight for term in cfg.distillation.terms})
    test = result.get("test")
    reported = reported_metrics(result)
    row["split"] = test["split"] if test is not None else cfg.val_split
    row.update(_metrics("", reported))
    row.update(_metrics("val_", result["final"]))
    row.update(_metrics("test_", test))
    row.update(_metrics("best_val_", result["best"]))
    row["per_class_iou"] = reported.get("per_class_iou")
    row.update({name: result.get(name) for name in _SCALARS})
    row["git_commit"] = result.get("environment", {}).get("git_commit")
    return row


def load_runs(root: str | Path) -> pd.DataFrame:
    """One :func:`run_row` per finished run of the run store ``root`` (unfinished runs skipped)."""
    return pd.DataFrame([run_row(directory) for directory in runstore.finished_runs(root)])


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
