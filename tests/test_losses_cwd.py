"""CWD: against a float64 loop restatement of the paper's equation, gradients, invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aicsd.losses import weights
from aicsd.losses.cwd import ChannelWiseDistillationLoss


def randn(shape: tuple[int, ...], seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def cwd_loop(student: np.ndarray, teacher: np.ndarray, tau: float) -> float:
    """tau^2 / (B C) sum_{b,c} KL(phi(T_bc) || phi(S_bc)), phi a softmax over the H*W positions."""
    batch, channels = teacher.shape[:2]
    total = 0.0
    for b in range(batch):
        for c in range(channels):
            t = teacher[b, c].ravel() / tau
            s = student[b, c].ravel() / tau
            p_t = np.exp(t - t.max()) / np.exp(t - t.max()).sum()
            log_p_t = np.log(p_t)
            log_p_s = s - s.max() - np.log(np.exp(s - s.max()).sum())
            total += sum(p * (lt - ls) for p, lt, ls in zip(p_t, log_p_t, log_p_s))
    return tau * tau * total / (batch * channels)


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_matches_the_float64_loop_and_the_authors_formula(tau):
    student, teacher = randn((2, 3, 4, 5), 0), randn((2, 3, 4, 5), 1)
    expected = cwd_loop(student.numpy(), teacher.numpy(), tau)
    loss = ChannelWiseDistillationLoss(tau)
    torch.testing.assert_close(loss(student, teacher).item(), expected, rtol=1e-10, atol=0)
    torch.testing.assert_close(loss(student.float(), teacher.float()).item(), expected, rtol=1e-5, atol=0)
    # the authors' code: KLDivLoss(reduction="sum")(log_softmax(S), softmax(T)) / (n c) * tau^2
    authors = torch.nn.KLDivLoss(reduction="sum")(
        F.log_softmax(student.flatten(2) / tau, -1), F.softmax(teacher.flatten(2) / tau, -1)
    ) / (2 * 3) * tau**2
    torch.testing.assert_close(loss(student, teacher), authors, rtol=1e-10, atol=0)


def test_gradcheck_float64_and_no_gradient_into_the_teacher():
    student = randn((2, 3, 3, 4), 2).requires_grad_()
    teacher = randn((2, 3, 3, 4), 3)
    loss = ChannelWiseDistillationLoss(2.0)
    assert torch.autograd.gradcheck(lambda s: loss(s, teacher), (student,))
    teacher.requires_grad_()
    loss(student, teacher).backward()
    assert teacher.grad is None and student.grad is not None


def test_zero_for_identical_inputs_and_positive_otherwise():
    logits = randn((2, 4, 5, 5), 4).float()
    loss = ChannelWiseDistillationLoss()
    assert loss(logits, logits.clone()).item() == 0.0
    assert loss(logits + 0.5, logits).item() == pytest.approx(0.0, abs=1e-6)  # a per-channel shift is invisible
    assert loss(randn((2, 4, 5, 5), 5).float(), logits).item() > 0


def test_student_is_resized_to_the_teacher():
    student, teacher = randn((2, 3, 4, 4), 6), randn((2, 3, 8, 8), 7)
    resized = F.interpolate(student, size=(8, 8), mode="bilinear", align_corners=False)
    loss = ChannelWiseDistillationLoss()
    torch.testing.assert_close(loss(student, teacher), loss(resized, teacher))


def test_bf16_autocast_computes_in_float32():
    student, teacher = randn((2, 5, 6, 6), 8).float(), randn((2, 5, 6, 6), 9).float()
    loss = ChannelWiseDistillationLoss()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(student, teacher)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, loss(student, teacher))


def test_defaults_are_the_authors_segmentation_setting_and_errors_are_clear():
    assert ChannelWiseDistillationLoss().temperature == ChannelWiseDistillationLoss.DEFAULT_TEMPERATURE == 4.0
    assert weights.CWD_WEIGHT == 3.0
    with pytest.raises(ValueError, match="temperature"):
        ChannelWiseDistillationLoss(0.0)
    with pytest.raises(ValueError, match="channels"):
        ChannelWiseDistillationLoss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        ChannelWiseDistillationLoss()(torch.zeros(2, 3, 4, 4), torch.zeros(1, 3, 4, 4))
