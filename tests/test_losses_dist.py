"""DIST: against a float64 loop restatement of the paper's equations, gradients, invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aicsd.losses import weights
from aicsd.losses.dist import DISTLoss


def randn(shape: tuple[int, ...], seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def dist_loop(student: np.ndarray, teacher: np.ndarray, tau: float, beta: float, gamma: float) -> float:
    """Each pixel of the batch an instance: Y (P, C) = softmax over classes; 1 - Pearson per pixel
    (across classes) and per class (across all P pixels), each averaged; tau^2 (beta . + gamma .)."""
    classes = teacher.shape[1]

    def rows(logits: np.ndarray) -> np.ndarray:
        y = np.exp(logits / tau)
        y = y / y.sum(axis=1, keepdims=True)
        return np.moveaxis(y, 1, -1).reshape(-1, classes)

    y_s, y_t = rows(student), rows(teacher)
    inter = np.mean([1 - np.corrcoef(y_s[p], y_t[p])[0, 1] for p in range(y_s.shape[0])])
    intra = np.mean([1 - np.corrcoef(y_s[:, c], y_t[:, c])[0, 1] for c in range(classes)])
    return tau * tau * (beta * inter + gamma * intra)


@pytest.mark.parametrize(("tau", "beta", "gamma"), [(1.0, 1.0, 1.0), (4.0, 2.0, 0.5)])
def test_matches_the_float64_loop(tau, beta, gamma):
    student, teacher = randn((2, 5, 3, 4), 0), randn((2, 5, 3, 4), 1)
    expected = dist_loop(student.numpy(), teacher.numpy(), tau, beta, gamma)
    loss = DISTLoss(tau, beta, gamma)
    torch.testing.assert_close(loss(student, teacher).item(), expected, rtol=1e-10, atol=0)
    torch.testing.assert_close(loss(student.float(), teacher.float()).item(), expected, rtol=1e-5, atol=0)


def test_matches_the_authors_segmentation_code():
    """hunto/DIST_KD segmentation/losses/dist_kd.py restated: pixels as rows via transpose(1, 3),
    cosine of centred vectors with 1e-8 added to the norm product."""
    student, teacher = randn((2, 4, 5, 3), 2), randn((2, 4, 5, 3), 3)

    def pearson(x, y):
        x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
        return (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1) + 1e-8)

    y_s = student.transpose(1, 3).reshape(-1, 4).softmax(1)
    y_t = teacher.transpose(1, 3).reshape(-1, 4).softmax(1)
    authors = (1 - pearson(y_s, y_t).mean()) + (1 - pearson(y_s.T, y_t.T).mean())
    torch.testing.assert_close(DISTLoss()(student, teacher), authors, rtol=1e-6, atol=0)


def test_gradcheck_float64_and_no_gradient_into_the_teacher():
    student = randn((2, 3, 3, 2), 4).requires_grad_()
    teacher = randn((2, 3, 3, 2), 5)
    loss = DISTLoss(2.0)
    assert torch.autograd.gradcheck(lambda s: loss(s, teacher), (student,))
    teacher.requires_grad_()
    loss(student, teacher).backward()
    assert teacher.grad is None and student.grad is not None


def test_zero_for_identical_inputs_and_finite_for_flat_pixels():
    logits = randn((2, 4, 5, 5), 6).float()
    loss = DISTLoss()
    assert loss(logits, logits.clone()).item() == 0.0
    assert loss(randn((2, 4, 5, 5), 7).float(), logits).item() > 0
    flat = torch.zeros(2, 4, 5, 5, requires_grad=True)  # uniform class distribution at every pixel
    value = loss(flat, logits)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(flat.grad).all()


def test_student_is_resized_to_the_teacher():
    student, teacher = randn((2, 3, 4, 4), 8), randn((2, 3, 8, 8), 9)
    resized = F.interpolate(student, size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(DISTLoss()(student, teacher), DISTLoss()(resized, teacher))


def test_bf16_autocast_computes_in_float32():
    student, teacher = randn((2, 5, 6, 6), 10).float(), randn((2, 5, 6, 6), 11).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = DISTLoss()(student, teacher)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, DISTLoss()(student, teacher))


def test_defaults_are_the_authors_segmentation_setting_and_errors_are_clear():
    loss = DISTLoss()
    assert (loss.temperature, loss.beta, loss.gamma) == (DISTLoss.DEFAULT_TEMPERATURE, 1.0, 1.0) == (1.0, 1.0, 1.0)
    assert weights.DIST_WEIGHT == 1.0
    with pytest.raises(ValueError, match="temperature"):
        DISTLoss(temperature=-1.0)
    with pytest.raises(ValueError, match="beta and gamma"):
        DISTLoss(beta=-1.0)
    with pytest.raises(ValueError, match="classes"):
        DISTLoss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, 4))
