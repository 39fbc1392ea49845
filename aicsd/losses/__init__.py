"""Distillation losses: ICSD (paper and released variants), pixel-wise KD, AD, SP, ICKD, CWD, DIST, ALW.

Every loss is a small ``nn.Module`` taking a student and a teacher tensor. A method (the terms, their
weights, temperatures and ALW) is one resolved value, :class:`MethodConfig`, from :func:`resolve`;
:func:`build_distiller` turns it into the module that training calls. This package imports only
torch, itself and the tap names of :mod:`aicsd.taps`.
"""

from aicsd.losses.ad import AttentionLoss
from aicsd.losses.alw import ALW_FORMS, alw_alpha, alw_multiplier
from aicsd.losses.cwd import ChannelWiseDistillationLoss
from aicsd.losses.dist import DISTLoss
from aicsd.losses.distiller import DistillationTerm, Distiller, build_distiller
from aicsd.losses.icsd import (
    ICSDLoss,
    ics_matrix,
    intra_class_distributions,
    intra_class_log_distributions,
)
from aicsd.losses.icsd_official import released_ics_matrix, released_icsd_loss
from aicsd.losses.ickd import ICKDLoss
from aicsd.losses.kd import PixelKDLoss
from aicsd.losses.method import MethodConfig, TermConfig, override_names, resolve
from aicsd.losses.registry import METHODS, TERMS, register_method, register_term
from aicsd.losses.sp import SimilarityPreservingLoss

__all__ = [
    "ALW_FORMS",
    "METHODS",
    "TERMS",
    "AttentionLoss",
    "ChannelWiseDistillationLoss",
    "DISTLoss",
    "DistillationTerm",
    "Distiller",
    "ICKDLoss",
    "ICSDLoss",
    "MethodConfig",
    "PixelKDLoss",
    "SimilarityPreservingLoss",
    "TermConfig",
    "alw_alpha",
    "alw_multiplier",
    "build_distiller",
    "ics_matrix",
    "intra_class_distributions",
    "intra_class_log_distributions",
    "override_names",
    "register_method",
    "register_term",
    "released_ics_matrix",
    "released_icsd_loss",
    "resolve",
]
