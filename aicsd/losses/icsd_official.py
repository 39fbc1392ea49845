"""The released code's ICSD arithmetic, vectorised (github AmirMansurian/AICSD, ``distiller.py``).

The released loss loops over the class pairs i <= j of the 21 VOC classes and calls
``KLDivLoss(reduction="batchmean")(P_i, P_j)`` on probabilities ``P = softmax(logits / T, dim=2)``,
which is a softmax over the *height* only (one distribution per image column). ``KLDivLoss``
expects log-probabilities as its first argument; fed probabilities it returns

    m(i, j) = 1/B sum_{b,h,w} [ P_j log P_j  -  P_j P_i ]          for i <= j, mirrored to (j, i),

so the released "ICS matrix" is ``neg_entropy[max(i, j)] - cross[i, j]`` with

    neg_entropy[c] = 1/B sum_{b,h,w} P_c log P_c,     cross[i, j] = 1/B sum_{b,h,w} P_i P_j,

one C x C matrix for the whole batch. Rows are L2-normalised and the mean squared difference is
divided by B once more. This module computes exactly that, for any C and device, without a loop.

Because of this pooling, B is the batch *one process* sees. Under DistributedDataParallel each
process pools its own B / P images (P processes) and the gradients are averaged, so at a fixed
total batch the loss, and with it the effective weight of this variant, changes with the number
of processes (roughly as P, from the extra division by B; the matrices themselves change too).
The ``paper`` variant averages per-image losses and has no such dependence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from aicsd.losses.precision import at_least_float32, autocast_disabled


def released_ics_terms(logits: Tensor, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """The two parts of the released matrix: (B, C, H, W) logits -> ``neg_entropy`` (C,) and
    ``cross`` (C, C) of the module docstring, both batch-pooled. float32 inside, also under autocast.

    Renaming the classes permutes both (``neg_entropy[perm]``, ``cross[perm][:, perm]``); the
    released matrix is not permuted with them, because :func:`assemble_released_matrix` puts the
    entropy of the class with the larger *index* at (i, j).
    """
    if logits.dim() != 4:
        raise ValueError(f"expected logits of shape (B, C, H, W), got {tuple(logits.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    batch, classes = logits.shape[:2]
    with autocast_disabled(logits):
        log_p = F.log_softmax(at_least_float32(logits) / temperature, dim=2)
        p = log_p.exp()
        neg_entropy = (p * log_p).sum(dim=(0, 2, 3)) / batch
        per_class = p.transpose(0, 1).reshape(classes, -1)
        return neg_entropy, per_class @ per_class.T / batch


def assemble_released_matrix(neg_entropy: Tensor, cross: Tensor) -> Tensor:
    """``neg_entropy[max(i, j)] - cross[i, j]``: (C,), (C, C) -> (C, C), the released loop's
    i <= j evaluation mirrored to (j, i)."""
    index = torch.arange(neg_entropy.shape[0], device=neg_entropy.device)
    later_class = torch.maximum(index.unsqueeze(0), index.unsqueeze(1))
    return neg_entropy[later_class] - cross


def released_ics_matrix(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """The released code's batch-pooled "ICS matrix": (B, C, H, W) logits -> (C, C).

    Symmetric by construction; entries are dominated by the negative column entropy of the class
    ``max(i, j)`` (see the module docstring). float32 inside, also under autocast.
    """
    return assemble_released_matrix(*released_ics_terms(logits, temperature))


def released_icsd_from_matrices(student_ics: Tensor, teacher_ics: Tensor, batch: int) -> Tensor:
    """``mean((normalize(M_S, dim=1) - normalize(M_T, dim=1))^2) / B``: (C, C) twice -> scalar."""
    student_rows = F.normalize(student_ics, p=2.0, dim=1)
    teacher_rows = F.normalize(teacher_ics, p=2.0, dim=1)
    return (student_rows - teacher_rows).pow(2).mean() / batch


def released_icsd_loss(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    """The released ``lo_loss`` without its lambda: (B, C, H, W) logits twice -> scalar.

    :func:`released_icsd_from_matrices` on the batch-pooled matrices of
    :func:`released_ics_matrix`.
    """
    return released_icsd_from_matrices(
        released_ics_matrix(student, temperature), released_ics_matrix(teacher, temperature), student.shape[0]
    )
