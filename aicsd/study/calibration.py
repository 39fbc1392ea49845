"""How the ICSD weight of the released code's scale converts to the ``paper`` variant.

The released loss and the paper's loss differ by orders of magnitude (the released matrix is
mostly a column entropy, its normalised rows are nearly constant), so a weight cannot be carried
over as it is. We match gradient scales instead: on reference logits at the paper's setting
(batch 8, 21 classes, 513 x 513), the paper-variant weight is the official weight times

    || d L_official / d S || / || d L_paper / d S ||,

the ratio of the gradient norms (with respect to the student logits S) of the two unweighted
losses, averaged over three seeds. The reference teacher logits are segmentation-like: smooth noise,
a background boost and two object squares per image; the student is 0.8 x teacher + N(0, 0.5^2)
noise (the same construction as the numerical check in RELEASED_CODE.md, section 7).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from aicsd.losses.icsd import ICSDLoss


def segmentation_like_logits(
    batch: int, classes: int, height: int, width: int, generator: torch.Generator
) -> Tensor:
    """Reference teacher logits (B, C, H, W) float32 on the CPU: smooth noise, background, objects."""
    coarse = torch.randn(batch, classes, height // 8 + 1, width // 8 + 1, generator=generator)
    logits = 2.0 * F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    logits[:, 0] += 3.0
    side = max(1, height // 4)
    for b in range(batch):
        for _ in range(2):
            c = int(torch.randint(1, classes, (1,), generator=generator))
            y = int(torch.randint(0, max(1, height - side), (1,), generator=generator))
            x = int(torch.randint(0, max(1, width - side), (1,), generator=generator))
            logits[b, c, y : y + side, x : x + side] += 8.0
    return logits


def icsd_gradient_ratio(
    batch: int = 8, classes: int = 21, size: int = 513, seeds: tuple[int, ...] = (0, 1, 2)
) -> float:
    """Mean over ``seeds`` of ||grad L_official|| / ||grad L_paper|| on reference logits."""
    ratios = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        teacher = segmentation_like_logits(batch, classes, size, size, generator)
        noise = torch.randn(teacher.shape, generator=generator)
        student = (0.8 * teacher + 0.5 * noise).requires_grad_()
        norms = {}
        for variant in ICSDLoss.VARIANTS:
            loss = ICSDLoss(variant=variant)(student, teacher)
            (grad,) = torch.autograd.grad(loss, student)
            norms[variant] = grad.norm().item()
        ratios.append(norms["official"] / norms["paper"])
    return sum(ratios) / len(ratios)
