"""The released code's ICSD written as it is released: a Python loop over class pairs.

Used only as the baseline of the benchmarks (the loss it computes is
:func:`aicsd.losses.released_icsd_loss`); the tests restate it independently.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def released_loop_icsd(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    """(B, C, H, W) logits twice -> scalar, by C(C+1)/2 x 2 ``KLDivLoss`` calls (released ``lo_loss``)."""
    kl = torch.nn.KLDivLoss(reduction="batchmean")
    batch, classes = student.shape[:2]
    s_logit = F.softmax(student / temperature, dim=2)
    t_logit = F.softmax(teacher / temperature, dim=2)
    iccs = torch.zeros(classes, classes, device=student.device)
    icct = torch.zeros(classes, classes, device=student.device)
    for i in range(classes):
        for j in range(i, classes):
            iccs[j, i] = iccs[i, j] = kl(s_logit[:, i], s_logit[:, j])
            icct[j, i] = icct[i, j] = kl(t_logit[:, i], t_logit[:, j])
    iccs = F.normalize(iccs, dim=1)
    icct = F.normalize(icct, dim=1)
    return (iccs - icct).pow(2).mean() / batch
