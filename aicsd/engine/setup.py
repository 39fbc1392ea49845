"""The teacher of a student run (from its checkpoint) and the optimiser: SGD with a poly LR."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aicsd.engine import runstore
from aicsd.engine.checkpoint import load_checkpoint
from aicsd.engine.config import RunConfig
from aicsd.engine.networks import build_network
from aicsd.engine.identity import EXECUTION_FIELDS, run_id
from aicsd.engine.profiles import load_profile, teacher_config
from aicsd.errors import ConfigError

__all__ = [
    "load_teacher",
    "make_optimizer",
    "missing_teacher_hint",
    "poly_factor",
    "teacher_checkpoint_path",
    "teacher_run_dir",
    "teacher_run_id",
    "train_teacher_command",
]


def teacher_run_dir(cfg: RunConfig) -> Path:
    """The folder of the teacher run a student ``cfg`` reads when ``teacher_checkpoint`` is None.

    ``teacher_run`` is a run folder (a path) or a run id in ``cfg.output_dir``; when it is None,
    the profile's teacher (:func:`~aicsd.engine.profiles.teacher_config`).
    """
    if cfg.teacher_run is None:
        return runstore.run_dir(teacher_config(cfg))
    named = Path(cfg.teacher_run)
    return named if named.is_absolute() or len(named.parts) > 1 else Path(cfg.output_dir) / named


def teacher_run_id(cfg: RunConfig) -> str:
    """The run id of the teacher a student ``cfg`` reads (``teacher_checkpoint`` None): the folder
    name of ``teacher_run``, or of the profile's teacher (:func:`~aicsd.engine.profiles.teacher_config`)
    when that is None."""
    return run_id(teacher_config(cfg)) if cfg.teacher_run is None else Path(cfg.teacher_run).name


def teacher_checkpoint_path(cfg: RunConfig) -> Path:
    """The teacher weights of a student run: ``teacher_checkpoint`` or those of its teacher run."""
    if cfg.teacher_checkpoint is not None:
        path = Path(cfg.teacher_checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"teacher_checkpoint {path} does not exist")
        return path
    directory = teacher_run_dir(cfg)
    if runstore.read_result(directory) is None:
        raise FileNotFoundError(missing_teacher_hint(cfg, directory))
    teacher = runstore.read_config(directory)
    found = (teacher.dataset, teacher.backbone, teacher.width_multiplier)
    if found != (cfg.dataset, cfg.teacher_backbone, cfg.teacher_width_multiplier):
        raise ConfigError(
            f"teacher run {directory} is a {teacher.backbone} at width {teacher.width_multiplier:g} on "
            f"{teacher.dataset}; this student expects a {cfg.teacher_backbone} at width "
            f"{cfg.teacher_width_multiplier:g} on {cfg.dataset} (set teacher_backbone and teacher_width_multiplier)"
        )
    return directory / runstore.CHECKPOINT


def _flag_value(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value).lower() if value is None or isinstance(value, bool) else str(value)


def train_teacher_command(cfg: RunConfig) -> str:
    """The ``python -m aicsd train-teacher`` command that trains the profile's teacher of student
    ``cfg`` (:func:`~aicsd.engine.profiles.teacher_config`): its profile, dataset, data root, run
    store and device, and ``--set`` for every field that differs from the profile's teacher."""
    teacher = teacher_config(cfg)
    plain = load_profile(cfg.profile, kind="teacher", dataset=cfg.dataset, data_root=cfg.data_root, output_dir=cfg.output_dir)
    words = ["python -m aicsd train-teacher", f"--profile {cfg.profile}", f"--dataset {cfg.dataset}"]
    words += [f"--data-root {shlex.quote(cfg.data_root)}", f"--output-dir {shlex.quote(cfg.output_dir)}"]
    if teacher.device != "auto":
        words.append(f"--device {shlex.quote(teacher.device)}")
    skipped = EXECUTION_FIELDS | {"kind", "distillation"}
    for item in dataclasses.fields(teacher):
        value = getattr(teacher, item.name)
        if item.name not in skipped and value != getattr(plain, item.name):
            words.append(f"--set {item.name}={shlex.quote(_flag_value(value))}")
    return " ".join(words)


def _finished_teachers(cfg: RunConfig) -> list[str]:
    """``id (epochs, crop, backbone x width)`` of the finished teacher runs on ``cfg.dataset`` in its run store."""
    if not Path(cfg.output_dir).is_dir():
        return []
    found = []
    for directory in runstore.finished_runs(cfg.output_dir):
        other = runstore.read_config(directory)
        if other.kind == "teacher" and other.dataset == cfg.dataset:
            found.append(
                f"{directory.name} ({other.epochs} epochs, crop {other.crop_size}, {other.backbone} x{other.width_multiplier:g})"
            )
    return found


def missing_teacher_hint(cfg: RunConfig, directory: Path) -> str:
    """The error (one line) of a student ``cfg`` whose teacher run ``directory`` has not finished: how
    to train it (the exact command for the profile's teacher), how to name another teacher run, and
    the finished teacher runs on the same dataset in the run store."""
    if cfg.teacher_run is None or Path(cfg.teacher_run).name == run_id(teacher_config(cfg)):
        how = (
            f"train it first with `{train_teacher_command(cfg)}` "
            f"(from Python: aicsd.engine.train_teacher(teacher_config(cfg)))"
        )
    else:
        how = "train it first (rerunning the train-teacher command that started it resumes it)"
    hint = (
        f"the teacher run {directory} has not finished; {how}, or give a finished teacher run with "
        "--teacher-run RUN_DIR_OR_ID (teacher_run=) or its weights with --teacher-checkpoint PATH"
    )
    finished = _finished_teachers(cfg)
    return hint + (f"; finished teacher runs on {cfg.dataset} in {cfg.output_dir}: {', '.join(finished)}" if finished else "")


def _state_dict_of(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights in a checkpoint of ours, or a bare state dict."""
    return checkpoint["model"] if "model" in checkpoint else checkpoint


def _mismatch(expected: dict[str, torch.Tensor], found: dict[str, Any]) -> str:
    """``""`` when ``found`` has exactly the tensors of ``expected``, else a one-line summary."""
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    reshaped = [
        f"{key} {tuple(found[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in found and getattr(found[key], "shape", None) != value.shape
    ]
    parts = [
        f"{len(items)} {what}, e.g. {items[0]}"
        for items, what in ((missing, "missing tensors"), (unexpected, "unexpected tensors"), (reshaped, "of another shape"))
        if items
    ]
    return "; ".join(parts)


def load_teacher(cfg: RunConfig, device: torch.device) -> tuple[nn.Module, Path]:
    """The teacher of student ``cfg`` on ``device``, frozen unless ``teacher_train_mode``; and its path."""
    path = teacher_checkpoint_path(cfg)
    teacher = build_network(cfg, cfg.teacher_backbone, cfg.teacher_width_multiplier, pretrained=False)
    state = load_checkpoint(path) if cfg.teacher_checkpoint is not None else runstore.read_store_file(path, load_checkpoint)
    weights = _state_dict_of(state)
    mismatch = _mismatch(teacher.state_dict(), weights)
    if mismatch:
        raise ConfigError(
            f"teacher checkpoint {path} does not fit a {cfg.teacher_backbone} teacher with width "
            f"{cfg.teacher_width_multiplier:g} and {cfg.num_classes} classes ({mismatch}); set teacher_backbone "
            "(--teacher-backbone) and teacher_width_multiplier to those it was trained with"
        )
    teacher.load_state_dict(weights)
    teacher.requires_grad_(cfg.teacher_train_mode)
    return teacher.to(device), path


def poly_factor(total_steps: int, power: float, warmup_steps: int = 0) -> Callable[[int], float]:
    """LambdaLR factor of the poly schedule: (1 - step / total_steps) ** power, per iteration,
    times a linear warm-up ``(step + 1) / warmup_steps`` over the first ``warmup_steps`` steps."""

    def factor(step: int) -> float:
        warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
        return warmup * max(0.0, 1.0 - step / total_steps) ** power

    return factor


def make_optimizer(cfg: RunConfig, model: nn.Module, distiller: nn.Module) -> torch.optim.SGD:
    """SGD over the model's groups (backbone lr, head lr * multiplier) and the distiller at head lr."""
    groups = model.param_groups(cfg.lr, head_lr_multiplier=cfg.head_lr_multiplier)
    extra = [p for p in distiller.parameters() if p.requires_grad]
    if extra:
        groups.append({"params": extra, "lr": cfg.lr * cfg.head_lr_multiplier})
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
