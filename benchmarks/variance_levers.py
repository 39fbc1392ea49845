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

Recipe levers train the cells anew: ``--warmup-steps N`` (a linear lr warm-up over the first N
steps; default: the profile's), ``--set FIELD=VALUE`` (any other config field, e.g. ``epochs=3``
or ``lr=0.005``) and ``--data-variant NAME`` (a variant of the generated set from
``sizing_probes.VARIANTS``, e.g. ``"v4 candidate"``; its runs are kept out of the shared run store,
whose ids would take them for the default set's). A cell is ``backbone:method`` at the method's default weight, or
``backbone:method*F`` at F times it (the weight a sweep chose, e.g. ``mobilenet_v2:ickd*16``).

Printed and written to ``benchmarks/results/variance_levers-cpu<suffix>.json``, the suffix naming the
warm-up the cells trained with, each ``--set`` and a ``--tag`` (``-warmup100-epochs3-tuned``): per cell and way, the mean, the std
over seeds (ddof 1) and each way's std as a ratio of the raw std on the same split (val for the val
ways, test for the others). The sizing chapter shows the records side by side and judges the
levers on val.

    python benchmarks/variance_levers.py [--ema-decay 0.98] [--warmup-steps N] [--set epochs=3 ...]
        [--cells resnet18:none mobilenet_v2:ickd*16 ...]
"""

from __future__ import annotations

import argparse
import json
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
from aicsd.losses import resolve
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.study import experiments
from aicsd.study.provenance import provenance
from aicsd.study.tables import LEVER_WAYS as WAYS
from sizing_probes import DATA, VARIANTS, generate, variant_runs, variant_slug

PROFILE = "cpu"
DEFAULT_CELLS = ("resnet18:none", "resnet18:aicsd", "mobilenet_v2:none", "mobilenet_v2:kd")


def cell_settings(cell: str) -> tuple[str, str, dict[str, float]]:
    """The student, method and weight settings of a ``backbone:method[*factor]`` cell."""
    backbone, _, method_factor = cell.partition(":")
    method, _, factor = method_factor.partition("*")
    if not factor:
        return backbone, method, {}
    term = experiments.swept_term(method)
    return backbone, method, {f"{term}_weight": resolve(method).term(term).weight * float(factor)}


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as config overrides (values read as JSON: ``3``, ``0.005``, ``true``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: expected FIELD=VALUE, e.g. epochs=3")
        out[name] = json.loads(value)
    return out


def cell_runs(cells: list[str], ema_decay: float, data_root: str | None = None, **overrides: Any) -> dict[str, list[RunConfig]]:
    """Per ``"backbone:method[*factor]"`` cell, its run config at every seed of the profile (on the
    generated set at ``data_root``; default: the profile's)."""
    out: dict[str, list[RunConfig]] = {}
    for cell in cells:
        backbone, method, weights = cell_settings(cell)
        out[cell] = [
            experiments.student_run(
                PROFILE, backbone=backbone, method=method, seed=seed, data_root=data_root, ema_decay=ema_decay, **weights, **overrides
            )
            for seed in seeds_of(PROFILE)
        ]
    return out


def record_suffix(warmup_steps: int, overrides: dict[str, Any], tag: str = "", data_variant: str = "") -> str:
    """The record's file-name suffix: ``-<data variant>`` (its :func:`sizing_probes.variant_slug`) where one is named,
    ``-warmup<N>`` for a warm-up (none without), ``-<field><value>`` per override, then ``-<tag>``."""
    parts = [variant_slug(data_variant)] if data_variant else []
    parts += [f"warmup{warmup_steps}"] if warmup_steps else []
    parts += [f"{name}{value:g}" if isinstance(value, float) else f"{name}{value}" for name, value in overrides.items()]
    parts += [tag] if tag else []
    return "".join(f"-{part}" for part in parts)


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
    parser.add_argument("--warmup-steps", type=int, default=None, help="train the cells with this linear lr warm-up (default: the profile's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE", help="another recipe lever, e.g. epochs=3")
    parser.add_argument("--cells", nargs="+", default=list(DEFAULT_CELLS), help="backbone:method[*factor of the default weight]")
    parser.add_argument(
        "--data-variant", default="", choices=[""] + list(VARIANTS),
        help=f"train on this variant of the generated set (sizing_probes.VARIANTS), generated under {DATA}; its runs are kept apart, under {variant_runs('NAME')}",
    )  # fmt: skip
    parser.add_argument("--tag", default="", help="a last part of the record's file name (e.g. 'tuned' for cells at swept weights)")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    recipe = {**overrides, **({"warmup_steps": args.warmup_steps} if args.warmup_steps is not None else {})}
    data_root = str(generate(args.data_variant)) if args.data_variant else None
    runs = cell_runs(args.cells, args.ema_decay, data_root, **recipe, **({"output_dir": str(variant_runs(args.data_variant))} if args.data_variant else {}))
    warmup_steps = next(iter(runs.values()))[0].warmup_steps
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
        "warmup_steps": warmup_steps,
        "overrides": overrides,
        "tag": args.tag,
        "data_variant": args.data_variant or None,
        "data_variant_settings": {name: list(v) if isinstance(v, tuple) else v for name, v in VARIANTS[args.data_variant].items()} if args.data_variant else None,
        "seeds": list(seeds_of(PROFILE)),
        "cells": summary,
        "runs": {cell: [run_id(config) for config in configs] for cell, configs in runs.items()},
        "torch": torch.__version__,
        "provenance": provenance({"profile": PROFILE, "dataset": "synthetic", "device": "cpu", **({"data_root": data_root} if data_root else {})}),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    output = BENCHMARK_RESULTS / f"variance_levers-{PROFILE}{record_suffix(warmup_steps, overrides, args.tag, args.data_variant)}.json"
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
