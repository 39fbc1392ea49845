"""Channel-wise distillation (CWD; Shu et al., "Channel-wise Knowledge Distillation for Dense
Prediction", ICCV 2021), applied to the logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.precision import at_least_float32, autocast_disabled
from aicsd.losses.resize import check_batches, match_spatial_size


class ChannelWiseDistillationLoss(nn.Module):
    """``student, teacher: (B, C, H, W) logits -> scalar``.

    Each channel c of image b becomes a distribution over its N = H*W positions,
    phi(y_{b,c})(x) = softmax_x(y_{b,c}(x) / tau), and the student matches the teacher's channel
    distributions by KL divergence (the paper's channel distillation loss):

        L_CWD = tau^2 / (B C) sum_{b,c} sum_x phi(y^T_{b,c})(x) log[ phi(y^T_{b,c})(x) / phi(y^S_{b,c})(x) ]

    i.e. summed over positions, averaged over channels and images, scaled by tau^2 as in the
    authors' code (``KLDivLoss(reduction="sum") / (n * c) * tau**2``) and mmrazor's
    ``ChannelWiseDivergence``. Default tau = 4: the authors' segmentation-on-logits setting
    (their README's ``exp_cwd.sh channel kl 3 4``: weight 3, tau 4; CIRKD uses the same); its
    weight is :data:`aicsd.losses.weights.CWD_WEIGHT`. A student map of another size is resized
    bilinearly to the teacher's. The teacher is detached (no gradient reaches it). float32
    inside, also under autocast.
    """

    DEFAULT_TEMPERATURE = 4.0

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        check_batches(student, teacher)
        if student.shape[1] != teacher.shape[1]:
            raise ValueError(f"CWD needs the same channels: student {student.shape[1]}, teacher {teacher.shape[1]}")
        t = self.temperature
        with autocast_disabled(student):
            student = match_spatial_size(at_least_float32(student), teacher)
            log_phi_student = F.log_softmax(student.flatten(2) / t, dim=-1)
            log_phi_teacher = F.log_softmax(at_least_float32(teacher.detach()).flatten(2) / t, dim=-1)
            kl = F.kl_div(log_phi_student, log_phi_teacher, reduction="sum", log_target=True)
            batch, channels = teacher.shape[:2]
            return kl * (t * t) / (batch * channels)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
