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
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import numpy as np

from aicsd.data import dataset_info
from aicsd.engine import runstore
from aicsd.engine.config import RunConfig
from aicsd.engine.identity import EXECUTION_FIELDS

__all__ = [
    "RESULT_FIELDS",
    "evaluation_rows",
    "evaluations_per_class",
    "evaluations_table",
    "format_mean_std",
    "load_evaluations",
    "load_runs",
    "mean_std_text",
    "mean_where_present",
    "per_class_table",
    "recipe",
    "reported_metrics",
    "run_row",
    "runs_table",
    "summarise",
    "varying_fields",
]

RESULT_FIELDS = tuple(name for name in RunConfig.__dataclass_fields__ if name not in EXECUTION_FIELDS | {"seed"})
"""The config fields that change a run's numbers, seed aside: runs that agree on all of them (the
same :func:`recipe`) differ only by seed, and only such runs are pooled into a mean ± std."""

_SCALARS = ("epochs_done", "wall_time_s", "train_images_per_s", "device", "world_size", "params_m")


def _metrics(prefix: str, metrics: dict[str, Any] | None) -> dict[str, Any]:
    if metrics is None:
        return {}
    return {f"{prefix}{name}": value for name, value in metrics.items() if name not in ("split", "per_class_iou")}


def reported_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The metrics a table reports from a ``result.json``: the final weights on the held-out
    ``test`` split when the run has one, else the final validation metrics."""
    return result["test"] if result.get("test") is not None else result["final"]


def run_row(run: runstore.Run, *, test: bool = True) -> dict[str, Any]:
    """One finished run as a flat row: config fields, reported/val/test metrics, timing, commit.

    ``test=False`` reads the run as if it had no test split (its reported metrics are then the
    final val ones), for runs whose use is a choice on ``val``. Raises FileNotFoundError naming the
    run when it has not finished.
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
    test = result.get("test") if test else None
    reported = reported_metrics({**result, "test": test})
    row["split"] = test["split"] if test is not None else cfg.val_split
    row.update(_metrics("", reported))
    row.update(_metrics("val_", result["final"]))
    row.update(_metrics("test_", test))
    row.update(_metrics("best_val_", result["best"]))
    row["per_class_iou"] = reported.get("per_class_iou")
    row["val_per_class_iou"] = result["final"].get("per_class_iou")
    row["test_per_class_iou"] = None if test is None else test.get("per_class_iou")
    row["recipe"] = recipe(cfg, (runstore.read_run_data(directory) or {}).get("fingerprint"))
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


def recipe(cfg: RunConfig, data: str | None = None) -> str:
    """12 hex digits naming everything that changes a run's numbers but its seed: its
    :data:`RESULT_FIELDS` (the teacher run by its id) and ``data``, the fingerprint of the data it
    used as its ``config.json`` records it. Runs of one recipe are seeds of one experiment. Computed
    from the records alone: the data need not be on disk."""
    fields = {name: value for name, value in dataclasses.asdict(cfg).items() if name in RESULT_FIELDS}
    if fields["teacher_run"] is not None:
        fields["teacher_run"] = Path(fields["teacher_run"]).name
    text = json.dumps({**fields, "data": data}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def varying_fields(df: pd.DataFrame, by: Sequence[str]) -> list[str]:
    """The :data:`RESULT_FIELDS` (not in ``by``) whose value differs between runs that agree on ``by``,
    in config order. Raises ValueError naming the columns of ``by`` that ``df`` lacks."""
    by = list(by)
    missing = [name for name in by if name not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the runs table; available: {', '.join(map(str, df.columns))}")
    columns = [name for name in RESULT_FIELDS if name in df.columns and name not in by]
    if df.empty or not columns:
        return []
    keyed = df[by + columns].map(_hashable)
    counts = keyed.groupby(by, dropna=False, sort=False)[columns].nunique(dropna=False)
    return [name for name in columns if (counts[name] > 1).any()]


_RATES = ("miou", "pixel_accuracy", "mean_class_accuracy", "fwiou")
_EVALUATION_KEYS = ["split", "eval_mode", "eval_size", "label_sizes", "data_fingerprint", "data_root"]


def _split_names(df: pd.DataFrame, column: str) -> str:
    names = sorted({str(name) for name in df[column].dropna()}) if column in df.columns else []
    return "/".join(names) or "none"


def _keyed(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``df`` with list values of ``keys`` turned into tuples, so that they can be grouped on."""
    return df.assign(**{key: df[key].map(_hashable) for key in keys})


def _summary_column(df: pd.DataFrame, keys: list[str], column: str) -> tuple[pd.Series, pd.Series]:
    """``"mean ± std"`` texts (percent for rates, ``-`` where no run has a value) and counts."""
    summary = summarise(_keyed(df, keys), keys, column)
    scale = 100.0 if column.endswith(_RATES) else 1.0
    return format_mean_std(summary, scale=scale).where(summary["n"] > 0, "-"), summary["n"]


def runs_table(df: pd.DataFrame, by: Sequence[str], metric: str = "miou") -> pd.DataFrame:
    """The finished runs of :func:`load_runs` grouped by ``by``, by every result-changing field that
    differs inside those groups (:func:`varying_fields`) and by :func:`recipe`, so that only seeds
    of one recipe are pooled; mean ± std over each group's runs and ``n`` (runs).

    A split metric (``miou``, ``pixel_accuracy``, ``mean_class_accuracy``, ``fwiou``) gives two
    columns, the final weights on the validation split and on the held-out test split, each headed
    with its split's name (``val miou (%) [split val]``, ``test miou (%) [split test]``; ``-``
    where a run has no test split). Any other column of :func:`run_row` (``val_miou``,
    ``best_val_miou``, ``miou`` = reported split, ``wall_time_s``...) is shown alone. Rates in percent.
    """
    keys = [*by, *varying_fields(df, by), "recipe"]
    if metric in _RATES:
        columns = {
            f"val {metric} (%) [split {_split_names(df, 'val_split')}]": f"val_{metric}",
            f"test {metric} (%) [split {_split_names(df, 'test_split')}]": f"test_{metric}",
        }
    else:
        columns = {f"{metric} (%)" if metric.endswith(_RATES) else metric: metric}
    missing = [column for column in columns.values() if column not in df.columns and not column.startswith("test_")]
    if missing:
        raise ValueError(f"columns {missing} not in the runs table; available: {', '.join(map(str, df.columns))}")
    table = {}
    for header, column in columns.items():
        table[header] = _summary_column(df if column in df.columns else df.assign(**{column: np.nan}), keys, column)[0]
    return pd.DataFrame(table).assign(n=_summary_column(df.assign(runs=1.0), keys, "runs")[1])


def evaluation_rows(run: runstore.Run) -> list[dict[str, Any]]:
    """The stored evaluations of a finished run (:func:`aicsd.engine.evaluation.record_evaluation`),
    each a row of the run's config fields, ``recipe`` and ``run_id`` with the evaluation's values
    (split, protocol, data root and fingerprint, label sizes, metrics) over them; ``per_class_iou``
    is a list in the dataset's class order, as in :func:`run_row`."""
    evaluations = runstore.read_evaluations(run)
    if not evaluations:
        return []
    row = run_row(run)
    base = {name: row[name] for name in ("run_id", "run_dir", "recipe", "method", "distillation", *RunConfig.__dataclass_fields__) if name in row}
    names = dataset_info(row["dataset"]).class_names
    return [{**base, **record, "per_class_iou": [record["per_class_iou"][name] for name in names]} for record in evaluations]


def load_evaluations(root: str | Path) -> pd.DataFrame:
    """One :func:`evaluation_rows` row per stored evaluation of the finished runs of ``root``."""
    return pd.DataFrame([row for directory in runstore.finished_runs(root) for row in evaluation_rows(directory)])


def evaluations_table(df: pd.DataFrame, by: Sequence[str], metric: str = "miou") -> pd.DataFrame:
    """Stored evaluations (:func:`load_evaluations`) grouped like :func:`runs_table`, then by split,
    protocol, eval size, scored label sizes, data fingerprint and data folder: mean ± std and ``n``."""
    keys = [*by, *varying_fields(df, [*by, *_EVALUATION_KEYS]), "recipe", *_EVALUATION_KEYS]
    texts, n = _summary_column(_named_sizes(df), keys, metric)
    return pd.DataFrame({f"{metric} (%)" if metric.endswith(_RATES) else metric: texts, "n": n})


def _named_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``eval_size`` as text: the shorter side, or ``native`` for full-resolution evaluations."""
    return df.assign(eval_size=df["eval_size"].map(lambda size: "native" if pd.isna(size) else str(int(size))))


def evaluations_per_class(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """:func:`per_class_table` of stored evaluations (one dataset): columns named by ``by``, split,
    protocol, eval size and data fingerprint, and the recipe."""
    return per_class_table(_named_sizes(df), [*by, "split", "eval_mode", "eval_size", "data_fingerprint"], "per_class_iou")


def mean_where_present(values: np.ndarray) -> np.ndarray:
    """Per-class values of several runs, (runs, C) with NaN where a class is absent from a run's
    split -> (C,): each class's mean over the runs where it is present, NaN where absent from all."""
    present = (~np.isnan(values)).sum(axis=0)
    return np.divide(np.nansum(values, axis=0), present, out=np.full(values.shape[1], np.nan), where=present > 0)


def per_class_table(df: pd.DataFrame, by: Sequence[str], column: str = "val_per_class_iou") -> pd.DataFrame:
    """Per-class IoU (%) with class names (rows) for each group of :func:`runs_table` (columns,
    named by the ``by`` values joined with ``/`` and the recipe): the mean over the group's runs, a class absent from a
    run's split left out (NaN where absent from all).

    ``column``: ``val_per_class_iou``, ``test_per_class_iou`` or ``per_class_iou`` (the reported
    split). Raises ValueError when the runs span datasets (their classes differ): select one.
    """
    datasets = sorted(df["dataset"].unique())
    if len(datasets) != 1:
        raise ValueError(f"per-class IoU needs runs of one dataset, got {datasets}")
    keys = [*by, *varying_fields(df, by), "recipe"]
    present = df[df[column].notna()]
    columns = {}
    for key, group in _keyed(present, keys).groupby(keys, dropna=False):
        means = mean_where_present(np.array(group[column].tolist(), dtype=float))
        named = dict(zip(keys, key, strict=True))
        columns["/".join(str(named[name]) for name in by) + f" {named['recipe']}"] = 100 * means
    return pd.DataFrame(columns, index=pd.Index(dataset_info(datasets[0]).class_names, name="class"))
