"""aicsd: a reproducible companion for AICSD (Adaptive Inter-Class Similarity Distillation).

Submodules: ``losses`` (ICSD, KD, AD, SP, ICKD, ALW), ``models`` (DeepLabV3+), ``data``, ``engine``
(configs, training, run store), ``metrics``, ``experiments`` (the book's run grids), ``tables``,
``plots``, ``analysis`` and ``audit``. The three entry points below train or evaluate one run.
"""

from aicsd.engine import distill, train_teacher
from aicsd.engine import evaluate_checkpoint as evaluate

__all__ = ["distill", "evaluate", "train_teacher"]
