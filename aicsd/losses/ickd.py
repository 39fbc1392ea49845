"""Inter-channel correlation distillation (ICKD, Liu et al., ICCV 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.precision import at_least_float32, autocast_disabled
from aicsd.losses.resize import check_batches, match_spatial_size


def channel_correlation(feature: Tensor) -> Tensor:
    """Row-L2-normalised inter-channel Gram matrices: (B, C, H, W) -> (B, C, C)."""
    flat = feature.flatten(2)
    return F.normalize(torch.bmm(flat, flat.transpose(1, 2)), p=2.0, dim=-1)


class ICKDLoss(nn.Module):
    """``student: (B, C_s, h, w), teacher: (B, C_t, H, W) features -> scalar``.

        G(f) = normalize_rows( f f^T ),  f reshaped to (B, C_t, H*W),
        L_ICKD = 1/(B C_t) sum_b || G(A f^S)_b - G(f^T)_b ||_F^2

    with A a learnable 1x1 convolution from C_s to C_t channels when they differ (identity
    otherwise): its parameters are this module's and must be given to the optimizer. Applied to the
    decoder feature before the classifier. The student map is resized to the teacher's if needed.
    """

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__()
        if student_channels <= 0 or teacher_channels <= 0:
            raise ValueError(
                f"channel counts must be positive, got student {student_channels}, teacher {teacher_channels}"
            )
        self.adapter: nn.Module = (
            nn.Identity()
            if student_channels == teacher_channels
            else nn.Conv2d(student_channels, teacher_channels, kernel_size=1, bias=False)
        )

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        check_batches(student, teacher)
        with autocast_disabled(student):
            student_embedded = self.adapter(at_least_float32(student))
            if student_embedded.shape[1] != teacher.shape[1]:
                raise ValueError(
                    f"ICKD adapter gives {student_embedded.shape[1]} channels, teacher has {teacher.shape[1]}"
                )
            student_embedded = match_spatial_size(student_embedded, teacher)
            student_corr = channel_correlation(student_embedded)
            teacher_corr = channel_correlation(at_least_float32(teacher))
            batch, channels = teacher.shape[:2]
            return (student_corr - teacher_corr).pow(2).sum() / (batch * channels)
