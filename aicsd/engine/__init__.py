"""Training engine: run configs and profiles, the train/eval loops, checkpoints and the run store.

Entry points: :func:`train_teacher` and :func:`distill`, each driven by a :class:`RunConfig` from
:func:`load_profile`; :func:`evaluate_run` scores a finished run on any split.
"""

from aicsd.engine.config import KINDS, RunConfig
from aicsd.engine.evaluation import evaluate_run, load_network
from aicsd.engine.fit import distill, train_teacher
from aicsd.engine.identity import config_hash, run_id
from aicsd.engine.loaders import seed_everything
from aicsd.engine.loops import FeatureTaps, Precision, evaluate, select_precision, train_one_epoch
from aicsd.engine.profiles import PROFILES, Profile, load_profile, seeds_of, teacher_config
from aicsd.engine.runstore import finished_runs, read_config, read_metrics, read_result, run_dir

__all__ = [
    "KINDS",
    "PROFILES",
    "FeatureTaps",
    "Precision",
    "Profile",
    "RunConfig",
    "config_hash",
    "distill",
    "evaluate",
    "evaluate_run",
    "finished_runs",
    "load_network",
    "load_profile",
    "read_config",
    "read_metrics",
    "read_result",
    "run_dir",
    "run_id",
    "seed_everything",
    "seeds_of",
    "select_precision",
    "teacher_config",
    "train_one_epoch",
    "train_teacher",
]
