"""Pixel-wise knowledge distillation (Hinton et al., 2015), applied at every pixel."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.precision import at_least_float32, autocast_disabled


class PixelKDLoss(nn.Module):
    """``student, teacher: (B, C, H, W) logits -> scalar``.

        L_KD = T^2 / (B H W) sum_{b,h,w} KL( softmax(z^T_{b,:,h,w} / T) || softmax(z^S_{b,:,h,w} / T) )

    The class distribution at each pixel is a softmax over C; the KL runs from the teacher to the
    student and is averaged over pixels (not over classes: the released code's ``reduction="mean"``
    also divided by C), then scaled by T^2 so its gradient does not shrink with the temperature.
    float32 inside, also under autocast.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        if student.shape != teacher.shape or student.dim() != 4:
            raise ValueError(
                "expected student and teacher logits of the same shape (B, C, H, W), got "
                f"{tuple(student.shape)} and {tuple(teacher.shape)}"
            )
        t = self.temperature
        with autocast_disabled(student):
            log_q_student = F.log_softmax(at_least_float32(student) / t, dim=1)
            log_q_teacher = F.log_softmax(at_least_float32(teacher) / t, dim=1)
            per_pixel = F.kl_div(log_q_student, log_q_teacher, reduction="none", log_target=True).sum(dim=1)
            return per_pixel.mean() * t * t

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
