"""Run configuration: one frozen dataclass, validated once when it is built.

A :class:`RunConfig` holds everything that defines a training run (teacher or student); the
distillation method is one resolved value, :class:`aicsd.losses.MethodConfig`, with every weight,
temperature and schedule filled in. Build configs with :func:`aicsd.engine.profiles.load_profile`
(profiles: :mod:`aicsd.engine.profiles`); a run's identity is :mod:`aicsd.engine.identity`.

The class defaults are the ``cpu`` profile's student; ``batch_size`` is the global batch: under DDP
each of N processes takes ``batch_size / N``, so the recipe (and its lr) does not depend on the
number of GPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from aicsd.data import DATASETS, dataset_info, dataset_splits
from aicsd.data.transforms import EVAL_MODES
from aicsd.errors import ConfigError
from aicsd.losses import METHODS, MethodConfig, resolve
from aicsd.models import BACKBONES
from aicsd.models.deeplabv3plus import ASPP_RATES
from aicsd.paths import DATA_ROOT, RUNS_ROOT

__all__ = ["KINDS", "RunConfig"]

KINDS = ("teacher", "student")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (teacher or student).

    ``distillation`` is the resolved method (a teacher's is ``none``: cross entropy only).
    Raises ConfigError (a ValueError) on construction when a field is out of range or names an
    unknown choice.
    """

    profile: str = "cpu"
    kind: str = "student"
    distillation: MethodConfig = field(default_factory=lambda: resolve("none"))
    # networks
    backbone: str = "resnet18"
    width_multiplier: float = 0.25
    teacher_backbone: str = "resnet101"
    teacher_width_multiplier: float = 0.25
    teacher_checkpoint: str | None = None
    teacher_run: str | None = None  # the teacher's run id (in output_dir) or run folder
    teacher_train_mode: bool = False
    output_stride: int = 16
    pretrained_backbone: bool = False
    # data
    dataset: str = "synthetic"
    data_root: str = str(DATA_ROOT / "synthetic")
    train_split: str = "train"
    val_split: str = "val"
    test_split: str | None = "test"
    train_limit: int | None = 400
    val_limit: int | None = None
    crop_size: int = 64
    scale_range: tuple[float, float] = (0.5, 2.0)
    eval_mode: str = "released"
    eval_size: int = 64
    eval_batch_size: int = 1
    # optimisation
    seed: int = 0
    init_seed: int | None = None  # the networks' initial weights from this seed (None: from ``seed``)
    epochs: int = 4
    batch_size: int = 8
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    ema_decay: float = 0.0  # > 0: evaluate a moving average of the weights (aicsd.engine.ema)
    warmup_steps: int = 0  # > 0: the lr ramps up linearly over these first optimiser steps
    head_lr_multiplier: float = 10.0
    eval_every: int = 4
    # execution
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    sync_bn: bool = False
    deterministic: bool = True
    device: str = "auto"
    threads: int | None = 1
    num_workers: int = 0
    output_dir: str = str(RUNS_ROOT)
    quiet: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def method(self) -> str:
        """The distillation method's name (``none`` for a teacher or the plain student)."""
        return self.distillation.method

    @property
    def num_classes(self) -> int:
        """Number of classes of ``dataset``."""
        return dataset_info(self.dataset).num_classes

    @property
    def uses_teacher(self) -> bool:
        """Whether the run reads a teacher: a student whose method has distillation terms."""
        return self.kind == "student" and bool(self.distillation.terms)


def _choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


def _validate(cfg: RunConfig) -> None:
    _choice("kind", cfg.kind, KINDS)
    _choice("method", cfg.method, tuple(METHODS))
    _choice("backbone", cfg.backbone, tuple(BACKBONES))
    _choice("teacher_backbone", cfg.teacher_backbone, tuple(BACKBONES))
    _choice("eval_mode", cfg.eval_mode, EVAL_MODES)
    _choice("dataset", cfg.dataset, tuple(DATASETS))
    splits = tuple(dataset_splits(cfg.dataset))
    for name in ("train_split", "val_split", "test_split"):
        value = getattr(cfg, name)
        if value is not None:
            _choice(f"{name} of {cfg.dataset}", value, splits)
    if cfg.teacher_run is not None and cfg.teacher_checkpoint is not None:
        raise ConfigError("give the teacher as teacher_run or as teacher_checkpoint, not both")
    if cfg.kind == "teacher" and cfg.method != "none":
        raise ConfigError(f"a teacher run trains with cross-entropy only: method must be 'none', got {cfg.method!r}")
    positive = {
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "crop_size": cfg.crop_size,
        "eval_size": cfg.eval_size,
        "eval_batch_size": cfg.eval_batch_size,
        "eval_every": cfg.eval_every,
        "lr": cfg.lr,
        "width_multiplier": cfg.width_multiplier,
        "teacher_width_multiplier": cfg.teacher_width_multiplier,
        "head_lr_multiplier": cfg.head_lr_multiplier,
        "output_stride": cfg.output_stride,
    }
    for name, value in positive.items():
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name} must be a finite number > 0, got {value}")
    if cfg.output_stride not in ASPP_RATES:
        raise ConfigError(f"output_stride must be one of {', '.join(map(str, ASPP_RATES))}, got {cfg.output_stride}")
    for name in ("weight_decay", "poly_power"):
        value = getattr(cfg, name)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name} must be a finite number >= 0, got {value}")
    if cfg.init_seed is not None and cfg.init_seed < 0:
        raise ConfigError(f"init_seed must be None (initialise from seed) or >= 0, got {cfg.init_seed}")
    if cfg.warmup_steps < 0:
        raise ConfigError(f"warmup_steps must be >= 0 (0: no warm-up), got {cfg.warmup_steps}")
    if not (math.isfinite(cfg.ema_decay) and 0 <= cfg.ema_decay < 1):
        raise ConfigError(f"ema_decay must lie in [0, 1) (0: no moving average), got {cfg.ema_decay}")
    if not 0 <= cfg.momentum < 1:
        raise ConfigError(f"momentum must lie in [0, 1), got {cfg.momentum}")
    for name in ("train_limit", "val_limit"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be None (all images) or >= 1, got {value}")
    if cfg.threads is not None and cfg.threads < 1:
        raise ConfigError(f"threads must be None (torch's default) or >= 1, got {cfg.threads}")
    if cfg.num_workers < 0:
        raise ConfigError(f"num_workers must be >= 0, got {cfg.num_workers}")
    low, high = cfg.scale_range
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise ConfigError(f"scale_range must be (low, high) with 0 < low <= high, got {cfg.scale_range}")
