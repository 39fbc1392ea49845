"""Measurements behind the book's chapter on the released code (the book's chapter 07, "The released code").

Each function measures one difference between the released code and the paper on given logits or a
given network, so the chapter shows a number for each claim instead of asserting it.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses import ICSDLoss, ics_matrix, released_ics_matrix
from aicsd.losses.icsd import icsd_from_matrices
from aicsd.losses.icsd_official import assemble_released_matrix, released_ics_terms, released_icsd_from_matrices
from aicsd.losses.precision import at_least_float32


def _off_diagonal(matrix: Tensor) -> Tensor:
    classes = matrix.shape[-1]
    mask = ~torch.eye(classes, dtype=torch.bool, device=matrix.device)
    return matrix[..., mask]


def _correlation(a: Tensor, b: Tensor) -> float:
    return torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1].item()


def height_softmax_ics_matrix(logits: Tensor) -> Tensor:
    """KL(p_i || p_j) with the released softmax axis (over the height, one distribution per column),
    averaged over the columns: (B, C, H, W) -> (B, C, C). Item 1 without items 2-5."""
    columns = logits.float().permute(0, 3, 1, 2)
    return ics_matrix(columns.reshape(-1, logits.shape[1], logits.shape[2], 1)).reshape(
        logits.shape[0], logits.shape[3], logits.shape[1], logits.shape[1]
    ).mean(dim=1)


def softmax_axis_effect(logits: Tensor) -> dict[str, float]:
    """Item 1: correlation of the off-diagonal ICS entries with the softmax over H*W (paper) and
    over H only (released), per image, averaged; and the released distributions' total mass per class."""
    paper = ics_matrix(logits)
    column = height_softmax_ics_matrix(logits)
    correlations = [_correlation(_off_diagonal(p), _off_diagonal(c)) for p, c in zip(paper, column)]
    return {"correlation": sum(correlations) / len(correlations), "mass_per_class": float(logits.shape[-1])}


def released_matrix_signs(logits: Tensor) -> dict[str, float]:
    """Item 2: the released matrix is not a KL matrix: its largest entry, its diagonal's range, and
    the paper matrix's diagonal (zero) for comparison."""
    released = released_ics_matrix(logits)
    paper = ics_matrix(logits)
    return {
        "released_max": released.max().item(),
        "released_diagonal_min": torch.diagonal(released).min().item(),
        "released_diagonal_max": torch.diagonal(released).max().item(),
        "paper_diagonal_max_abs": torch.diagonal(paper, dim1=1, dim2=2).abs().max().item(),
        "paper_min": paper.min().item(),
    }


def asymmetry(student: Tensor, teacher: Tensor, permutation: Tensor) -> dict[str, float]:
    """Item 3: how asymmetric the paper's matrix is (max |M - M^T| / max M, on the teacher), and how
    much renaming the classes by ``permutation`` changes each loss (relative change; the paper's is
    0 up to rounding). Computed in float64."""
    student, logits = student.double(), teacher.double()
    paper = ics_matrix(logits)
    changes = {}
    for variant in ICSDLoss.VARIANTS:
        loss = ICSDLoss(variant=variant)
        original = loss(student, logits)
        renamed = loss(student[:, permutation], logits[:, permutation])
        changes[f"{variant}_relative_change"] = ((renamed - original).abs() / original).item()
    return {"paper_asymmetry": ((paper - paper.transpose(1, 2)).abs().max() / paper.max()).item(), **changes}


def permutation_sensitivity(student: Tensor, teacher: Tensor, count: int = 200, seed: int = 0) -> pd.DataFrame:
    """Item 3 over many renamings: the signed relative change of each loss, (renamed - original) /
    original, for ``count`` random class permutations (``torch.randperm`` from ``seed``), in float64.

    One row per permutation, columns ``paper_relative_change`` (0 up to rounding) and
    ``official_relative_change``. One permutation is one draw from a wide distribution: the released
    loss can move by tens of percent or hardly at all. Renaming permutes each network's per-class
    terms (:func:`aicsd.losses.icsd_official.released_ics_terms`) and the paper's matrices exactly,
    so they are computed once and permuted; the released matrix is then re-assembled, as its loop
    would do on the renamed logits.
    """
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    student, teacher = student.double(), teacher.double()
    batch, classes = teacher.shape[:2]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        terms = [released_ics_terms(student), released_ics_terms(teacher)]
        paper = [ics_matrix(student), ics_matrix(teacher)]

        def losses(order: Tensor) -> dict[str, Tensor]:
            released = [assemble_released_matrix(n[order], c[order][:, order]) for n, c in terms]
            return {
                "paper": icsd_from_matrices(*(m[:, order][:, :, order] for m in paper)),
                "official": released_icsd_from_matrices(*released, batch),
            }

        original = losses(torch.arange(classes))
        rows = []
        for _ in range(count):
            renamed = losses(torch.randperm(classes, generator=generator))
            rows.append({f"{k}_relative_change": ((renamed[k] - original[k]) / original[k]).item() for k in original})
    return pd.DataFrame(rows)


def batch_pooling(student: Tensor, teacher: Tensor) -> dict[str, float]:
    """Item 5: the same images twice in a batch leave the paper's loss unchanged and halve the
    released one (batch-pooled matrices, then divided by B again). Computed in float64."""
    student, teacher = student.double(), teacher.double()
    doubled_s, doubled_t = torch.cat([student, student]), torch.cat([teacher, teacher])
    ratios = {}
    for variant in ICSDLoss.VARIANTS:
        loss = ICSDLoss(variant=variant)
        ratios[f"{variant}_ratio"] = (loss(doubled_s, doubled_t) / loss(student, teacher)).item()
    return ratios


@torch.no_grad()
def teacher_mode_disagreement(teacher: nn.Module, images: Tensor) -> dict[str, float]:
    """Item 7: the share of pixels whose predicted class changes when the teacher runs in train
    mode (BatchNorm on batch statistics, dropout on) instead of eval mode, on one batch (B, 3, H, W),
    and the mean pixel-wise KL between the two class distributions. Restores the teacher's mode."""
    was_training = teacher.training
    generator_state = torch.get_rng_state()
    teacher.eval()
    eval_logits = teacher(images).float()
    state = {k: v.clone() for k, v in teacher.state_dict().items()}
    teacher.train()
    torch.manual_seed(0)
    train_logits = teacher(images).float()
    teacher.load_state_dict(state)
    teacher.train(was_training)
    torch.set_rng_state(generator_state)
    changed = (eval_logits.argmax(1) != train_logits.argmax(1)).float().mean().item()
    kl = F.kl_div(F.log_softmax(train_logits, 1), F.log_softmax(eval_logits, 1), reduction="none", log_target=True)
    return {"changed_pixels": changed, "mean_pixel_kl": kl.sum(1).mean().item()}


def stride4_and_full_logits(model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """The classifier's output at the decoder's stride 4, before upsampling, and the logits
    upsampled to the input size (what the released code distils), in eval mode, float32:
    images (B, 3, H, W) -> (B, C, H/4, W/4), (B, C, H, W). Restores the model's mode."""
    was_training = model.training
    with torch.no_grad():
        features = model.eval().forward_features(images)
        low = features["decoder_logits"] if "decoder_logits" in features else model.classifier(features["decoder"])
    model.train(was_training)
    return low.float(), features["logits"].float()


def resolution_effect(model: nn.Module, images: Tensor) -> dict[str, float]:
    """Item 14: ICS matrices from the stride-4 classifier output (before upsampling) vs from the
    logits upsampled to the input size (as the released code): the correlation of their off-diagonal
    entries, per image and averaged, and the ICSD between the two (the loss a student would pay for
    matching the teacher at the other resolution; 0 only if upsampling kept every KL)."""
    low, full = stride4_and_full_logits(model, images)
    paper_low, paper_full = ics_matrix(low), ics_matrix(full)
    correlations = [_correlation(_off_diagonal(a), _off_diagonal(b)) for a, b in zip(paper_low, paper_full)]
    return {
        "correlation": sum(correlations) / len(correlations),
        "icsd_between": icsd_from_matrices(paper_low, paper_full).item(),
        "pixels_full": full.shape[-1] * full.shape[-2],
        "pixels_low": low.shape[-1] * low.shape[-2],
    }


def entropy_dominance(logits: Tensor, temperature: float = 1.0) -> dict[str, float]:
    """How much of the released matrix is the entropy term (the released-code chapter): (B, C, H, W) -> numbers.

    The released entry is ``neg_entropy[max(i, j)] - cross[i, j]``. Returns the largest and the mean
    share ``|cross| / |entry|`` over all entries, and the range of the row-normalised matrix.
    """
    with torch.no_grad():
        matrix = released_ics_matrix(logits, temperature)
        classes = matrix.shape[0]
        index = torch.arange(classes, device=matrix.device)
        later_class = torch.maximum(index.unsqueeze(0), index.unsqueeze(1))
        log_p = F.log_softmax(at_least_float32(logits) / temperature, dim=2)
        neg_entropy = (log_p.exp() * log_p).sum(dim=(0, 2, 3)) / logits.shape[0]
        share = (neg_entropy[later_class] - matrix).abs() / matrix.abs()
        normalised = F.normalize(matrix, p=2.0, dim=1)
        return {
            "max_cross_share": share.max().item(),
            "mean_cross_share": share.mean().item(),
            "normalised_min": normalised.min().item(),
            "normalised_max": normalised.max().item(),
        }
