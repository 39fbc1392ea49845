"""The ICS matrix from its definition, one class pair at a time, and its closed-form gradient.

Slow on purpose: the derivation chapter compares them with the vectorised :func:`ics_matrix`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from aicsd.losses.icsd import ics_matrix, intra_class_log_distributions


def ics_matrix_by_pairs(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """(B, C, H, W) logits -> (B, C, C) by C^2 calls of ``F.kl_div`` (entry (i, j) = KL(p_i || p_j))."""
    log_p = intra_class_log_distributions(logits, temperature)
    batch, classes = log_p.shape[:2]
    out = log_p.new_zeros(batch, classes, classes)
    for i in range(classes):
        for j in range(classes):
            kl = F.kl_div(log_p[:, j], log_p[:, i], reduction="none", log_target=True)
            out[:, i, j] = kl.sum(dim=-1)
    return out


def ics_entry_gradients(logits: Tensor, i: int, j: int, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """Closed-form gradients of KL(p_i || p_j) for each image: (B, C, H, W) -> two (B, H*W) tensors.

        d KL / d z_i = p_i * (log p_i - log p_j - KL(p_i || p_j)) / T
        d KL / d z_j = (p_j - p_i) / T

    (for i != j; z_c is class c's flattened logit map).
    """
    if i == j:
        raise ValueError("the closed form is for i != j; the diagonal is identically zero")
    log_p = intra_class_log_distributions(logits, temperature)
    p_i, p_j = log_p[:, i].exp(), log_p[:, j].exp()
    kl = (p_i * (log_p[:, i] - log_p[:, j])).sum(dim=-1, keepdim=True)
    grad_i = p_i * (log_p[:, i] - log_p[:, j] - kl) / temperature
    grad_j = (p_j - p_i) / temperature
    return grad_i, grad_j


def autograd_entry_gradients(logits: Tensor, i: int, j: int, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """The same two gradients by autograd through the vectorised matrix (summed over the batch)."""
    leaf = logits.detach().clone().requires_grad_()
    (grad,) = torch.autograd.grad(ics_matrix(leaf, temperature)[:, i, j].sum(), leaf)
    flat = grad.flatten(2)
    return flat[:, i], flat[:, j]
