"""How far the teacher is ahead of the plain ResNet-18 student on a real dataset's ``val`` split, per
teacher recipe tried: the measurement that chooses the ``cpu`` profile's teacher on that dataset.

A student learns from a teacher only what the teacher knows beyond it. On CamVid the profile's
first teacher (ResNet-101 at width 0.25, 12 epochs) ended 2.8 mIoU points above the ResNet-18
student, too little for any claim to be decided. This script trains, side by side in the shared
run store (so a reproduction reuses the runs whose config it shares), each teacher recipe given
and the plain ResNet-18 student of the profile at its first seeds, and records per teacher its
val mIoU, its edge over the students' mean, its training steps and wall time:

    python benchmarks/teacher_edge.py --dataset camvid --data-root DIR \
        --teacher resnet101:0.25:12 resnet101:0.25:36 resnet101:0.5:12 [--student-seeds 0 1 2] [--output DIR]

Each ``--teacher`` is ``backbone:width:epochs``. Everything is chosen and reported on ``val``.
Written to ``benchmarks/results/teacher_edge-<profile>-<dataset>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch


from aicsd.engine import RunConfig, read_metrics, read_result, run_dir, run_id
from aicsd.engine.checkpoint import atomic_write_json
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.study import experiments
from aicsd.study.record_files import record_name, teacher_edge_file


def teacher_recipe(text: str) -> tuple[str, float, int]:
    """``"resnet101:0.25:36"`` -> (backbone, width multiplier, epochs); ValueError naming the form otherwise."""
    try:
        backbone, width, epochs = text.split(":")
        return backbone, float(width), int(epochs)
    except ValueError as error:
        raise ValueError(f"--teacher {text!r}: give backbone:width:epochs, e.g. resnet101:0.25:36") from error


def val_miou(config: RunConfig) -> float:
    """The finished run's final val mIoU in %."""
    return 100 * float(read_result(run_dir(config))["final"]["miou"])


def run_facts(config: RunConfig) -> dict[str, Any]:
    """Run id, network, epochs, val mIoU (%) and training wall time (s) of a finished run."""
    records = read_metrics(run_dir(config))
    return {
        "run": run_id(config),
        "backbone": config.backbone,
        "width": config.width_multiplier,
        "epochs": config.epochs,
        "val_miou": val_miou(config),
        "train_wall_s": records[-1]["wall_time_s"] if records else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="camvid")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--teacher", nargs="+", required=True, type=teacher_recipe, help="backbone:width:epochs")
    parser.add_argument("--student-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=BENCHMARK_RESULTS, help="folder of the record")
    args = parser.parse_args(argv)
    place = {"dataset": args.dataset, "data_root": args.data_root}
    base = experiments.teacher_run(args.profile, **place)
    teachers = [
        dataclasses.replace(base, backbone=backbone, width_multiplier=width, epochs=epochs) for backbone, width, epochs in args.teacher
    ]
    students = [experiments.student_run(args.profile, backbone="resnet18", method="none", seed=seed, **place) for seed in args.student_seeds]
    experiments.run_all([*teachers, *students], test=False)
    student_facts = [run_facts(config) for config in students]
    student_mean = statistics.fmean(fact["val_miou"] for fact in student_facts)
    rows = []
    for config in teachers:
        facts = run_facts(config)
        rows.append({**facts, "edge_over_student": facts["val_miou"] - student_mean, "profile_teacher": run_id(config) == run_id(base)})
    for row in rows:
        print(
            f"{row['backbone']} x{row['width']:g}, {row['epochs']} epochs: val mIoU {row['val_miou']:.2f} %, "
            f"edge {row['edge_over_student']:+.2f} points over the ResNet-18 student ({student_mean:.2f} %), "
            f"{row['train_wall_s'] or float('nan'):.0f} s of training"
        )
    record = {
        "profile": args.profile,
        "dataset": args.dataset,
        "split": "val",
        "teachers": rows,
        "students": student_facts,
        "student_val_miou_mean": student_mean,
        "student_val_miou_std": statistics.stdev(f["val_miou"] for f in student_facts) if len(student_facts) > 1 else None,
        "torch": torch.__version__,
        "threads_per_run": base.threads,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    output = args.output / teacher_edge_file(record_name(args.profile, args.dataset))
    atomic_write_json(output, record)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
