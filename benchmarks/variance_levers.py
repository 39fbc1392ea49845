"""The spread over seeds of a table cell, with and without each cheap lever, measured side by side.

A cell of the book's tables is the mean over seeds of one recipe; its std over seeds decides how
far a second machine's last-bit differences can move the mean and the ledger's verdicts. This
script trains a few cells of the ``cpu`` profile (default weights, every seed of the profile, in
the shared run store, so that the reproduction reuses the runs whose config it shares) with a
moving average of the weights kept beside the trained ones (``--ema-decay``), and scores every run
six ways from the same training:

  raw, val         the trained weights on the val split (where a recipe is chosen)
  EMA, val         the weights' moving average on the val split
  raw, test        the trained weights on the generated test split (the book's cells today)
  EMA, test        the weights' moving average on the test split
  raw, val+test    the trained weights on val and test pooled (one confusion matrix, twice the images)
  EMA, val+test    both levers

Printed and written to ``benchmarks/results/variance_levers-cpu.json`` (``-warmup<N>.json`` with
``--warmup-steps N``, a third lever: the cells trained anew with a linear lr warm-up over their first
N steps): per cell and way, the mean, the std over seeds (ddof 1) and each way's std as a ratio of
the raw std on the same split (val for the val ways, test for the others). The sizing chapter
shows the records side by side and judges the levers on val.

    python benchmarks/variance_levers.py [--ema-decay 0.98] [--warmup-steps 0] [--cells resnet18:none resnet18:aicsd ...]
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timezone
from typing import Any

import torch
from torch.utils.data import ConcatDataset, DataLoader

from aicsd.data.transforms import pad_collate
from aicsd.engine import RunConfig, run_dir, run_id, seeds_of
from aicsd.engine.checkpoint import atomic_write_json
from aicsd.engine.loaders import build_eval_dataset
from aicsd.engine.loops import evaluate
from aicsd.engine.networks import build_student
from aicsd.engine.runstore import read_checkpoint
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.study import experiments
from aicsd.study.tables import LEVER_WAYS as WAYS

PROFILE = "cpu"
DEFAULT_CELLS = ("resnet18:none", "resnet18:aicsd", "mobilenet_v2:none", "mobilenet_v2:kd")


def cell_runs(cells: list[str], ema_decay: float, warmup_steps: int = 0) -> dict[str, list[RunConfig]]:
    """Per ``"backbone:method"`` cell, its run config at every seed of the profile."""
    out: dict[str, list[RunConfig]] = {}
    for cell in cells:
        backbone, method = cell.split(":")
        out[cell] = [
            experiments.student_run(PROFILE, backbone=backbone, method=method, seed=seed, ema_decay=ema_decay, warmup_steps=warmup_steps)
            for seed in seeds_of(PROFILE)
        ]
    return out


def scores(config: RunConfig) -> dict[str, float]:
    """The run's mIoU (in %) in each of :data:`WAYS`."""
    state = read_checkpoint(run_dir(config))
    pooled = ConcatDataset([build_eval_dataset(config, config.test_split), build_eval_dataset(config, config.val_split)])
    sets = {"val": build_eval_dataset(config, config.val_split), "test": build_eval_dataset(config, config.test_split), "val+test": pooled}
    out = {}
    for weights_name, key in (("raw", "model"), ("EMA", "ema")):
        network = build_student(config, pretrained=False)
        network.load_state_dict(state[key])
        for set_name, dataset in sets.items():
            loader = DataLoader(dataset, batch_size=config.eval_batch_size, collate_fn=pad_collate)
            out[f"{weights_name}, {set_name}"] = 100 * float(evaluate(network, loader, config.num_classes, "cpu")["miou"])
    return out


def summarise(per_run: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Per cell and way: mean, std over seeds and the std's ratio to the raw std on the same split
    (val for the val ways, test for the others)."""
    out: dict[str, Any] = {}
    for cell, runs in per_run.items():
        bases = {split: statistics.stdev(run[f"raw, {split}"] for run in runs) for split in ("val", "test")}
        out[cell] = {}
        for way in WAYS:
            values = [run[way] for run in runs]
            std = statistics.stdev(values)
            base = bases["val"] if way.endswith(", val") else bases["test"]
            out[cell][way] = {"mean": statistics.fmean(values), "std": std, "std_ratio": std / base if base else None, "values": values}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ema-decay", type=float, default=0.98)
    parser.add_argument("--warmup-steps", type=int, default=0, help="train the cells with this linear lr warm-up (another lever)")
    parser.add_argument("--cells", nargs="+", default=list(DEFAULT_CELLS), help="backbone:method, default weights")
    args = parser.parse_args(argv)
    runs = cell_runs(args.cells, args.ema_decay, args.warmup_steps)
    experiments.run_all([config for configs in runs.values() for config in configs])
    torch.set_num_threads(1)
    per_run = {cell: [scores(config) for config in configs] for cell, configs in runs.items()}
    summary = summarise(per_run)
    for cell, ways in summary.items():
        print(cell)
        for way, row in ways.items():
            print(f"  {way:14s} mean {row['mean']:6.2f}  std {row['std']:5.2f}  x{row['std_ratio']:.2f} of raw on its split")
    record = {
        "profile": PROFILE,
        "ema_decay": args.ema_decay,
        "warmup_steps": args.warmup_steps,
        "seeds": list(seeds_of(PROFILE)),
        "cells": summary,
        "runs": {cell: [run_id(config) for config in configs] for cell, configs in runs.items()},
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    suffix = f"-warmup{args.warmup_steps}" if args.warmup_steps else ""
    output = BENCHMARK_RESULTS / f"variance_levers-{PROFILE}{suffix}.json"
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
