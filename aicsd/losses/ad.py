"""Attention distillation (AD; attention transfer, Zagoruyko & Komodakis, ICLR 2017)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.precision import at_least_float32, autocast_disabled
from aicsd.losses.resize import check_batches, match_spatial_size


def attention_map(feature: Tensor) -> Tensor:
    """Spatial attention of a feature map: (B, C, H, W) -> (B, 1, H, W), the channel mean of f^2."""
    return feature.pow(2).mean(dim=1, keepdim=True)


class AttentionLoss(nn.Module):
    """``student: (B, C_s, h, w), teacher: (B, C_t, H, W) features -> scalar``.

        a(f) = vec(mean_c f_c^2) / || vec(mean_c f_c^2) ||_2,      L_AD = 1/(B H W) || a(f^S) - a(f^T) ||^2

    computed per backbone stage (the distiller sums the stages). Channel counts may differ; the
    student's attention map is resized to the teacher's if the spatial sizes differ. The AT paper's
    code weights the sum over stages by beta / 2 = 500.
    """

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        check_batches(student, teacher)
        with autocast_disabled(student):
            student_map = attention_map(at_least_float32(student))
            teacher_map = attention_map(at_least_float32(teacher))
            student_map = match_spatial_size(student_map, teacher_map)
            student_vec = F.normalize(student_map.flatten(1), dim=1)
            teacher_vec = F.normalize(teacher_map.flatten(1), dim=1)
            return (student_vec - teacher_vec).pow(2).mean()
