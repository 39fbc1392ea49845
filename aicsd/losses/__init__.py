"""Distillation losses: ICSD (paper and released variants), pixel-wise KD, AD, SP, ICKD, and ALW.

Every loss is a small ``nn.Module`` taking a student and a teacher tensor; :func:`build_distiller`
combines them into the methods compared in the paper.
"""

from aicsd.losses.ad import AttentionLoss
from aicsd.losses.alw import alw_weights, constant_weights
from aicsd.losses.icsd import (
    ICSDLoss,
    ics_matrix,
    intra_class_distributions,
    intra_class_log_distributions,
)
from aicsd.losses.icsd_official import released_ics_matrix, released_icsd_loss
from aicsd.losses.ickd import ICKDLoss
from aicsd.losses.kd import PixelKDLoss
from aicsd.losses.registry import METHOD_SPECS, METHODS, Distiller, build_distiller
from aicsd.losses.sp import SimilarityPreservingLoss

__all__ = [
    "METHODS",
    "METHOD_SPECS",
    "AttentionLoss",
    "Distiller",
    "ICKDLoss",
    "ICSDLoss",
    "PixelKDLoss",
    "SimilarityPreservingLoss",
    "alw_weights",
    "build_distiller",
    "constant_weights",
    "ics_matrix",
    "intra_class_distributions",
    "intra_class_log_distributions",
    "released_ics_matrix",
    "released_icsd_loss",
]
