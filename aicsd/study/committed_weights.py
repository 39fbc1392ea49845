"""The distillation weights a profile's tables train with, chosen once on ``val`` from a weight sweep
over several tuning seeds and committed, so that every machine trains the same cells.

A weight chosen anew by each reproduction from one tuning seed moves with that seed's luck and with
the last bits of the CPU's arithmetic: under other CPU kernels the one-seed sweep of the ``cpu``
profile chose other factors for many of its (student, method) choices (the comparison of the
cross-machine records in ``benchmarks/results/cross-machine/`` counts them), so two machines
trained different recipes and their verdicts could differ for that reason alone. The committed file
``benchmarks/results/weights-<name>.json`` (:func:`aicsd.study.record_files.weights_file`) holds the
pooled sweep (per student and row, the tuning seeds and their val mIoU in %), where each part came
from, the rule, and the weights it gives; :func:`aicsd.study.experiments.tuned_weights` returns those
weights, and a profile and dataset without such a file keep choosing from their own sweep.

    python -m aicsd.study.committed_weights SWEEP.json [SWEEP.json ...] [--profile cpu] [--dataset synthetic]

Each ``SWEEP.json`` is a record with a ``sweep`` list in the summary record's form (a reproduction's
``summary-<name>.json``, or ``benchmarks/weight_sweep.py``'s record at more tuning seeds). A seed may
come from one source only, and none may be one of the tables' seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from aicsd.engine import seeds_of
from aicsd.engine.checkpoint import atomic_write_json
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.study import experiments
from aicsd.study.record_files import record_name, weights_file

__all__ = ["RULE", "choices_from_sweep", "derive", "pooled_sweep", "sweep_behind_weights", "sweep_frame"]

RULE = "per student and swept method, the weight with the best mean val mIoU over the pooled tuning seeds (ties: the smaller weight)"
"""How the committed weights are chosen (:func:`aicsd.study.experiments.chosen_weights`)."""


def _grid(profile: str, dataset: str) -> dict[tuple[str, str], tuple[str, str, float]]:
    """Per (student, sweep row label) of the profile's sweep: its method, weight field and weight."""
    grid = {}
    for run in experiments.weight_sweep(profile, dataset=dataset):
        config = run.config
        if config.method == "none":
            grid[(config.backbone, run.label)] = ("none", "", float("nan"))
            continue
        term = config.distillation.term(experiments.swept_term(config.method))
        grid[(config.backbone, run.label)] = (config.method, f"{term.name}_weight", float(term.weight))
    return grid


def sweep_frame(cells: list[dict[str, Any]], profile: str, dataset: str = "synthetic") -> pd.DataFrame:
    """Sweep cells (the summary record's ``sweep`` form) as one row per run, in the columns of
    :func:`aicsd.study.experiments.collect` that :func:`aicsd.study.experiments.chosen_weights` and
    the sweep table read: ``backbone``, ``label``, ``method``, ``seed``, ``val_miou`` (a fraction)
    and the swept weight field. Raises ValueError for a row the profile's sweep does not have."""
    grid = _grid(profile, dataset)
    rows = []
    for cell in cells:
        where = (cell["backbone"], cell["label"])
        if where not in grid:
            raise ValueError(f"sweep row {cell['label']!r} on {cell['backbone']} is not in the {profile!r} profile's sweep on {dataset}")
        method, key, weight = grid[where]
        for seed, value in zip(cell["seeds"], cell["val_values"], strict=True):
            row = {"backbone": cell["backbone"], "label": cell["label"], "method": method, "seed": int(seed), "val_miou": value / 100}
            rows.append({**row, key: weight} if key else row)
    return pd.DataFrame(rows)


def choices_from_sweep(cells: list[dict[str, Any]], profile: str, dataset: str = "synthetic") -> experiments.StudentWeights:
    """The weights :func:`aicsd.study.experiments.chosen_weights` takes from sweep cells."""
    return experiments.chosen_weights(sweep_frame(cells, profile, dataset))


def _pool(sources: dict[str, list[dict[str, Any]]], profile: str) -> list[dict[str, Any]]:
    """The sweep cells of several sources merged per (student, label), seeds sorted; raises
    ValueError for a seed two sources share or one of the tables' seeds."""
    pooled: dict[tuple[str, str], dict[int, float]] = {}
    origin: dict[tuple[str, str, int], str] = {}
    for name, cells in sources.items():
        for cell in cells:
            where = (cell["backbone"], cell["label"])
            for seed, value in zip(cell["seeds"], cell["val_values"], strict=True):
                if seed in seeds_of(profile):
                    raise ValueError(f"{name}: seed {seed} of {cell['label']!r} is one of the tables' seeds; weights are chosen on tuning seeds only")
                if (*where, seed) in origin:
                    raise ValueError(f"{name}: seed {seed} of {cell['label']!r} on {cell['backbone']} is also in {origin[(*where, seed)]}; pool each seed once")
                origin[(*where, seed)] = name
                pooled.setdefault(where, {})[int(seed)] = float(value)
    return [
        {"backbone": backbone, "label": label, "seeds": sorted(values), "val_values": [values[seed] for seed in sorted(values)]}
        for (backbone, label), values in pooled.items()
    ]


def derive(sources: dict[str, dict[str, Any]], profile: str, dataset: str = "synthetic") -> dict[str, Any]:
    """The committed-weights record from named sweep records (each with a ``sweep`` list): the pooled
    sweep, the sources (file name, seeds, commit and date where recorded), :data:`RULE` and the weights."""
    cells = _pool({name: record["sweep"] for name, record in sources.items()}, profile)
    uneven = {len(cell["seeds"]) for cell in cells}
    if len(uneven) > 1:
        raise ValueError(f"the pooled sweep has {sorted(uneven)} seeds on different rows; every row needs the same tuning seeds")
    return {
        "profile": profile,
        "dataset": dataset,
        "rule": RULE,
        "sources": [
            {
                "file": name,
                "seeds": experiments.committed_seeds(record),
                "commit": record.get("provenance", {}).get("commit"),
                "date": record.get("date"),
            }
            for name, record in sources.items()
        ],
        "sweep": cells,
        "weights": choices_from_sweep(cells, profile, dataset),
    }


def pooled_sweep(profile: str, dataset: str = "synthetic", folder: Path = BENCHMARK_RESULTS) -> pd.DataFrame | None:
    """The committed record's pooled sweep as runs (:func:`sweep_frame`), or None without a record."""
    record = experiments.committed_record(profile, dataset, folder)
    return None if record is None else sweep_frame(record["sweep"], profile, dataset)


def sweep_behind_weights(own: pd.DataFrame | None, profile: str, dataset: str = "synthetic", folder: Path = BENCHMARK_RESULTS) -> pd.DataFrame | None:
    """The sweep the weights a reproduction trains with were chosen from, as runs: the committed
    pooled sweep where the profile has committed weights on ``dataset``, else ``own`` (the
    reproduction's own sweep runs, :func:`aicsd.study.experiments.collect`; None without a sweep)."""
    pooled = pooled_sweep(profile, dataset, folder)
    return own if pooled is None else pooled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", type=Path, nargs="+", help="records with a 'sweep' list (summary or weight_sweep records)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--output", type=Path, default=None, help="default: benchmarks/results/weights-<name>.json")
    args = parser.parse_args(argv)
    names = [path.name for path in args.sources]
    if len(set(names)) < len(names):
        raise SystemExit(f"committed_weights: a source file name is given twice ({', '.join(names)}); pool each record once")
    sources = {path.name: json.loads(path.read_text()) for path in args.sources}
    try:
        record = derive(sources, args.profile, args.dataset)
    except ValueError as error:
        raise SystemExit(f"committed_weights: {error}") from None
    for backbone, methods in record["weights"].items():
        for method, settings in methods.items():
            ((key, weight),) = settings.items()
            print(f"{backbone:13s} {method:22s} {key} {weight:.4g}")
    output = args.output or BENCHMARK_RESULTS / weights_file(record_name(args.profile, args.dataset))
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
