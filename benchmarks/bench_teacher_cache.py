"""Wall time of a group of distillation runs with and without the shared teacher-output cache.

The book's grids train many methods on one student and seed; they see the same batches, so their
frozen teacher's forward is the same computation repeated. ``aicsd.study.experiments.run_all`` gives
each such group one ``TeacherOutputCache``. This benchmark trains one group twice, in one process
with one intra-op thread (as each of ``run_all``'s workers does), side by side:

  recompute   every run computes the teacher's forward at every step (no cache)
  shared      the runs share one cache: the first run computes and stores, the others read

Each run is the ``cpu`` profile's student run (generated dataset, its recipe) shortened to
``--images`` training images and ``--epochs`` epochs, with its evaluation on val and test. The
teacher is a ResNet-101 at the profile's width with random weights, saved once to a checkpoint:
its outputs are as expensive to compute as a trained teacher's, and no teacher needs training.
Each phase writes to its own fresh run store; the two phases must give bit-identical test mIoU
(checked). Printed: seconds per run in each phase, the total, and recompute / shared.
The record goes to benchmarks/results/bench_teacher_cache-cpu.json.

    python benchmarks/bench_teacher_cache.py [--images 400] [--epochs 1] [--methods kd ad ...]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from aicsd.data import generate_if_absent
from aicsd.engine import distill, load_profile
from aicsd.engine.checkpoint import atomic_write_json, save_checkpoint
from aicsd.engine.networks import build_network
from aicsd.engine.teacher_cache import TeacherOutputCache
from aicsd.paths import BENCHMARK_RESULTS

PHASES = ("recompute", "shared")
METHODS = ("kd", "ad", "sp", "ickd", "aicsd", "cwd", "dist")


def student_config(method: str, teacher: Path, runs: Path, args: argparse.Namespace) -> Any:
    """The ``cpu`` profile's run of ``method`` on ``args.student`` (seed 0), shortened, reading ``teacher``."""
    return load_profile(
        "cpu",
        backbone=args.student,
        method=method,
        seed=0,
        teacher_checkpoint=str(teacher),
        output_dir=str(runs),
        train_limit=args.images,
        epochs=args.epochs,
        eval_every=args.epochs,
        threads=1,
        device="cpu",
        quiet=True,
        **({"data_root": str(args.data_root)} if args.data_root else {}),
    )


def random_teacher(folder: Path) -> Path:
    """A checkpoint of the ``cpu`` profile's teacher network with random weights (seed 0)."""
    config = load_profile("cpu", kind="teacher")
    torch.manual_seed(0)
    network = build_network(config, config.backbone, config.width_multiplier, pretrained=False)
    path = folder / "teacher.pt"
    save_checkpoint(path, model=network.state_dict())
    return path


def run_phase(phase: str, teacher: Path, folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train every method of ``args.methods`` in a fresh run store; one cache for all in ``shared``."""
    cache = TeacherOutputCache() if phase == "shared" else None
    rows = []
    for method in args.methods:
        config = student_config(method, teacher, folder / phase, args)
        started = time.perf_counter()
        result = distill(config, teacher_cache=cache)
        rows.append({"phase": phase, "method": method, "seconds": time.perf_counter() - started, "test_miou": result["test"]["miou"]})
    if cache is not None:
        rows[-1]["cache"] = {"hits": cache.hits, "misses": cache.misses, "bytes": cache.bytes}
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400, help="training images per run (default 400: 50 steps of 8)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--student", default="resnet18", choices=["resnet18", "mobilenet_v2"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--data-root", type=Path, help="the generated dataset (default: the profile's)")
    parser.add_argument("--output", type=Path, default=BENCHMARK_RESULTS)
    args = parser.parse_args(argv)
    if args.images < 8 or args.epochs < 1:
        parser.error("--images must be at least one batch (8) and --epochs at least 1")
    torch.set_num_threads(1)
    generate_if_absent(Path(load_profile("cpu").data_root) if args.data_root is None else args.data_root)
    with tempfile.TemporaryDirectory(prefix="bench_teacher_cache-") as scratch:
        folder = Path(scratch)
        teacher = random_teacher(folder)
        rows = [row for phase in PHASES for row in run_phase(phase, teacher, folder, args)]
    totals = {phase: sum(row["seconds"] for row in rows if row["phase"] == phase) for phase in PHASES}
    by_method = {(row["phase"], row["method"]): row for row in rows}
    identical = all(by_method[("recompute", m)]["test_miou"] == by_method[("shared", m)]["test_miou"] for m in args.methods)
    print(f"{len(args.methods)} {args.student} runs of {args.images} images x {args.epochs} epoch(s), one thread, one process")
    print(f"{'method':>8} {'recompute s':>12} {'shared s':>9} {'ratio':>6}")
    for method in args.methods:
        a, b = by_method[("recompute", method)]["seconds"], by_method[("shared", method)]["seconds"]
        print(f"{method:>8} {a:12.1f} {b:9.1f} {a / b:6.2f}")
    print(f"{'total':>8} {totals['recompute']:12.1f} {totals['shared']:9.1f} {totals['recompute'] / totals['shared']:6.2f}")
    print(f"test mIoU identical in both phases: {identical}")
    record = {
        "benchmark": "bench_teacher_cache",
        "device": platform.processor() or platform.machine(),
        "threads": 1,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {"student": args.student, "images": args.images, "epochs": args.epochs, "methods": list(args.methods)},
        "rows": rows,
        "total_seconds": totals,
        "speedup": totals["recompute"] / totals["shared"],
        "identical_results": identical,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    target = args.output / "bench_teacher_cache-cpu.json"
    atomic_write_json(target, record)
    print(f"wrote {target}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
