"""The reproduction's summary record, so that a run on another machine can be compared cell by cell,
and a book built without the data can still show its results.

    python -m aicsd.study.record --profile cpu [--dataset synthetic] [--data-root R] [--timings book/_executed/timings.json]

writes ``benchmarks/results/summary-<name>.json`` (:func:`aicsd.study.record_files.summary_file`; the name is
:func:`aicsd.study.record_files.record_name`: ``<profile>``, or ``<profile>-<dataset>`` for a dataset other than the
generated one; ``make reproduce`` writes the same record to ``book/_executed/summary.json`` and
compares it with the committed one, :mod:`aicsd.study.compare`). When the dataset's ``val`` split is
on disk it also writes, beside the record, the qualitative grid ``qualitative-<name>.png``
(:func:`aicsd.study.record_files.qualitative_file`) and its sidecar ``qualitative-<name>.json``
(:mod:`aicsd.study.qualitative`); without the data it says that it skipped them.
Every mIoU, IoU, pixel accuracy and gain in the record is in percent (points for gains), as ``units`` says:

- ``design_digest``: :func:`design_digest`, equal for two reproductions of the same design;
- ``provenance``: :func:`aicsd.study.provenance.provenance` (commit, CPU and its capability level,
  package versions, the data's fingerprint and content digest);
- ``teacher``: the teacher's reported metrics;
- ``cells``: per table cell (group, row, student) the per-seed values, mean, std, n and seeds of
  the reported mIoU, and the mean val mIoU;
- ``sweep``: the cells of the weight-sweep rows the reproduction trained
  (:func:`aicsd.study.experiments.reproduced_sweep`: student, row, seeds, val mIoU per seed), on
  tuning seeds that no table cell uses;
- ``weights``: the distillation weights the tables trained with (student -> method -> settings), and
  ``weights_committed``: whether they are the committed ones (:mod:`aicsd.study.committed_weights`)
  rather than this reproduction's own sweep's choice;
- ``class_names``: the dataset's C classes (:func:`aicsd.data.dataset_info`), the order of every
  per-class list;
- ``per_class``: :func:`per_class`, the IoU per class of the teacher and of each main-table cell,
  per seed and the mean over seeds, on the reported split;
- ``curves``: :func:`curves`, the per-epoch train loss, train cross entropy and val mIoU of the
  teacher and of each main-table cell (mean over seeds), from the runs' ``metrics.jsonl``;
- ``claims``: the ledger's family (Holm-adjusted p-values and the verdicts taken from them);
  ``mechanism_claims``: the ICS-distance claim, tested alone;
- the wall time of ``make reproduce`` per notebook and in all.

It reads only finished runs (FileNotFoundError naming the first missing one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aicsd.data import dataset_info
from aicsd.engine import RunConfig, read_metrics, read_result, run_dir, run_id, seeds_of
from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json
from aicsd.engine.runstore import Run
from aicsd.paths import BENCHMARK_RESULTS, COMPARISON_DATA, COMPARISON_PAGE, EXECUTED, REFERENCE, SUMMARY_FILE, TIMINGS_FILE
from aicsd.results import mean_where_present, reported_metrics
from aicsd.study import experiments, qualitative
from aicsd.study.ledger import book_ledger
from aicsd.study.provenance import provenance
from aicsd.study.record_files import qualitative_file, record_name, summary_file, teacher_edge_file

__all__ = [
    "CLAIM_POINT_COLUMNS",
    "CLAIMS_DISTANCE_IMAGES",
    "CURVE_KEYS",
    "UNITS",
    "cells",
    "curves",
    "design_digest",
    "main",
    "mean_curve",
    "per_class",
    "qualitative_file",
    "record_name",
    "reproduction_summary",
    "summary_file",
    "sweep_cells",
    "teacher_edge_file",
]

UNITS = "mIoU, IoU and pixel accuracy in percent, gains and intervals in percentage points (the ICS distance and losses in their own units)"
CLAIMS_DISTANCE_IMAGES = 16
"""Images of the reported split on which the mechanism claim's ICS distance is measured (the
claims chapter's default)."""
CLAIM_POINT_COLUMNS = ("gain", "ci_low", "ci_high", "detectable_gain")
"""The ledger columns stored in percentage points for an mIoU claim (fractions in the ledger itself)."""


def design_digest(profile: str, dataset: str = "synthetic", data_root: str | None = None) -> str:
    """Hex SHA-256 over the sorted run ids of what the book's design trains before any result is
    known: the teacher, the sweep rows it trains (:func:`aicsd.study.experiments.reproduced_sweep`),
    and the main table and ablations at the committed weights (the default weights where it chooses
    its own). Run ids hash every recipe field and the data's fingerprint, never the machine, so two
    reproductions of the same commit's design on the same data share this digest, whatever their
    results (the weights a reproduction's own sweep then chooses are results, and are left out)."""
    place = {"dataset": dataset, "data_root": data_root}
    committed = experiments.committed_record(profile, dataset)
    weights = {} if committed is None else committed["weights"]
    runs = [experiments.teacher_run(profile, **place)]
    runs += [
        r.config
        for r in experiments.reproduced_sweep(profile, **place)
        + experiments.main_table(profile, **place, weights=weights)
        + experiments.ablations(profile, **place, weights=weights)
    ]
    ids = sorted({run_id(config) for config in runs})
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def cells(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """Per (group, label, backbone): per-seed values, mean, std (ddof 1), n and seeds of the reported
    mIoU, the per-seed reported pixel accuracy and the mean val mIoU, in %."""
    out = []
    for (group, label, backbone), part in runs.groupby(["group", "label", "backbone"], sort=False):
        part = part.sort_values("seed")
        out.append(
            {
                "group": group,
                "label": label,
                "backbone": backbone,
                "split": part["split"].iloc[0],
                "values": [100 * float(v) for v in part["miou"]],
                "pixel_accuracy_values": [100 * float(v) for v in part["pixel_accuracy"]],
                "miou_mean": 100 * float(part["miou"].mean()),
                "miou_std": 100 * float(part["miou"].std(ddof=1)) if len(part) > 1 else None,
                "val_miou_mean": 100 * float(part["val_miou"].mean()),
                "n": int(len(part)),
                "seeds": [int(seed) for seed in part["seed"]],
            }
        )
    return out


def sweep_cells(sweep: pd.DataFrame) -> list[dict[str, Any]]:
    """The weight sweep's cells (collected on val): student, row label, seeds and val mIoU per seed (%)."""
    return [
        {
            "backbone": backbone,
            "label": label,
            "seeds": [int(seed) for seed in part.sort_values("seed")["seed"]],
            "val_values": [100 * float(v) for v in part.sort_values("seed")["val_miou"]],
        }
        for (backbone, label), part in sweep.groupby(["backbone", "label"], sort=False)
    ]


def _claim_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The ledger's rows as records, mIoU gains in percentage points."""
    scaled = table.copy()
    is_miou = scaled["metric"] == "miou"
    for column in CLAIM_POINT_COLUMNS:
        scaled[column] = scaled[column].astype(float).where(~is_miou, 100 * scaled[column].astype(float))
    return json.loads(scaled.to_json(orient="records"))


_FRACTIONS = ("miou", "pixel_accuracy", "mean_class_accuracy", "fwiou")
"""Metrics of :meth:`aicsd.metrics.SegmentationMetrics.compute` that are fractions (stored in % here)."""


def _percent(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: 100 * v if k in _FRACTIONS and isinstance(v, float) else v for k, v in metrics.items()}


TEACHER = "teacher"
"""The ``group`` and ``label`` of the teacher's entry in :func:`per_class` and :func:`curves`."""


def _main_cells(runs: pd.DataFrame) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """The main-table cells of collected ``runs``: per (label, backbone), in table order, the keys
    the record names it by (``group``, ``label``, ``backbone``, ``seeds``) and its runs in seed order."""
    main = runs[runs["group"] == experiments.MAIN_GROUP]
    out = []
    for (label, backbone), part in main.groupby(["label", "backbone"], sort=False):
        part = part.sort_values("seed")
        out.append(({"group": experiments.MAIN_GROUP, "label": label, "backbone": backbone, "seeds": [int(s) for s in part["seed"]]}, part))
    return out


def _teacher_keys(teacher: RunConfig) -> dict[str, Any]:
    """The keys the record names the teacher's entries by, as :func:`_main_cells` names a cell's."""
    return {"group": TEACHER, "label": TEACHER, "backbone": teacher.backbone, "seeds": [teacher.seed]}


def _iou_entry(values: np.ndarray) -> dict[str, Any]:
    """Per-class IoU fractions (seeds, C), NaN where absent -> ``values`` (seeds x C) and ``mean`` (C) in %."""
    return {"values": [[100 * float(v) for v in row] for row in values], "mean": [100 * float(v) for v in mean_where_present(values)]}


def per_class(runs: pd.DataFrame, teacher: RunConfig) -> list[dict[str, Any]]:
    """The IoU per class (%) on the reported split of ``teacher`` (a finished run) and of each
    main-table cell of ``runs`` (collected runs; their ``per_class_iou``), teacher first, cells in
    table order. Each entry: ``group``, ``label``, ``backbone``, ``seeds`` (S), ``split``,
    ``values`` (S lists of C: one per seed, NaN where the class is absent from that run's split)
    and ``mean`` (C: over the seeds where the class is present,
    :func:`aicsd.results.mean_where_present`); classes in the dataset's order."""
    teacher_iou = np.array([reported_metrics(read_result(run_dir(teacher)))["per_class_iou"]], dtype=float)
    entries = [{**_teacher_keys(teacher), "split": experiments.report_split(teacher), **_iou_entry(teacher_iou)}]
    for keys, part in _main_cells(runs):
        values = np.array(part["per_class_iou"].tolist(), dtype=float)
        entries.append({**keys, "split": part["split"].iloc[0], **_iou_entry(values)})
    return entries


CURVE_KEYS = ("train_loss", "train_ce", "val_miou")
"""The per-epoch records kept in :func:`curves`: the whole training loss (each method weights its own
terms, so it compares runs of one method only), its cross-entropy part, and val mIoU (in %)."""


def mean_curve(runs: Sequence[Run]) -> dict[str, list[Any]]:
    """The per-epoch mean over ``runs`` (finished runs of one schedule: the seeds of a cell) of their
    ``metrics.jsonl`` records (:func:`aicsd.engine.read_metrics`): ``epoch`` (E ints) and each of
    :data:`CURVE_KEYS` (E values; mIoU in %; NaN at an epoch no run evaluated)."""
    records = pd.DataFrame([record for run in runs for record in read_metrics(run)]).reindex(columns=["epoch", *CURVE_KEYS])
    mean = records.astype(float).groupby("epoch").mean()
    scale = {key: 100.0 if key.removeprefix("val_") in _FRACTIONS else 1.0 for key in CURVE_KEYS}
    return {"epoch": [int(epoch) for epoch in mean.index], **{key: [scale[key] * float(v) for v in mean[key]] for key in CURVE_KEYS}}


def curves(runs: pd.DataFrame, teacher: RunConfig) -> list[dict[str, Any]]:
    """The learning curves of ``teacher`` (a finished run) and of each main-table cell of ``runs``
    (collected runs; their ``run_dir``), teacher first, cells in table order: ``group``, ``label``,
    ``backbone``, ``seeds`` and :func:`mean_curve` over the cell's seeds."""
    entries = [{**_teacher_keys(teacher), **mean_curve([run_dir(teacher)])}]
    entries += [{**keys, **mean_curve(list(part["run_dir"]))} for keys, part in _main_cells(runs)]
    return entries


def reproduction_summary(
    profile: str,
    dataset: str = "synthetic",
    data_root: str | None = None,
    timings: dict[str, Any] | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """The summary record of the finished reproduction of ``profile`` (see the module docstring)."""
    ledger = book_ledger(profile, dataset, data_root, device, distance_images=CLAIMS_DISTANCE_IMAGES)
    teacher = experiments.teacher_run(profile, dataset=dataset, data_root=data_root)
    sweep = experiments.reproduced_sweep(profile, dataset=dataset, data_root=data_root, device=device)
    teacher_metrics = {k: v for k, v in reported_metrics(read_result(run_dir(teacher))).items() if k != "per_class_iou"}
    return {
        "units": UNITS,
        "profile": profile,
        "dataset": dataset,
        "seeds": list(seeds_of(profile)),
        "design_digest": design_digest(profile, dataset, data_root),
        "provenance": {
            **provenance({"profile": profile, "dataset": dataset, "data_root": data_root, "device": device}),
            "torch_threads_per_run": teacher.threads,
        },
        "teacher_backbone": teacher.backbone,
        "teacher": _percent(teacher_metrics),
        "cells": cells(ledger.runs),
        "sweep": sweep_cells(experiments.collect(sweep, test=False)) if sweep else [],
        "weights": experiments.tuned_weights(profile, dataset=dataset, data_root=data_root, device=device, train=False),
        "weights_committed": experiments.committed_record(profile, dataset) is not None,
        "class_names": list(dataset_info(dataset).class_names),
        "per_class": per_class(ledger.runs, teacher),
        "curves": curves(ledger.runs, teacher),
        "claims": _claim_records(ledger.family),
        "mechanism_claims": _claim_records(ledger.mechanism),
        "total_s": None if timings is None else timings.get("total_s"),
        "notebooks_s": None if timings is None else timings.get("notebooks_s"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


NO_COMPARISON_YET = (
    "# Comparison with the reference reproduction\n\n"
    "This book shows the reference reproduction itself (its record: `benchmarks/results/{record}`). "
    "No reproduction on another machine has been compared with it here yet. Run `make reproduce` on yours: "
    "it ends by comparing its records with this reference, cell by cell and claim by claim, and your book "
    "shows that comparison on this page.\n"
)
"""The reference's own comparison page until a reproduction elsewhere has been compared with it."""


def publish(executed: Path = EXECUTED, folder: Path = BENCHMARK_RESULTS, reference: Path = REFERENCE) -> Path:
    """Make the reproduction in ``executed`` the reference record: its ``summary.json`` becomes
    ``summary-<name>.json`` and its ``timings.json`` ``reproduce-<name>.json`` in ``folder``, and the
    shipped book's comparison page (``reference/comparison.md``; its data file is removed) says that nothing has been compared
    with the new reference yet. Returns the summary's path. Raises FileNotFoundError naming a missing record."""
    summary_path, timings_path = executed / SUMMARY_FILE, executed / TIMINGS_FILE
    for path in (summary_path, timings_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run make reproduce to the end first")
    summary = json.loads(summary_path.read_text())
    name = record_name(summary["profile"], summary["dataset"])
    target = folder / summary_file(name)
    atomic_write_json(target, summary)
    atomic_write_json(folder / f"reproduce-{name}.json", json.loads(timings_path.read_text()))
    if reference.is_dir():
        atomic_write_bytes(reference / COMPARISON_PAGE, NO_COMPARISON_YET.format(record=target.name).encode())
        (reference / COMPARISON_DATA).unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--timings", type=Path, default=EXECUTED / TIMINGS_FILE, help="the driver's timing record")
    parser.add_argument(
        "--output", type=Path, default=None, help="default benchmarks/results/summary-<profile>[-<dataset>].json; the qualitative grid goes beside it"
    )
    parser.add_argument("--publish", action="store_true", help="make book/_executed/'s records the committed reference records (make reference)")
    args = parser.parse_args(argv)
    if args.publish:
        print(f"wrote {publish()}")
        return 0
    timings = json.loads(args.timings.read_text()) if args.timings.is_file() else None
    record = reproduction_summary(args.profile, args.dataset, args.data_root, timings)
    name = record_name(args.profile, args.dataset)
    output = args.output or BENCHMARK_RESULTS / summary_file(name)
    atomic_write_json(output, record)
    print(f"wrote {output}")
    place = {"dataset": args.dataset, "data_root": args.data_root}
    missing = qualitative.data_missing(experiments.teacher_run(args.profile, **place))
    if missing:
        print(f"skipped the qualitative grid: {missing}")
        return 0
    weights = experiments.tuned_weights(args.profile, **place, train=False)
    image = output.parent / qualitative_file(name)
    sidecar = qualitative.write_grid(qualitative.grid_networks(args.profile, weights=weights, **place), image)
    print(f"wrote {image} and {sidecar}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
