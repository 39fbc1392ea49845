"""A run's identity: a stable hash over the fields that change its numbers, and its folder name.

Execution-only fields (where data and runs lie, device, threads, workers, progress output,
``torch.compile``) and the profile's name are left out: the same recipe from two profiles is the
same run. A teacher's hash leaves out the distillation (it trains with cross entropy only); a run
without a teacher leaves out the teacher fields. A student distilling from a teacher run
(``teacher_checkpoint`` None) hashes that run's id (``teacher_run``'s folder name, which
:func:`aicsd.engine.profiles.load_profile` fills in with the profile's teacher), not where the run lies. The resolved method, with
every weight, temperature and ALW form, is part of the hash: changing a default weight changes
the ids of exactly the runs that use it.

The data is part of the hash through its fingerprint (:func:`run_data`), not its folder: moving
a dataset keeps its run ids, another dataset (another generator seed, other split lists, other
files) at the same or another path gets new ones. A student's teacher run id carries it too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from aicsd.data.identity import DataFingerprint, dataset_fingerprint
from aicsd.engine.config import RunConfig
from aicsd.errors import ConfigError

__all__ = ["EXECUTION_FIELDS", "LATER_FIELDS", "config_hash", "run_data", "run_id"]

EXECUTION_FIELDS = frozenset({"profile", "quiet", "num_workers", "threads", "output_dir", "data_root", "device", "compile"})
"""Fields that do not change a run's numbers."""
_TEACHER_FIELDS = frozenset({"teacher_backbone", "teacher_width_multiplier", "teacher_checkpoint", "teacher_run", "teacher_train_mode"})
LATER_FIELDS = frozenset({"ema_decay", "warmup_steps", "init_seed"})
"""Fields added to :class:`RunConfig` after runs were first stored: hashed only when set away from
their default, which trains exactly as before they existed, so adding them kept every run's id."""
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(RunConfig)}


def config_hash(cfg: RunConfig) -> str:
    """Hex SHA-256 over the fields of ``cfg`` that change results (see the module docstring)."""
    dropped = set(EXECUTION_FIELDS) | {name for name in LATER_FIELDS if getattr(cfg, name) == _DEFAULTS[name]}
    if cfg.kind == "teacher":
        dropped.add("distillation")
    if not cfg.uses_teacher:
        dropped |= _TEACHER_FIELDS
    payload = {name: value for name, value in dataclasses.asdict(cfg).items() if name not in dropped}
    payload.pop("teacher_run", None)
    payload["data"] = run_data(cfg).digest  # first: missing data is reported as such
    if cfg.uses_teacher and cfg.teacher_checkpoint is None:
        if cfg.teacher_run is None:
            raise ConfigError(
                f"the {cfg.method} student on {cfg.backbone} names no teacher: set teacher_run (a teacher run's id "
                "or folder) or teacher_checkpoint, or build the config with load_profile, which names the profile's teacher"
            )
        payload["teacher_run"] = Path(cfg.teacher_run).name
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_data(cfg: RunConfig) -> DataFingerprint:
    """The fingerprint of the splits ``cfg`` trains, validates and tests on, under ``cfg.data_root``
    (:func:`aicsd.data.identity.dataset_fingerprint`). Raises what reading the dataset raises."""
    splits = tuple(split for split in (cfg.train_split, cfg.val_split, cfg.test_split) if split is not None)
    return dataset_fingerprint(cfg.dataset, cfg.data_root, splits)


def run_id(cfg: RunConfig) -> str:
    """Run directory name: ``<kind>-<method>-<backbone>-<hash12>``."""
    return f"{cfg.kind}-{cfg.method}-{cfg.backbone}-{config_hash(cfg)[:12]}"
