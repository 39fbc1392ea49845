"""The reproduction's summary record, so that a run on another machine can be compared cell by cell.

    python -m aicsd.study.record --profile cpu [--dataset synthetic] [--timings book/_executed/timings.json]

writes ``benchmarks/results/summary-<profile>.json`` (``summary-<profile>-<dataset>.json`` for a
dataset other than the generated one): the teacher's reported metrics,
per table cell (group, row, student) the mean, std, n and seeds of the reported and val mIoU, each
claim of the ledger with its paired gain and interval, the total wall time of ``make reproduce``,
the CPU model and the thread settings. It reads only finished runs (raises FileNotFoundError
naming the first missing one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from aicsd.engine import read_result, run_dir, seeds_of
from aicsd.engine.checkpoint import atomic_write_json
from aicsd.paths import BENCHMARK_RESULTS, EXECUTED
from aicsd.results import reported_metrics
from aicsd.study import claims, experiments

__all__ = ["book_runs", "cells", "cpu_model", "main", "reproduction_summary"]


def record_name(profile: str, dataset: str) -> str:
    """``<profile>`` for the generated dataset, else ``<profile>-<dataset>``: how the reproduction's
    records in ``benchmarks/results/`` are named (benchmarks/bench_reproduce.sh uses the same rule)."""
    return profile if dataset == "synthetic" else f"{profile}-{dataset}"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def book_runs(profile: str, dataset: str = "synthetic", data_root: str | None = None) -> pd.DataFrame:
    """The collected runs of the book's tables (main table and ablations at the weights chosen on val)."""
    weights = experiments.tuned_weights(profile, dataset=dataset, data_root=data_root, train=False)
    place = {"dataset": dataset, "data_root": data_root}
    runs = experiments.main_table(profile, weights=weights, **place) + experiments.ablations(profile, weights=weights, **place)
    return experiments.collect(runs)


def cells(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """Per (group, label, backbone): mean, std (ddof 1), n and seeds of the reported and val mIoU, in %."""
    out = []
    for (group, label, backbone), part in runs.groupby(["group", "label", "backbone"], sort=False):
        out.append(
            {
                "group": group,
                "label": label,
                "backbone": backbone,
                "split": part["split"].iloc[0],
                "miou_mean": 100 * float(part["miou"].mean()),
                "miou_std": 100 * float(part["miou"].std(ddof=1)) if len(part) > 1 else None,
                "val_miou_mean": 100 * float(part["val_miou"].mean()),
                "n": int(len(part)),
                "seeds": sorted(int(seed) for seed in part["seed"]),
            }
        )
    return out


def reproduction_summary(
    profile: str, dataset: str = "synthetic", data_root: str | None = None, timings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The summary record of the finished reproduction of ``profile`` (see the module docstring)."""
    runs = book_runs(profile, dataset, data_root)
    teacher = experiments.teacher_run(profile, dataset=dataset, data_root=data_root)
    ledger = claims.claims_table(runs, claims.paper_claims(experiments.STUDENTS, experiments.ABLATION_STUDENT))
    return {
        "profile": profile,
        "dataset": dataset,
        "seeds": list(seeds_of(profile)),
        "teacher": {k: v for k, v in reported_metrics(read_result(run_dir(teacher))).items() if k != "per_class_iou"},
        "cells": cells(runs),
        "claims": json.loads(ledger.to_json(orient="records")),
        "total_s": None if timings is None else timings.get("total_s"),
        "notebooks_s": None if timings is None else timings.get("notebooks_s"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads_per_run": experiments.teacher_run(profile).threads,
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--timings", type=Path, default=EXECUTED / "timings.json", help="the driver's timing record")
    parser.add_argument("--output", type=Path, default=None, help="default benchmarks/results/summary-<profile>[-<dataset>].json")
    args = parser.parse_args(argv)
    timings = json.loads(args.timings.read_text()) if args.timings.is_file() else None
    record = reproduction_summary(args.profile, args.dataset, args.data_root, timings)
    output = args.output or BENCHMARK_RESULTS / f"summary-{record_name(args.profile, args.dataset)}.json"
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
