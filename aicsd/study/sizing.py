"""The sizing probes of the mini scale, read from their committed record for the book.

``benchmarks/results/sizing-cpu.json`` holds each probe (a teacher or student run trained through
the command line with overrides of the ``cpu`` profile): its network, recipe, the val mIoU curve,
the final val and test mIoU, and its cost. The book's chapter "Sizing the mini scale" shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from aicsd.paths import BENCHMARK_RESULTS

__all__ = ["SIZING_RECORD", "curves", "probes", "read_record"]

SIZING_RECORD = BENCHMARK_RESULTS / "sizing-cpu.json"


def read_record(path: Path = SIZING_RECORD) -> dict[str, Any]:
    """The sizing record (FileNotFoundError naming the file when it is absent)."""
    if not path.is_file():
        raise FileNotFoundError(f"no sizing record at {path}: it is committed with the repository")
    return json.loads(path.read_text())


def _network(probe: dict[str, Any]) -> str:
    return f"{probe['backbone']} x{probe['width_multiplier']:g}"


def _lr(probe: dict[str, Any]) -> float:
    return float(probe["config_overrides_vs_cpu_profile"].get("lr", 0.01))


def probes(record: dict[str, Any]) -> pd.DataFrame:
    """One row per finished probe: kind, network, seed, epochs, steps, lr, final val and test mIoU
    (%), the change of val mIoU over the last quarter of training and the wall time."""
    rows = []
    for probe in record["probes"]:
        if probe.get("status") != "finished":
            continue
        rows.append(
            {
                "probe": probe["name"],
                "kind": probe["kind"],
                "network": _network(probe),
                "seed": probe["seed"],
                "epochs": probe["epochs"],
                "steps": probe["steps"],
                "lr": _lr(probe),
                "val mIoU": probe["final_val_miou"],
                "test mIoU": probe["test_miou"],
                "last-quarter change": probe["last_quarter_change"]["delta_val_miou"],
                "wall s (shared cores)": probe["wall_time_s"],
            }
        )
    return pd.DataFrame(rows)


def curves(record: dict[str, Any]) -> pd.DataFrame:
    """Long frame of the val mIoU curves: probe, label (network, lr, seed), steps done, val mIoU (%)."""
    rows = []
    for probe in record["probes"]:
        if probe.get("status") != "finished":
            continue
        label = f"{probe['kind']} {_network(probe)}, lr {_lr(probe):g}, seed {probe['seed']}"
        for point in probe["val_miou_curve"]:
            rows.append(
                {
                    "probe": probe["name"],
                    "label": label,
                    "kind": probe["kind"],
                    "steps": point["epoch"] * probe["steps_per_epoch"],
                    "val mIoU": point["val_miou"],
                }
            )
    return pd.DataFrame(rows)
