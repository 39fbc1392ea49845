"""How the ICSD weight of the released code's scale converts to the ``paper`` variant.

The released loss and the paper's loss differ by orders of magnitude (the released matrix is
mostly a column entropy, its normalised rows are nearly constant), so a weight cannot be carried
over as it is. We match gradient scales instead: on reference logits at the released setting
(batch 6, 21 classes, 513 x 513; :mod:`aicsd.losses.weights`), the paper-variant weight is the
official weight times

    || d L_official / d S || / || d L_paper / d S ||,

the ratio of the gradient norms (with respect to the student logits S) of the two unweighted
losses, averaged over three seeds. The reference teacher logits are segmentation-like: smooth noise,
a background boost and two object squares per image; the student is 0.8 x teacher + N(0, 0.5^2)
noise (the construction of the released-code chapter, notebooks/07_released_code.ipynb).

The ratio falls with the crop size, and not as a clean power law (at B = 6, mean of five seeds:
3.4e-3 at 17 x 17, 2.4e-3 at 65 x 65, 1.7e-3 at 257 x 257, then 9.4e-4 at 513 x 513), so it is
computed at the full 513 x 513 and not extrapolated from small crops; it also varies by about 15 %
(std / mean) between seeds. :func:`gradient_ratios` and :func:`gradient_ratio_table` show both.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from aicsd.losses.icsd import ICSDLoss
from aicsd.losses.weights import RELEASED_BATCH, RELEASED_CLASSES
from aicsd.results import summarise

REFERENCE_SIZE = 513
REFERENCE_SEEDS = (0, 1, 2)


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


def seed_gradient_ratio(seed: int, batch: int, classes: int, size: int) -> float:
    """||grad L_official|| / ||grad L_paper|| on the reference logits of one seed."""
    generator = torch.Generator().manual_seed(seed)
    teacher = segmentation_like_logits(batch, classes, size, size, generator)
    noise = torch.randn(teacher.shape, generator=generator)
    student = (0.8 * teacher + 0.5 * noise).requires_grad_()
    norms = {}
    for variant in ICSDLoss.VARIANTS:
        loss = ICSDLoss(variant=variant)(student, teacher)
        (grad,) = torch.autograd.grad(loss, student)
        norms[variant] = grad.norm().item()
    return norms["official"] / norms["paper"]


def icsd_gradient_ratio(
    batch: int = RELEASED_BATCH,
    classes: int = RELEASED_CLASSES,
    size: int = REFERENCE_SIZE,
    seeds: Sequence[int] = REFERENCE_SEEDS,
) -> float:
    """Mean over ``seeds`` of ||grad L_official|| / ||grad L_paper|| on reference logits."""
    ratios = [seed_gradient_ratio(seed, batch, classes, size) for seed in seeds]
    return sum(ratios) / len(ratios)


def gradient_ratios(
    sizes: Sequence[int] = (17, 33, 65, 129, 257, REFERENCE_SIZE),
    seeds: Sequence[int] = REFERENCE_SEEDS,
    batch: int = RELEASED_BATCH,
    classes: int = RELEASED_CLASSES,
) -> pd.DataFrame:
    """One row per (size, seed): the gradient-norm ratio at crop ``size`` x ``size``."""
    rows = [
        {"size": size, "seed": seed, "ratio": seed_gradient_ratio(seed, batch, classes, size)}
        for size in sizes
        for seed in seeds
    ]
    return pd.DataFrame(rows)


def gradient_ratio_table(ratios: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof 1) and count of the ratio per size, with the std relative to the mean and
    the mean relative to the largest size's: the spread over seeds and the trend over sizes."""
    table = summarise(ratios, ["size"], metric="ratio")
    table["relative std"] = table["std"] / table["mean"]
    table["mean / largest size"] = table["mean"] / table["mean"].iloc[-1]
    return table
