"""A short run of the ``paper`` profile on real CamVid, through the command line as a user runs it.

Three commands, each in its own process under its own time limit:

  python -m aicsd train-teacher --profile paper --dataset camvid ...   ResNet-101 teacher, full width
  python -m aicsd distill --profile paper --dataset camvid --method aicsd --teacher-run TEACHER ...
  python -m aicsd evaluate STUDENT --split val                         the student on CamVid val

The ``paper`` profile's recipe (crop 360 on CamVid, batch 8, bf16 autocast and channels_last on
CUDA, SGD with poly LR, 10x LR for the head), but from scratch (``pretrained_backbone=false``: no
ImageNet weights can be downloaded here) and for ``--epochs`` epochs instead of 200, so a few hundred
steps each. The record (``paper_run-<device>.json``) holds per run: throughput (training images/s),
peak CUDA memory, wall time, the loss and val mIoU curve per epoch (``metrics.jsonl``), the final
val metrics, and the ``evaluate`` result; plus device, versions, date and the data used.

    python benchmarks/bench_paper_run.py --data-root ../shared/data/camvid --epochs 12
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from aicsd.data import build_dataset
from aicsd.engine.checkpoint import atomic_write_json

REPO = Path(__file__).resolve().parent.parent
COMMON_FIELDS = ("pretrained_backbone=false",)
"""``--set`` values of both runs: no ImageNet weights offline."""


def _run(command: list[str], timeout_s: float, log: Path) -> dict[str, Any]:
    """Run ``command`` (``python -m aicsd ...``) from the repository root, stderr to ``log``; its JSON output parsed."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with log.open("w") as stderr:
        finished = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout_s)
    with log.open("a") as handle:
        handle.write(f"\n--- stdout of {' '.join(command)} ---\n{finished.stdout}")
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {finished.returncode}; see {log}")
    output = finished.stdout
    return {"output": json.loads(output[output.index("{") : output.rindex("}") + 1]), "command_s": time.perf_counter() - started}


def _run_record(store: Path, run_id: str, command_s: float) -> dict[str, Any]:
    """What a run folder says about throughput, memory and learning (result.json, metrics.jsonl, config.json)."""
    folder = store / run_id
    result = json.loads((folder / "result.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {
        "run_id": run_id,
        "backbone": config["backbone"],
        "width_multiplier": config["width_multiplier"],
        "method": result["method"],
        "crop_size": config["crop_size"],
        "batch_size": config["batch_size"],
        "epochs": config["epochs"],
        "amp": config["amp"],
        "channels_last": config["channels_last"],
        "pretrained_backbone": config["pretrained_backbone"],
        "params_m": result["params_m"],
        "train_images_per_s": result["train_images_per_s"],
        "peak_memory_bytes": result["peak_memory_bytes"],
        "wall_time_s": result["wall_time_s"],
        "command_s": command_s,
        "final_val": {key: result["final"][key] for key in ("miou", "pixel_accuracy")},
        "curve": [
            {
                "epoch": m["epoch"],
                **{key: value for key, value in m.items() if key.startswith("train_") and key != "train_time_s"},
                "val_miou": m.get("val_miou"),
                "epoch_time_s": m["epoch_time_s"],
            }
            for m in metrics
        ],
        "device": result["device"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True, help="a CamVid folder (SegNet layout)")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of each run (default 12)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds each of the two training commands may take")
    parser.add_argument("--store", type=Path, help="run store (default: a fresh temporary folder)")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="FIELD=VALUE", help="more --set values for both runs")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--logs", type=Path, help="folder for the commands' logs (default: the run store)")
    args = parser.parse_args(argv)
    store = args.store or Path(tempfile.mkdtemp(prefix="paper-run-"))
    logs = args.logs or store
    logs.mkdir(parents=True, exist_ok=True)
    common = ["--profile", "paper", "--dataset", "camvid", "--data-root", str(args.data_root.resolve()),
              "--output-dir", str(store), "--device", args.device, "--epochs", str(args.epochs), "--quiet"]  # fmt: skip
    for value in (*COMMON_FIELDS, *args.extra):
        common += ["--set", value]
    aicsd = [sys.executable, "-m", "aicsd"]
    teacher = _run([*aicsd, "train-teacher", *common], args.timeout, logs / "paper_run_teacher.log")
    print(f"teacher: {json.dumps(teacher['output'])}", flush=True)
    student = _run(
        [*aicsd, "distill", *common, "--method", "aicsd", "--teacher-run", teacher["output"]["run_id"]],
        args.timeout,
        logs / "paper_run_student.log",
    )
    print(f"student: {json.dumps(student['output'])}", flush=True)
    evaluation = _run(
        [*aicsd, "evaluate", student["output"]["run_id"], "--root", str(store), "--split", "val", "--device", args.device],
        args.timeout,
        logs / "paper_run_evaluate.log",
    )
    print(f"evaluate: miou {evaluation['output']['miou']:.4f}", flush=True)
    record = {
        "benchmark": "paper_run",
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine(),
        "device_type": "cuda" if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": "paper",
        "dataset": "camvid",
        "data": {f"{split}_images": len(build_dataset("camvid", args.data_root, split)) for split in ("train", "val")},
        "overrides": [f"epochs={args.epochs}", *COMMON_FIELDS, *args.extra],
        "runs": [
            _run_record(store, teacher["output"]["run_id"], teacher["command_s"]),
            _run_record(store, student["output"]["run_id"], student["command_s"]),
        ],
        "evaluate": {key: evaluation["output"][key] for key in ("split", "miou", "pixel_accuracy", "labels") if key in evaluation["output"]},
    }
    args.output.mkdir(parents=True, exist_ok=True)
    target = args.output / f"paper_run-{record['device_type']}.json"
    atomic_write_json(target, record)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
