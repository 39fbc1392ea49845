"""The sizing probes of the mini scale, read from their committed records for the book.

``benchmarks/results/sizing-cpu.json`` (probes on two CPU cores) and ``sizing-cuda.json`` (probes
run side by side on one GPU in fp32 by ``benchmarks/sizing_probes.py``) hold each probe (a teacher
or student run trained through the command line with overrides of the ``cpu`` profile): its
network, data variant, scale range, recipe, the val mIoU curve, the final val and test mIoU, and its
cost. The book's chapter "Sizing the mini scale" shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from aicsd.data import build_dataset
from aicsd.engine import RunConfig
from aicsd.paths import BENCHMARK_RESULTS

__all__ = [
    "FRONTIER_COLUMNS", "GPU_SIZING_RECORD", "SIZING_RECORD", "curves", "data_setting", "frontier", "probes",
    "read_record", "reproduction_points", "training_steps",
]

SIZING_RECORD = BENCHMARK_RESULTS / "sizing-cpu.json"
GPU_SIZING_RECORD = BENCHMARK_RESULTS / "sizing-cuda.json"

_CPU_PROBE_DATA = {"data_variant": "v2", "scale_range": (0.5, 2.0)}
"""What the CPU record's probes (written before generator version 3) trained on."""


def read_record(path: Path = SIZING_RECORD) -> dict[str, Any]:
    """A sizing record, the CPU one by default (FileNotFoundError naming the file when it is absent)."""
    if not path.is_file():
        raise FileNotFoundError(f"no sizing record at {path}: it is committed with the repository")
    return json.loads(path.read_text())


def _network(probe: dict[str, Any]) -> str:
    return f"{probe['backbone']} x{probe['width_multiplier']:g}"


def data_setting(probe: dict[str, Any]) -> str:
    """``"<generator variant>, scale <low>-<high>"`` of a probe (the CPU record's are version 2, 0.5-2)."""
    low, high = probe.get("scale_range", _CPU_PROBE_DATA["scale_range"])
    return f"{probe.get('data_variant', _CPU_PROBE_DATA['data_variant'])}, scale {low:g}-{high:g}"


def _lr(probe: dict[str, Any]) -> float:
    return float(probe["config_overrides_vs_cpu_profile"].get("lr", 0.01))


def probes(record: dict[str, Any]) -> pd.DataFrame:
    """One row per finished probe: kind, network, method (``none``: cross entropy only), data
    setting, seed, epochs, steps, lr, final val and test mIoU (%), the change of val mIoU over the
    last quarter of training and the wall time."""
    rows = []
    for probe in record["probes"]:
        if probe.get("status") != "finished":
            continue
        rows.append(
            {
                "probe": probe["name"],
                "kind": probe["kind"],
                "network": _network(probe),
                "method": probe.get("method", "none"),
                "data": data_setting(probe),
                "seed": probe["seed"],
                "epochs": probe["epochs"],
                "steps": probe["steps"],
                "lr": _lr(probe),
                "val mIoU": probe["final_val_miou"],
                "test mIoU": probe["test_miou"],
                "last-quarter change": probe["last_quarter_change"]["delta_val_miou"],
                "wall s (shared)": probe["wall_time_s"],
            }
        )
    return pd.DataFrame(rows)


FRONTIER_COLUMNS = ("data", "steps", "network", "val mIoU", "test mIoU", "std over seeds", "n")
"""Columns of :func:`frontier` and :func:`reproduction_points`: mean val and test mIoU (%) over
seeds, the test mIoU's sample standard deviation (NaN for one seed) and the number of seeds."""


def frontier(probes_frame: pd.DataFrame) -> pd.DataFrame:
    """The plain (cross-entropy) probes of :func:`probes` per data setting, steps and network
    (:data:`FRONTIER_COLUMNS`), sorted by data, steps, network. Choices are read off ``val mIoU``."""
    plain = probes_frame[probes_frame["method"] == "none"]
    grouped = plain.groupby(["data", "steps", "network"], sort=True)
    table = grouped.agg(**{
        "val mIoU": ("val mIoU", "mean"), "test mIoU": ("test mIoU", "mean"),
        "std over seeds": ("test mIoU", "std"), "n": ("test mIoU", "count"),
    }).reset_index()  # fmt: skip
    return table[list(FRONTIER_COLUMNS)]


def reproduction_points(runs: pd.DataFrame, data: str, steps: dict[tuple[str, str], int]) -> pd.DataFrame:
    """The reproduction's own plain runs as frontier rows (:data:`FRONTIER_COLUMNS`).

    Args:
        runs: collected runs (:func:`aicsd.study.experiments.collect`) of plain networks, with
            ``kind``, ``backbone``, ``width_multiplier``, ``val_miou`` and ``test_miou`` (fractions;
            without a test split, as on CamVid, no ``test_miou``: the test columns are then NaN).
        data: the data setting's label (:func:`data_setting`'s form).
        steps: optimiser steps of the runs of each ``(kind, "<backbone> x<width>")``.

    A teacher whose network is also a student's is labelled ``"<network> (teacher)"``.
    """
    frame = runs.assign(network=[f"{b} x{w:g}" for b, w in zip(runs["backbone"], runs["width_multiplier"])])
    student_networks = set(frame.loc[frame["kind"] == "student", "network"])
    rows = []
    for (kind, network), group in frame.groupby(["kind", "network"], sort=True):
        label = f"{network} (teacher)" if kind == "teacher" and network in student_networks else network
        test = group["test_miou"] if "test_miou" in group else pd.Series(float("nan"), index=group.index)
        rows.append({
            "data": data, "steps": steps[(kind, network)], "network": label,
            "val mIoU": 100 * group["val_miou"].mean(), "test mIoU": 100 * test.mean(),
            "std over seeds": 100 * test.std(), "n": len(group),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(FRONTIER_COLUMNS))


def curves(record: dict[str, Any]) -> pd.DataFrame:
    """Long frame of the val mIoU curves: probe, label (network, lr, seed), steps done, val mIoU (%)."""
    rows = []
    for probe in record["probes"]:
        if probe.get("status") != "finished":
            continue
        label = f"{probe['kind']} {_network(probe)}, lr {_lr(probe):g}, seed {probe['seed']}"
        if "data_variant" in probe:
            label = f"{_network(probe)}, {data_setting(probe)}, seed {probe['seed']}"
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


def training_steps(config: RunConfig) -> int:
    """Optimiser steps of a run: epochs x (training images, at most ``train_limit``) // batch size
    (the loader drops a last partial batch). Lists the training split, so its data must be on disk."""
    images = len(build_dataset(config.dataset, config.data_root, config.train_split))
    if config.train_limit is not None:
        images = min(images, config.train_limit)
    return config.epochs * (images // config.batch_size)
