"""The teacher of a student run (from its checkpoint) and the optimiser: SGD with a poly LR."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aicsd.engine import runstore
from aicsd.engine.checkpoint import load_checkpoint
from aicsd.engine.config import RunConfig
from aicsd.engine.networks import build_network
from aicsd.engine.profiles import teacher_config
from aicsd.errors import ConfigError

__all__ = ["load_teacher", "make_optimizer", "poly_factor", "teacher_checkpoint_path"]


def teacher_checkpoint_path(cfg: RunConfig) -> Path:
    """The teacher weights of a student run: ``teacher_checkpoint`` or the derived teacher run's."""
    if cfg.teacher_checkpoint is not None:
        path = Path(cfg.teacher_checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"teacher_checkpoint {path} does not exist")
        return path
    teacher_cfg = teacher_config(cfg)
    directory = runstore.run_dir(teacher_cfg)
    if runstore.read_result(directory) is None:
        raise FileNotFoundError(
            f"the teacher run {directory} has not finished; train it first with "
            f"aicsd.engine.train_teacher(teacher_config(cfg)) or "
            f"`python -m aicsd train-teacher --profile {cfg.profile} --set dataset={cfg.dataset}`, "
            "or set teacher_checkpoint"
        )
    return directory / runstore.CHECKPOINT


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


def poly_factor(total_steps: int, power: float) -> Callable[[int], float]:
    """LambdaLR factor of the poly schedule: (1 - step / total_steps) ** power, per iteration."""

    def factor(step: int) -> float:
        return max(0.0, 1.0 - step / total_steps) ** power

    return factor


def make_optimizer(cfg: RunConfig, model: nn.Module, distiller: nn.Module) -> torch.optim.SGD:
    """SGD over the model's groups (backbone lr, head lr * multiplier) and the distiller at head lr."""
    groups = model.param_groups(cfg.lr, head_lr_multiplier=cfg.head_lr_multiplier)
    extra = [p for p in distiller.parameters() if p.requires_grad]
    if extra:
        groups.append({"params": extra, "lr": cfg.lr * cfg.head_lr_multiplier})
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
