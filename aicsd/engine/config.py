"""Run configuration: one frozen dataclass, three named profiles, a stable hash.

A :class:`RunConfig` holds everything that defines a training run. Profiles give its defaults:

- ``smoke``: the whole pipeline in seconds (a few tiny synthetic images, one epoch, narrow nets).
- ``cpu`` (the default): the CPU reproduction on the generated dataset (1,000 train / 300 val
  images of 64-96 px), 64-pixel crops, evaluation at shorter side 64 with batch 1. Teacher:
  ResNet-101 at width 0.25 (3.7 M parameters), 12 epochs over all training images. Students:
  ResNet-18 / MobileNetV2 at width 0.25 (1.05 M / 0.39 M), 4 epochs over the first 400 images,
  evaluated after the last epoch only (``eval_every`` 4). Batch 8, lr 0.01 for both. One intra-op
  thread (``threads`` 1): these networks are too small for a second thread to pay off, the numbers
  then do not depend on the machine's core count (results differ between thread counts in the last
  bits, and short runs amplify that), and two runs side by side use two cores. Measured on 2 cores:
  teacher about 4 minutes (31 % mIoU), a student run 18-31 s (15-17 % for ResNet-18).
- ``paper``: the released code's recipe (the digest of the paper and its code, ``shared/paper/DIGEST.md``): SGD momentum 0.9,
  weight decay 5e-4, poly LR (power 0.9) per iteration, 10x LR for ASPP + decoder, crop 513,
  ImageNet-pretrained backbones, full widths, ResNet-101 teacher, eval at shorter side 513 with
  batch 1. VOC: the released lr 0.007 is for batch 6; we train with batch 8 and scale it linearly to
  0.007 * 8 / 6 = 0.00933, 120 epochs, on ``train_aug`` (VOC train + SBD; the released code trains
  on the 1,464 VOC train images only because its SBD option crashes). Cityscapes: lr 0.01 at batch 8,
  200 epochs. CamVid is not in the paper: it gets the Cityscapes recipe with 360-pixel crops;
  other datasets lr 0.01 and 120 epochs. Threads: torch's default (all cores).

``batch_size`` is the global batch: under DDP each of N processes takes ``batch_size / N``, so the
recipe (and its lr) does not depend on the number of GPUs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EVAL_MODES",
    "ICSD_VARIANTS",
    "KINDS",
    "PROFILES",
    "RunConfig",
    "config_hash",
    "load_profile",
    "parse_overrides",
    "run_id",
    "teacher_config",
    "uses_teacher",
]

from aicsd.paths import REPO_ROOT
"""The checkout holding ``aicsd/``: relative data roots and the run store default to it."""
KINDS = ("teacher", "student")
EVAL_MODES = ("released", "full")
ICSD_VARIANTS = ("paper", "official")
PROFILES = ("smoke", "cpu", "paper")

# Fields that do not change a run's numbers: left out of config_hash.
_EXECUTION_FIELDS = frozenset({"quiet", "num_workers", "threads", "output_dir", "data_root", "device", "compile"})
# Fields naming the teacher: left out of the hash of runs that use no teacher.
_TEACHER_FIELDS = frozenset({"teacher_backbone", "teacher_width_multiplier", "teacher_checkpoint", "teacher_train_mode"})
# Fields of the distillation loss: left out of a teacher's hash (it trains with cross entropy only).
_DISTILL_FIELDS = frozenset(
    {
        "ce_weight",
        "kd_weight",
        "icsd_weight",
        "ad_weight",
        "sp_weight",
        "ickd_weight",
        "temperature",
        "icsd_variant",
        "adaptive",
    }
)
LOSS_WEIGHT_FIELDS = ("ce_weight", "kd_weight", "icsd_weight", "ad_weight", "sp_weight", "ickd_weight")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (teacher or student).

    The defaults are the ``cpu`` profile's student; build configs with :func:`load_profile`.
    Loss weights, ``temperature``, ``icsd_variant`` and ``adaptive`` set to ``None`` mean "the
    distiller's default for this method" (see ``aicsd.losses.build_distiller``).
    """

    profile: str = "cpu"
    kind: str = "student"
    method: str = "none"
    # networks
    backbone: str = "resnet18"
    width_multiplier: float = 0.25
    teacher_backbone: str = "resnet101"
    teacher_width_multiplier: float = 0.25
    teacher_checkpoint: str | None = None
    teacher_train_mode: bool = False
    output_stride: int = 16
    pretrained_backbone: bool = False
    # data
    dataset: str = "synthetic"
    data_root: str = str(REPO_ROOT / "data" / "synthetic")
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
    epochs: int = 4
    batch_size: int = 8
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    head_lr_multiplier: float = 10.0
    eval_every: int = 4
    # distillation
    ce_weight: float | None = None
    kd_weight: float | None = None
    icsd_weight: float | None = None
    ad_weight: float | None = None
    sp_weight: float | None = None
    ickd_weight: float | None = None
    temperature: float | None = None
    icsd_variant: str | None = None
    adaptive: bool | None = None
    # execution
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    sync_bn: bool = False
    deterministic: bool = True
    device: str = "auto"
    threads: int | None = 1
    num_workers: int = 0
    output_dir: str = str(REPO_ROOT / "runs")
    quiet: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def num_classes(self) -> int:
        """Number of classes of ``dataset`` (from ``aicsd.data.dataset_info``)."""
        from aicsd.data import dataset_info

        return dataset_info(self.dataset).num_classes

    def distiller_overrides(self) -> dict[str, Any]:
        """The keyword overrides for ``build_distiller``: only the fields that are not ``None``."""
        names = (*LOSS_WEIGHT_FIELDS, "temperature", "icsd_variant", "adaptive")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _choice(field: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {field} {value!r}; valid: {', '.join(valid)}")


def _validate(cfg: RunConfig) -> None:
    from aicsd.losses import METHODS
    from aicsd.models import BACKBONES

    _choice("profile", cfg.profile, PROFILES)
    _choice("kind", cfg.kind, KINDS)
    _choice("method", cfg.method, tuple(METHODS))
    _choice("backbone", cfg.backbone, tuple(BACKBONES))
    _choice("teacher_backbone", cfg.teacher_backbone, tuple(BACKBONES))
    _choice("eval_mode", cfg.eval_mode, EVAL_MODES)
    if cfg.icsd_variant is not None:
        _choice("icsd_variant", cfg.icsd_variant, ICSD_VARIANTS)
    _validate_dataset(cfg)
    if cfg.kind == "teacher" and cfg.method != "none":
        raise ValueError(f"a teacher run trains with cross-entropy only: method must be 'none', got {cfg.method!r}")
    _validate_loss_fields(cfg)
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
    }
    for name, value in positive.items():
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    for name in ("train_limit", "val_limit"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be None (all images) or >= 1, got {value}")
    if cfg.threads is not None and cfg.threads < 1:
        raise ValueError(f"threads must be None (torch's default) or >= 1, got {cfg.threads}")
    if cfg.num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {cfg.num_workers}")
    low, high = cfg.scale_range
    if not 0 < low <= high:
        raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {cfg.scale_range}")


def _validate_loss_fields(cfg: RunConfig) -> None:
    """Loss weights may only be set for terms the method has (ce for every method)."""
    from aicsd.losses import METHOD_SPECS

    terms = ("ce", *METHOD_SPECS[cfg.method].terms)
    for name in LOSS_WEIGHT_FIELDS:
        if getattr(cfg, name) is not None and name.removesuffix("_weight") not in terms:
            raise ValueError(f"{name} has no effect: method {cfg.method!r} has the terms {', '.join(terms)}")


def _validate_dataset(cfg: RunConfig) -> None:
    from aicsd.data import DATASETS, dataset_splits

    _choice("dataset", cfg.dataset, tuple(DATASETS))
    splits = tuple(dataset_splits(cfg.dataset))
    _choice(f"train_split of {cfg.dataset}", cfg.train_split, splits)
    _choice(f"val_split of {cfg.dataset}", cfg.val_split, splits)
    if cfg.test_split is not None:
        _choice(f"test_split of {cfg.dataset}", cfg.test_split, splits)


def _profile_defaults(name: str, kind: str, dataset: str) -> dict[str, Any]:
    """Field values of profile ``name`` for a ``kind`` run on ``dataset`` (over the class defaults)."""
    if name == "smoke":
        return {
            "epochs": 1,
            "batch_size": 4,
            "crop_size": 32,
            "eval_size": 32,
            "eval_batch_size": 4,
            "eval_every": 1,
            "train_limit": 8,
            "val_limit": 4,
            "width_multiplier": 0.125,
            "teacher_width_multiplier": 0.125,
            "teacher_backbone": "resnet18",
        }
    if name == "cpu":
        if kind == "teacher":
            return {"backbone": "resnet101", "train_limit": None, "epochs": 12}
        return {}
    if name == "paper":
        common = {
            "width_multiplier": 1.0,
            "teacher_width_multiplier": 1.0,
            "teacher_backbone": "resnet101",
            "pretrained_backbone": True,
            "crop_size": 513,
            "eval_size": 513,
            "eval_batch_size": 1,
            "eval_every": 1,
            "batch_size": 8,
            "train_limit": None,
            "threads": None,
            "num_workers": 4,
        }
        if dataset == "voc":
            recipe = {"lr": 0.007 * 8 / 6, "epochs": 120, "train_split": "train_aug"}
        elif dataset == "cityscapes":
            recipe = {"lr": 0.01, "epochs": 200}
        elif dataset == "camvid":
            recipe = {"lr": 0.01, "epochs": 200, "crop_size": 360, "eval_size": 360}
        else:
            recipe = {"lr": 0.01, "epochs": 120}
        if kind == "teacher":
            recipe["backbone"] = "resnet101"
        return {**common, **recipe}
    raise ValueError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")


def load_profile(name: str = "cpu", **overrides: Any) -> RunConfig:
    """The :class:`RunConfig` of profile ``name`` with ``overrides`` (field=value) applied.

    ``kind`` and ``dataset`` may be among the overrides; they select the profile's teacher or student
    defaults and its per-dataset recipe. ``data_root`` defaults to ``<repo>/data/<dataset>`` and
    ``output_dir`` to ``<repo>/runs``. Unknown profiles or fields raise ValueError listing the
    valid ones.
    """
    valid_fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - valid_fields)
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; valid: {', '.join(sorted(valid_fields))}")
    if "profile" in overrides:
        raise ValueError("pass the profile as load_profile(name), not as an override")
    kind = overrides.get("kind", RunConfig.kind)
    dataset = overrides.get("dataset", RunConfig.dataset)
    values = {**_profile_defaults(name, kind, dataset), **overrides}
    values.setdefault("data_root", str(REPO_ROOT / "data" / dataset))
    values.setdefault("test_split", "test" if dataset == "synthetic" else None)
    if kind == "teacher":
        values.setdefault("method", "none")
    return RunConfig(profile=name, **values)


def teacher_config(cfg: RunConfig) -> RunConfig:
    """The teacher run a student ``cfg`` distils from when ``teacher_checkpoint`` is ``None``.

    It is the profile's teacher on the same dataset, data root, splits and image sizes, with the
    student config's teacher backbone and width and its execution settings; its seed is the
    profile's (one teacher serves every student seed).
    """
    shared = (
        "dataset",
        "data_root",
        "train_split",
        "val_split",
        "test_split",
        "crop_size",
        "scale_range",
        "eval_mode",
        "eval_size",
        "output_stride",
        "amp",
        "channels_last",
        "compile",
        "sync_bn",
        "deterministic",
        "device",
        "threads",
        "num_workers",
        "output_dir",
        "quiet",
    )
    return load_profile(
        cfg.profile,
        kind="teacher",
        backbone=cfg.teacher_backbone,
        width_multiplier=cfg.teacher_width_multiplier,
        **{name: getattr(cfg, name) for name in shared},
    )


def uses_teacher(cfg: RunConfig) -> bool:
    """Whether the run reads a teacher: a student whose method has distillation terms."""
    from aicsd.losses import METHOD_SPECS

    return cfg.kind == "student" and bool(METHOD_SPECS[cfg.method].terms)


def config_hash(cfg: RunConfig) -> str:
    """Hex SHA-256 over the fields that change results.

    Execution-only fields (quiet, num_workers, threads, output_dir, data_root, device, compile) and the
    profile name are left out (a dataset is identified by its name, split and limits, not by where
    its files lie); a teacher's hash leaves out the distillation fields, a run without a teacher (teacher
    or method ``"none"``) the teacher fields. A student distilling from the derived teacher
    (``teacher_checkpoint`` ``None``) hashes that teacher's run id instead.
    """
    dropped = set(_EXECUTION_FIELDS) | {"profile"}
    if cfg.kind == "teacher":
        dropped |= _DISTILL_FIELDS
    if not uses_teacher(cfg):
        dropped |= _TEACHER_FIELDS
    payload = {name: value for name, value in dataclasses.asdict(cfg).items() if name not in dropped}
    if uses_teacher(cfg) and cfg.teacher_checkpoint is None:
        payload["teacher_run"] = run_id(teacher_config(cfg))
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_id(cfg: RunConfig) -> str:
    """Run directory name: ``<kind>-<method>-<backbone>-<hash12>``."""
    return f"{cfg.kind}-{cfg.method}-{cfg.backbone}-{config_hash(cfg)[:12]}"


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


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ``["epochs=3", "amp=false", "scale_range=0.5,2"]`` into typed field overrides."""
    hints = typing.get_type_hints(RunConfig)
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
