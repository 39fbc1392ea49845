"""Training engine: run configs and profiles, the train/eval loops, checkpoints and the run store.

Entry points: :func:`train_teacher`, :func:`distill` and :func:`evaluate_checkpoint`, each driven by
a :class:`RunConfig` from :func:`load_profile`.
"""

from aicsd.engine.config import (
    PROFILES,
    RunConfig,
    config_hash,
    load_profile,
    parse_overrides,
    run_id,
    teacher_config,
    uses_teacher,
)
from aicsd.engine.fit import distill, evaluate_checkpoint, train_teacher
from aicsd.engine.loaders import seed_everything
from aicsd.engine.loops import FeatureTaps, Precision, evaluate, select_precision, train_one_epoch
from aicsd.engine.runstore import read_config, read_metrics, read_result, run_dir

__all__ = [
    "PROFILES",
    "FeatureTaps",
    "Precision",
    "RunConfig",
    "config_hash",
    "distill",
    "evaluate",
    "evaluate_checkpoint",
    "load_profile",
    "parse_overrides",
    "read_config",
    "read_metrics",
    "read_result",
    "run_dir",
    "run_id",
    "seed_everything",
    "select_precision",
    "teacher_config",
    "train_one_epoch",
    "train_teacher",
    "uses_teacher",
]
