"""Match a student feature map's spatial size to the teacher's."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def match_spatial_size(student: Tensor, teacher: Tensor) -> Tensor:
    """Bilinearly resize ``student`` (B, C_s, h, w) to the teacher's (H, W); unchanged if equal."""
    if student.shape[-2:] == teacher.shape[-2:]:
        return student
    return F.interpolate(student, size=teacher.shape[-2:], mode="bilinear", align_corners=False)


def check_batches(student: Tensor, teacher: Tensor) -> None:
    """Raise ValueError unless both are (B, C, H, W) with the same B."""
    if student.dim() != 4 or teacher.dim() != 4 or student.shape[0] != teacher.shape[0]:
        raise ValueError(
            "expected student and teacher features (B, C, H, W) with the same B, got "
            f"{tuple(student.shape)} and {tuple(teacher.shape)}"
        )
