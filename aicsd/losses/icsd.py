"""Inter-class similarity distillation (ICSD), as the paper describes it.

For every image b and class c the logit map z_{b,c} (H x W) is flattened and turned into an
*intra-class distribution* over the N = H*W pixels,

    p_{b,c} = softmax(z_{b,c} / T)                                          (N values)

and the *inter-class similarity* (ICS) matrix holds one KL divergence per ordered class pair,

    M_b[i, j] = KL(p_{b,i} || p_{b,j}) = sum_x p_i log p_i  -  sum_x p_i log p_j.

The second form is what makes the matrix cheap: the first sum is a length-C vector and the second
is one batched matrix product (B, C, N) @ (B, N, C), so the whole C x C matrix costs one ``bmm``
instead of C^2 reductions over N pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.icsd_official import released_icsd_loss
from aicsd.losses.precision import at_least_float32, autocast_disabled


def intra_class_log_distributions(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Log of the intra-class distributions: (B, C, H, W) logits -> (B, C, H*W) log-probabilities.

    Computed with ``log_softmax`` in float32 (float64 inputs stay float64), so no ``log(0)``
    appears even for logits of magnitude 1e4.
    """
    if logits.dim() != 4:
        raise ValueError(f"expected logits of shape (B, C, H, W), got {tuple(logits.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with autocast_disabled(logits):
        flat = at_least_float32(logits).flatten(2)
        return F.log_softmax(flat / temperature, dim=-1)


def intra_class_distributions(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Intra-class distributions p_{b,c}: (B, C, H, W) logits -> (B, C, H*W), each row sums to 1."""
    return intra_class_log_distributions(logits, temperature).exp()


def ics_matrix(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Inter-class similarity matrices: (B, C, H, W) logits -> (B, C, C).

    Entry (b, i, j) is KL(p_{b,i} || p_{b,j}) (natural log). The diagonal is zero up to rounding,
    entries are non-negative and the matrix is not symmetric. Always float32 (or float64) inside,
    also under bf16/fp16 autocast.
    """
    log_p = intra_class_log_distributions(logits, temperature)
    with autocast_disabled(logits):
        p = log_p.exp()
        neg_entropy = (p * log_p).sum(dim=-1)
        cross = torch.bmm(p, log_p.transpose(1, 2))
        return neg_entropy.unsqueeze(-1) - cross


def icsd_from_matrices(student_ics: Tensor, teacher_ics: Tensor) -> Tensor:
    """Mean squared difference of row-L2-normalised ICS matrices: (..., C, C) twice -> scalar."""
    student_rows = F.normalize(student_ics, p=2.0, dim=-1)
    teacher_rows = F.normalize(teacher_ics, p=2.0, dim=-1)
    return (student_rows - teacher_rows).pow(2).mean()


class ICSDLoss(nn.Module):
    """ICSD loss: ``student, teacher: (B, C, H, W) logits -> scalar``.

    ``variant="paper"``: one ICS matrix per image (:func:`ics_matrix`), each row L2-normalised
    (as the released code does), then the mean over B x C x C of the squared difference, i.e.

        L = 1/(B C^2) sum_b sum_{i,j} ( M^S_b[i,j]/||M^S_b[i,:]|| - M^T_b[i,j]/||M^T_b[i,:]|| )^2.

    ``variant="official"``: the released code's arithmetic, vectorised
    (:func:`aicsd.losses.icsd_official.released_icsd_loss`); kept so the two can be compared.
    The teacher tensor is used as given: pass it detached to keep the teacher fixed.
    """

    VARIANTS = ("paper", "official")

    def __init__(self, temperature: float = 1.0, variant: str = "paper") -> None:
        super().__init__()
        if variant not in self.VARIANTS:
            raise ValueError(f"unknown ICSD variant {variant!r}; valid: {', '.join(self.VARIANTS)}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        self.variant = variant

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        if student.shape != teacher.shape:
            raise ValueError(
                f"student and teacher logits differ in shape: {tuple(student.shape)} vs {tuple(teacher.shape)}"
            )
        if self.variant == "official":
            return released_icsd_loss(student, teacher, self.temperature)
        return icsd_from_matrices(
            ics_matrix(student, self.temperature), ics_matrix(teacher, self.temperature)
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, variant={self.variant!r}"
