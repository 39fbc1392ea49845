"""The reproduction's summary record, so that a run on another machine can be compared cell by cell.

    python -m aicsd.study.record --profile cpu [--dataset synthetic] [--timings book/_executed/timings.json]

writes ``benchmarks/results/summary-<profile>.json`` (``summary-<profile>-<dataset>.json`` for a
dataset other than the generated one; ``make reproduce`` writes the same record to
``book/_executed/summary.json`` and compares it with the committed one, :mod:`aicsd.study.compare`).
Every mIoU, pixel accuracy and gain in it is in percent (points for gains), as ``units`` says:

- ``design_digest``: :func:`design_digest`, equal for two reproductions of the same design;
- ``provenance``: :func:`aicsd.study.provenance.provenance` (commit, CPU and its capability level,
  package versions, the data's fingerprint and content digest);
- ``teacher``: the teacher's reported metrics;
- ``cells``: per table cell (group, row, student) the per-seed values, mean, std, n and seeds of
  the reported mIoU, and the mean val mIoU;
- ``sweep``: the weight sweep's cells (student, row, seeds, val mIoU per seed), on tuning seeds
  that no table cell uses;
- ``claims``: the ledger's family (Holm-adjusted p-values and the verdicts taken from them);
  ``mechanism_claims``: the ICS-distance claim, tested alone;
- the wall time of ``make reproduce`` per notebook and in all.

It reads only finished runs (FileNotFoundError naming the first missing one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from aicsd.engine import read_result, run_dir, run_id, seeds_of
from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json
from aicsd.paths import BENCHMARK_RESULTS, COMPARISON_PAGE, EXECUTED, REFERENCE, SUMMARY_FILE, TIMINGS_FILE
from aicsd.results import reported_metrics
from aicsd.study import experiments
from aicsd.study.ledger import book_ledger
from aicsd.study.provenance import provenance

__all__ = ["CLAIM_POINT_COLUMNS", "CLAIMS_DISTANCE_IMAGES", "UNITS", "cells", "design_digest", "main", "record_name", "reproduction_summary", "sweep_cells"]

UNITS = "mIoU and pixel accuracy in percent, gains and intervals in percentage points (the ICS distance in its own units)"
CLAIMS_DISTANCE_IMAGES = 16
"""Images of the reported split on which the mechanism claim's ICS distance is measured (the
claims chapter's default)."""
CLAIM_POINT_COLUMNS = ("gain", "ci_low", "ci_high", "detectable_gain")
"""The ledger columns stored in percentage points for an mIoU claim (fractions in the ledger itself)."""


def record_name(profile: str, dataset: str) -> str:
    """``<profile>`` for the generated dataset, else ``<profile>-<dataset>``: how the reproduction's
    records in ``benchmarks/results/`` are named (benchmarks/bench_reproduce.sh uses the same rule)."""
    return profile if dataset == "synthetic" else f"{profile}-{dataset}"


def design_digest(profile: str, dataset: str = "synthetic", data_root: str | None = None) -> str:
    """Hex SHA-256 over the sorted run ids of what the book's design trains before any result is
    known: the teacher, the weight sweep, and the main table and ablations at the default weights.
    Run ids hash every recipe field and the data's fingerprint, never the machine, so two
    reproductions of the same commit's design on the same data share this digest, whatever their
    results (the weights a sweep then chooses are results, and are left out)."""
    place = {"dataset": dataset, "data_root": data_root}
    runs = [experiments.teacher_run(profile, **place)]
    runs += [r.config for r in experiments.weight_sweep(profile, **place) + experiments.main_table(profile, **place) + experiments.ablations(profile, **place)]
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
    sweep = experiments.weight_sweep(profile, dataset=dataset, data_root=data_root, device=device)
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
    shipped book's comparison page (``reference/comparison.md``) says that nothing has been compared
    with the new reference yet. Returns the summary's path. Raises FileNotFoundError naming a missing record."""
    summary_path, timings_path = executed / SUMMARY_FILE, executed / TIMINGS_FILE
    for path in (summary_path, timings_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run make reproduce to the end first")
    summary = json.loads(summary_path.read_text())
    name = record_name(summary["profile"], summary["dataset"])
    target = folder / f"summary-{name}.json"
    atomic_write_json(target, summary)
    atomic_write_json(folder / f"reproduce-{name}.json", json.loads(timings_path.read_text()))
    if reference.is_dir():
        atomic_write_bytes(reference / COMPARISON_PAGE, NO_COMPARISON_YET.format(record=target.name).encode())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--timings", type=Path, default=EXECUTED / TIMINGS_FILE, help="the driver's timing record")
    parser.add_argument("--output", type=Path, default=None, help="default benchmarks/results/summary-<profile>[-<dataset>].json")
    parser.add_argument("--publish", action="store_true", help="make book/_executed/'s records the committed reference records (make reference)")
    args = parser.parse_args(argv)
    if args.publish:
        print(f"wrote {publish()}")
        return 0
    timings = json.loads(args.timings.read_text()) if args.timings.is_file() else None
    record = reproduction_summary(args.profile, args.dataset, args.data_root, timings)
    output = args.output or BENCHMARK_RESULTS / f"summary-{record_name(args.profile, args.dataset)}.json"
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
