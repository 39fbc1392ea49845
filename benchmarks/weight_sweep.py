"""The ``cpu`` profile's weight sweep at more tuning seeds than the profile's own, judged on val.

A weight chosen from one seed's val mIoU moves with that seed's luck (and with the last bits of
the CPU's arithmetic: on another kernel path the one-seed sweep chose another factor for half its
methods). This script trains the profile's sweep grid (:func:`aicsd.study.experiments.weight_sweep`:
every swept method at every sweep factor on both students, and each plain student) at each of
``--seeds`` (tuning seeds: never one of the tables' seeds), in the shared run store, and writes

    benchmarks/results/weight_sweep-cpu-seeds<first>-<last>.json

with the sweep's cells in the summary record's form (student, row label, seeds, val mIoU per seed,
in %). ``python -m aicsd.study.committed_weights`` pools such records with the reference
reproduction's own sweep and commits the weights every machine then trains with.

    python benchmarks/weight_sweep.py --seeds 101 102
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime, timezone

from aicsd.engine import seeds_of
from aicsd.engine.checkpoint import atomic_write_json
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.study import experiments
from aicsd.study.provenance import provenance
from aicsd.study.record import sweep_cells

PROFILE = "cpu"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="tuning seeds (none of the tables' seeds)")
    args = parser.parse_args(argv)
    shared = sorted(set(args.seeds) & set(seeds_of(PROFILE)))
    if shared:
        raise SystemExit(f"--seeds {shared}: the tables' seeds {list(seeds_of(PROFILE))} may not tune their own weights")
    grid = experiments.weight_sweep(PROFILE)
    runs = [replace(run, config=replace(run.config, seed=seed)) for seed in args.seeds for run in grid]
    experiments.run_all(runs, test=False)
    cells = sweep_cells(experiments.collect(runs, test=False))
    for cell in cells:
        values = ", ".join(f"{value:.2f}" for value in cell["val_values"])
        print(f"{cell['backbone']:13s} {cell['label']:28s} {values}")
    record = {
        "profile": PROFILE,
        "seeds": list(args.seeds),
        "sweep": cells,
        "provenance": provenance({"profile": PROFILE, "dataset": "synthetic", "device": "cpu"}),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    output = BENCHMARK_RESULTS / f"weight_sweep-{PROFILE}-seeds{args.seeds[0]}-{args.seeds[-1]}.json"
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
