"""Command line: argv -> RunConfig -> library calls.

    python -m aicsd make-synthetic [--root PATH]
    python -m aicsd train-teacher --profile cpu [--set field=value ...]
    python -m aicsd distill --profile cpu --method aicsd --seed 1 [--set field=value ...]
    python -m aicsd distill --teacher-run RUN_DIR_OR_ID ...   (a finished teacher run, any recipe)
    python -m aicsd evaluate RUN [--data-root DIR] [--split test] [--eval-mode full] [--eval-size N]
    python -m aicsd runs [--root runs] [--by method backbone] [--metric miou] [--per-class]

A usage or user error (unknown profile, field, method, backbone or dataset, a value out of range,
missing or broken data, a missing teacher run, an unreadable run file, a folder that cannot be
written: :class:`aicsd.errors.UserError` and ``OSError``) prints one ``aicsd: error: ...`` message
on stderr, without traceback, and exits with code 2; Ctrl-C exits with 130 and says how to resume.
Any other exception is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aicsd.data import DEFAULT_SYNTHETIC_ROOT, make_synthetic
from aicsd.data import dataset_splits
from aicsd.engine import PROFILES, RunConfig, distill, load_profile, runstore, train_teacher
from aicsd.engine.checkpoint import strict_json
from aicsd.engine.distributed import DEVICES, check_device
from aicsd.engine.evaluation import record_evaluation
from aicsd.errors import UserError
from aicsd.losses import METHODS, override_names
from aicsd.paths import RUNS_ROOT
from aicsd.results import evaluations_per_class, evaluations_table, load_evaluations, load_runs, per_class_table, runs_table

__all__ = ["build_parser", "main"]

# Explicit flags of train-teacher / distill: flag destination -> RunConfig field.
_RUN_FLAGS = {
    "dataset": "dataset",
    "data_root": "data_root",
    "backbone": "backbone",
    "seed": "seed",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "device": "device",
    "output_dir": "output_dir",
    "num_workers": "num_workers",
}
_DISTILL_FLAGS = {
    "method": "method",
    "teacher_backbone": "teacher_backbone",
    "teacher_checkpoint": "teacher_checkpoint",
}


def _parse_value(name: str, text: str, annotation: Any) -> Any:
    """Convert the string ``text`` to the type ``annotation`` of field ``name``."""
    args = typing.get_args(annotation)
    if type(None) in args:
        if text.strip().lower() in ("none", "null", ""):
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _parse_value(name, text, inner)
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} expects a boolean (true/false), got {text!r}")
    if typing.get_origin(annotation) is tuple:
        parts = [part for part in text.replace("(", "").replace(")", "").split(",") if part.strip()]
        if len(parts) != len(args):
            raise ValueError(f"{name} expects {len(args)} comma-separated values, got {text!r}")
        return tuple(_parse_value(name, part, arg) for part, arg in zip(parts, args, strict=True))
    if annotation in (int, float, str):
        try:
            return annotation(text.strip())
        except ValueError:
            raise ValueError(f"{name} expects {annotation.__name__}, got {text!r}") from None
    raise TypeError(f"no parser for field {name} of type {annotation}")


def _setting_types() -> dict[str, Any]:
    """The type of everything ``--set`` accepts: RunConfig fields, ``method`` and the method's settings."""
    hints = {name: hint for name, hint in typing.get_type_hints(RunConfig).items() if name not in ("profile", "distillation")}
    for name in override_names():
        hints[name] = float if name.endswith("_weight") or name == "temperature" else str
    hints["method"] = str
    return hints


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ``["epochs=3", "amp=false", "scale_range=0.5,2", "kd_weight=2"]`` into typed overrides."""
    hints = _setting_types()
    overrides: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"override {item!r} is not of the form field=value")
        if name not in hints:
            raise ValueError(f"unknown config field {name!r}; valid: {', '.join(sorted(hints))}")
        overrides[name] = _parse_value(name, text, hints[name])
    return overrides


def _add_run_arguments(parser: argparse.ArgumentParser, *, student: bool) -> None:
    parser.add_argument("--profile", default="cpu", help=f"named profile, one of {', '.join(PROFILES)} (default: cpu)")
    parser.add_argument("--dataset", help="synthetic, voc, cityscapes or camvid")
    parser.add_argument("--data-root", help="dataset folder (default: <repo>/data/<dataset>)")
    parser.add_argument("--backbone", help="resnet101, resnet50, resnet18 or mobilenet_v2")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, help="global batch size (split over DDP processes)")
    parser.add_argument("--lr", type=float, help="backbone learning rate (head: x head_lr_multiplier)")
    parser.add_argument("--device", help=f"{DEVICES} (default: auto)")
    parser.add_argument("--output-dir", help="run store (default: <repo>/runs)")
    parser.add_argument("--num-workers", type=int)
    if student:
        parser.add_argument("--method", help=f"one of {', '.join(METHODS)}")
        parser.add_argument("--teacher-backbone")
        parser.add_argument("--teacher-checkpoint", help="teacher weights (default: the profile's teacher run)")
        parser.add_argument(
            "--teacher-run",
            metavar="RUN_DIR_OR_ID",
            help="a finished teacher run (its folder, or its id in --output-dir), whatever its recipe; its "
            "backbone and width become the teacher's (default: the profile's teacher run)",
        )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any RunConfig field or loss setting, e.g. --set amp=false --set kd_weight=2 (repeatable)",
    )


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the usage is in ``--help``)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``aicsd`` argument parser with its five subcommands."""
    parser = _Parser(prog="aicsd", description="AICSD companion: data, training, evaluation, run tables")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synthetic = commands.add_parser("make-synthetic", help="generate the synthetic dataset (VOC layout)")
    synthetic.add_argument("--root", help="dataset folder (default: <repo>/data/synthetic)")
    synthetic.add_argument("--seed", type=int, default=0)
    synthetic.add_argument("--num-train", type=int, default=1000)
    synthetic.add_argument("--num-val", type=int, default=300)

    teacher = commands.add_parser("train-teacher", help="train (or resume) a teacher run")
    _add_run_arguments(teacher, student=False)
    student = commands.add_parser("distill", help="train (or resume) a student run with a distillation method")
    _add_run_arguments(student, student=True)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a run's checkpoint; the result is stored in the run's evaluations/ folder and listed by `runs`",
    )
    evaluate.add_argument("run", help="run folder (holding config.json and checkpoint.pt) or run id in --root")
    evaluate.add_argument("--root", help="run store to find a run id in (default: <repo>/runs)")
    evaluate.add_argument("--data-root", help="dataset folder of the same layout (default: the run's data_root)")
    evaluate.add_argument("--split", help="dataset split, e.g. val or test (default: the run's val split)")
    evaluate.add_argument(
        "--eval-mode",
        choices=("released", "full"),
        help="released: images and labels resized to shorter side --eval-size (labels nearest); "
        "full: original resolution (default: the run's)",
    )
    evaluate.add_argument("--eval-size", type=int, help="shorter side for --eval-mode released (default: the run's)")
    evaluate.add_argument("--device", default="auto", help=f"{DEVICES} (default: auto)")

    runs = commands.add_parser("runs", help="table of finished runs (mean, std, n over seeds)")
    runs.add_argument("--root", help="run store (default: <repo>/runs)")
    runs.add_argument(
        "--by",
        nargs="+",
        default=["dataset", "kind", "backbone", "method"],
        help="columns to group by; runs are further grouped by every result-changing field that differs "
        "within a group (shown) and by recipe (the config hash without the seed), so only seeds are pooled",
    )
    runs.add_argument(
        "--metric",
        default="miou",
        help="miou (default), pixel_accuracy, mean_class_accuracy or fwiou: one column for the val split and "
        "one for the held-out test split (final weights); or any single column: val_miou, best_val_miou, wall_time_s ...",
    )
    runs.add_argument("--per-class", action="store_true", help="also per-class IoU with class names, per split")
    for command in commands.choices.values():
        command.set_defaults(command_parser=command)
    return parser


def _run_config(args: argparse.Namespace, kind: str) -> RunConfig:
    overrides = parse_overrides(args.overrides)
    for fixed in ("kind", "profile"):
        if fixed in overrides:
            raise ValueError(f"{fixed} is set by the subcommand and --profile, not by --set")
    flags = {**_RUN_FLAGS, **(_DISTILL_FLAGS if kind == "student" else {})}
    for destination, field in flags.items():
        value = getattr(args, destination)
        if value is not None:
            overrides[field] = value
    if args.quiet:
        overrides["quiet"] = True
    if kind == "student" and args.teacher_run is not None:
        overrides.update(_teacher_run_fields(args.teacher_run, overrides))
    cfg = load_profile(args.profile, kind=kind, **overrides)
    check_device(cfg.device)  # before a finished run's result is returned whatever the device
    return cfg


def _teacher_run_fields(run: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """``teacher_run`` (the id when the run lies in the student's run store, else its absolute folder),
    ``teacher_backbone`` and ``teacher_width_multiplier`` of the teacher run ``run`` (folder or id)."""
    store = Path(overrides.get("output_dir", RunConfig.output_dir))
    folder = runstore.find_run(run, store)
    teacher = runstore.read_config(folder)
    in_store = folder.resolve().parent == store.resolve()
    fields = {"teacher_backbone": teacher.backbone, "teacher_width_multiplier": teacher.width_multiplier}
    clashes = [f"{name}={overrides[name]}" for name, value in fields.items() if overrides.get(name, value) != value]
    if clashes:
        raise ValueError(f"--teacher-run {run} is a {teacher.backbone} at width {teacher.width_multiplier:g}; drop {', '.join(clashes)}")
    return {"teacher_run": folder.name if in_store else str(folder.resolve()), **fields}


def _print_json(obj: Any) -> None:
    print(json.dumps(strict_json(obj), indent=2, sort_keys=True, allow_nan=False))


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    final = result["final"]
    return {
        "run_id": result["run_id"],
        "miou": final["miou"],
        "pixel_accuracy": final["pixel_accuracy"],
        "best_miou": result["best"]["miou"],
        "wall_time_s": result["wall_time_s"],
    }


def _dispatch(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.command_parser
    if args.command == "make-synthetic":
        root = make_synthetic(
            Path(args.root) if args.root else DEFAULT_SYNTHETIC_ROOT,
            seed=args.seed,
            num_train=args.num_train,
            num_val=args.num_val,
        )
        print(root)
        return 0
    if args.command in ("train-teacher", "distill"):
        kind = "teacher" if args.command == "train-teacher" else "student"
        try:
            cfg = _run_config(args, kind)
        except ValueError as error:
            parser.error(str(error))
        result = train_teacher(cfg) if kind == "teacher" else distill(cfg)
        _print_json(_summary(result))
        return 0
    if args.command == "evaluate":
        return _evaluate(args, parser)
    return _runs(args, parser)


def _evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``evaluate``: score a run, store the result in its folder, print it (JSON) and where it went."""
    if args.eval_mode == "full" and args.eval_size is not None:
        parser.error("--eval-size sets the shorter side of --eval-mode released; full mode scores the original resolution")
    check_device(args.device)
    folder = runstore.find_run(args.run, args.root or RUNS_ROOT)
    dataset = runstore.read_config(folder).dataset
    if args.split is not None and args.split not in dataset_splits(dataset):
        parser.error(f"unknown split {args.split!r} of {dataset}; valid: {', '.join(dataset_splits(dataset))}")
    record = record_evaluation(
        folder, split=args.split, eval_mode=args.eval_mode, eval_size=args.eval_size, data_root=args.data_root, device=args.device
    )
    _print_json(record)
    print(f"{record['split']} of {record['data_root']}: {record['labels']}; stored in {record['path']}", file=sys.stderr)
    return 0


_METRIC_PREFIXES = ("best_val_", "val_", "test_")


def _runs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``runs``: the table of finished runs (val and test), stored evaluations, per-class IoU on request."""
    root = Path(args.root) if args.root else RUNS_ROOT
    runs = load_runs(root)
    if runs.empty:
        print("no finished runs")
        return 0
    try:
        table = runs_table(runs, args.by, args.metric)
    except ValueError as error:
        parser.error(str(error))
    print(
        f"Finished runs in {root}: mean ± std over the runs of one recipe (every field that changes results but "
        "the seed; differing fields are shown), n runs; final weights. [split ...] names each column's split: "
        "val = validation, test = held-out test (- where the data root has no labelled test split)."
    )
    print(table.to_string())
    evaluations = load_evaluations(root)
    metric = next((args.metric[len(p):] for p in _METRIC_PREFIXES if args.metric.startswith(p)), args.metric)
    if not evaluations.empty and metric in evaluations.columns:
        print(f"\nStored evaluations (python -m aicsd evaluate): {metric}, mean ± std over the runs of a recipe")
        print(evaluations_table(evaluations, args.by, metric).to_string())
    if args.per_class:
        _print_per_class(runs, evaluations, args.by)
    return 0


def _print_per_class(runs: Any, evaluations: Any, by: list[str]) -> None:
    """Per-class IoU tables (%): per dataset, for val, test and each stored evaluation protocol."""
    for dataset, group in runs.groupby("dataset"):
        for column, split in (("val_per_class_iou", "val"), ("test_per_class_iou", "test")):
            if group[column].notna().any():
                print(f"\nPer-class IoU (%), {dataset}, split {split}, final weights:")
                print(per_class_table(group, by, column).round(2).to_string())
    if evaluations.empty:
        return
    for dataset, group in evaluations.groupby("dataset"):
        print(f"\nPer-class IoU (%), {dataset}, stored evaluations (.../split/eval_mode/eval_size/data_fingerprint recipe):")
        print(evaluations_per_class(group, by).round(2).to_string())


INTERRUPTED = "aicsd: interrupted; rerun the same command to resume (finished epochs and runs are kept)"


def _user_message(error: BaseException) -> str:
    """The message of a user error; of one raised in a DataLoader worker, its own last line."""
    text = str(error).strip() or type(error).__name__
    if "Original Traceback" in text:  # torch re-raises a worker's exception with the worker's traceback
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aicsd`` command line; returns the exit status.

    0 on success; 2 for a usage or user error (:class:`aicsd.errors.UserError`, ``OSError``),
    printed as ``aicsd: error: ...`` without traceback; 130 on Ctrl-C. Other exceptions propagate.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _dispatch(args)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except (UserError, OSError) as error:
        print(f"aicsd: error: {_user_message(error)}", file=sys.stderr)
        return 2
