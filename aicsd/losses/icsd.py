"""Inter-class similarity distillation (ICSD), as the paper describes it.

For every image b and class c the logit map z_{b,c} (H x W) is flattened and turned into an
*intra-class distribution* over the N = H*W pixels,

    p_{b,c} = softmax(z_{b,c} / T)                                          (N values)

and the *inter-class similarity* (ICS) matrix holds one KL divergence per ordered class pair,

    M_b[i, j] = KL(p_{b,i} || p_{b,j}) = sum_x p_i l_i  -  sum_x p_i l_j,    l_c = log(N p_c).

The second form is what makes the matrix cheap: the first sum is the diagonal of the second, a
batched matrix product (B, C, N) @ (B, N, C), so the whole C x C matrix costs one ``bmm`` instead
of C^2 reductions over N pixels. It uses the *centred* log-probabilities l_c = log p_c + log N
rather than log p_c: for a flat or nearly flat map l_c is (close to) 0 and so are both sums, where
with log p_c each sum is about -log N (8.4 at 65 x 65) and their difference, of the size of the
logits' variance, drowned in float32 rounding of log N (absolute error ~1e-6 at 65 x 65; a map
of constant logits gave entries of +-9e-5, logits of std 1e-4 a matrix off by hundreds of times its
largest entry; tests/test_losses_icsd.py pins both against float64). l_c is computed without forming
log N: the map is shifted by its maximum (exact for nearly flat maps), centred by the log of the
mean of its ``exp``, then centred once more by ``log1p(mean(expm1(.)))``, which is exact to
float32 rounding of the (now small) values themselves and removes the rounding of the first step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.icsd_official import released_icsd_loss
from aicsd.losses.precision import at_least_float32, autocast_disabled


def _check_logits(logits: Tensor, temperature: float) -> None:
    """Raise ValueError unless ``logits`` is (B, C, H, W) and ``temperature`` positive."""
    if logits.dim() != 4:
        raise ValueError(f"expected logits of shape (B, C, H, W), got {tuple(logits.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")


def intra_class_log_distributions(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Log of the intra-class distributions: (B, C, H, W) logits -> (B, C, H*W) log-probabilities.

    Computed with ``log_softmax`` in float32 (float64 inputs stay float64), so no ``log(0)``
    appears even for logits of magnitude 1e4.
    """
    _check_logits(logits, temperature)
    with autocast_disabled(logits):
        flat = at_least_float32(logits).flatten(2)
        return F.log_softmax(flat / temperature, dim=-1)


def intra_class_distributions(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Intra-class distributions p_{b,c}: (B, C, H, W) logits -> (B, C, H*W), each row sums to 1."""
    return intra_class_log_distributions(logits, temperature).exp()


def centred_log_distributions(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Centred log intra-class distributions: (B, C, H, W) logits -> (B, C, H*W) values of
    log(N p_{b,c}) = log p_{b,c} + log N, exactly 0 for a constant map.

    float32 inside (float64 stays float64), also under autocast. Accurate to float32 rounding of
    the map's own spread, not of log N, so nearly flat maps keep their small, exact-sign values.
    """
    _check_logits(logits, temperature)
    with autocast_disabled(logits):
        flat = at_least_float32(logits).flatten(2)
        shifted = flat - flat.detach().amax(dim=-1, keepdim=True)
        if temperature != 1.0:
            shifted = shifted / temperature
        centred = shifted - shifted.exp().mean(dim=-1, keepdim=True).log()
        with torch.no_grad():  # the residual is 0 in exact arithmetic, so it carries no gradient
            residual = torch.log1p(torch.expm1(centred).mean(dim=-1, keepdim=True))
        return centred - residual


SPLIT_K_PIXELS = 2048
"""Pixels per chunk of the class-pair product on CUDA (:func:`class_pair_product`)."""


def class_pair_product(p: Tensor, centred: Tensor) -> Tensor:
    """sum_x p[b, i, x] centred[b, j, x]: (B, C, N) twice -> (B, C, C).

    One ``bmm`` on the CPU. On CUDA the N pixels are cut into chunks of :data:`SPLIT_K_PIXELS`
    (zero-padded) that are multiplied as one batch of (B * chunks) small products and summed. A
    single (B, C, N) @ (B, N, C) product with tiny C and huge N runs on a handful of thread blocks,
    each accumulating N products in sequence: on an H200 at (8, 21, 513^2) it took 10.7 ms of the
    loss's 23.4 ms (forward + backward) and was off by 4.5e-4 of the largest entry (1.7e-3 at
    (4, 19, 512 x 1024)); chunked, the loss takes 5.5 ms and the error is 3e-6
    (benchmarks/bench_ics_matrix.py; the book's performance chapter). On the CPU the single ``bmm``
    is both faster and as accurate (4e-7 to 1e-6).
    """
    if not p.is_cuda or p.shape[-1] <= SPLIT_K_PIXELS:
        return torch.bmm(p, centred.transpose(1, 2))
    return chunked_class_pair_product(p, centred, SPLIT_K_PIXELS)


def chunked_class_pair_product(p: Tensor, centred: Tensor, chunk_pixels: int) -> Tensor:
    """:func:`class_pair_product` with the N pixels cut into ceil(N / chunk_pixels) zero-padded chunks:
    (B, C, N) twice -> (B, C, C), one ``bmm`` over the (B * chunks) chunk products, summed."""
    batch, classes, n = p.shape
    chunks = -(-n // chunk_pixels)
    pad = chunks * chunk_pixels - n

    def chunked(x: Tensor) -> Tensor:
        x = F.pad(x, (0, pad)).view(batch, classes, chunks, chunk_pixels)
        return x.transpose(1, 2).reshape(batch * chunks, classes, chunk_pixels)

    products = torch.bmm(chunked(p), chunked(centred).transpose(1, 2))
    return products.view(batch, chunks, classes, classes).sum(1)


def ics_matrix(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Inter-class similarity matrices: (B, C, H, W) logits -> (B, C, C).

    Entry (b, i, j) is KL(p_{b,i} || p_{b,j}) (natural log). The diagonal is exactly zero, entries
    are non-negative up to rounding and the matrix is not symmetric. Images whose class maps are
    all constant give an all-zero matrix. Always float32 (or float64) inside, also under bf16/fp16
    autocast, and cancellation-free for flat and nearly flat maps (module docstring).
    """
    centred = centred_log_distributions(logits, temperature)
    with autocast_disabled(logits):
        p = torch.exp(centred - math.log(centred.shape[-1]))
        cross = class_pair_product(p, centred)
        return torch.diagonal(cross, dim1=1, dim2=2).unsqueeze(-1) - cross


def icsd_from_matrices(student_ics: Tensor, teacher_ics: Tensor) -> Tensor:
    """Mean squared difference of row-L2-normalised ICS matrices: (..., C, C) twice -> scalar.

    A zero row (all classes of an image share one distribution, e.g. constant maps) stays zero
    after normalisation (``F.normalize`` divides by max(norm, 1e-12)), so against a teacher with
    no zero row an all-zero student matrix gives exactly 1/C.
    """
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
