"""aicsd: a reproducible companion for AICSD (Adaptive Inter-Class Similarity Distillation).

The library: ``aicsd.losses`` (ICSD, KD, AD, SP, ICKD, CWD, DIST, ALW and the method registry),
``aicsd.models`` (DeepLabV3+), ``aicsd.data``, ``aicsd.metrics``, ``aicsd.engine`` (configs and
profiles, training, the run store) and ``aicsd.results`` (finished runs as a table). The book's
layer (run grids, tables, figures, measurements) is ``aicsd.study``. Importing ``aicsd`` imports
none of them: ``from aicsd.engine import distill, train_teacher, evaluate_run``.
"""
