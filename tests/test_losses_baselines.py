"""Pixel-wise KD, AD, SP and ICKD against float64 numpy references; gradchecks; invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import rel_entr, softmax

from aicsd.losses import AttentionLoss, ICKDLoss, PixelKDLoss, SimilarityPreservingLoss


def randn(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def l2_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# ---- pixel-wise KD -----------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kd_matches_per_pixel_rel_entr(temperature):
    student, teacher = randn((2, 5, 3, 4), 0, 3.0), randn((2, 5, 3, 4), 1, 3.0)
    q_t = softmax(teacher.numpy() / temperature, axis=1)
    q_s = softmax(student.numpy() / temperature, axis=1)
    expected = rel_entr(q_t, q_s).sum(axis=1).mean() * temperature**2
    torch.testing.assert_close(PixelKDLoss(temperature)(student, teacher).item(), expected, rtol=1e-10, atol=0)


def test_kd_is_zero_for_identical_networks_and_finite_for_huge_logits():
    logits = randn((2, 4, 5, 5), 2, 1e4).float().requires_grad_()
    assert PixelKDLoss()(logits, logits.detach().clone()).item() == 0.0
    value = PixelKDLoss()(logits, randn((2, 4, 5, 5), 3, 1e4).float())
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()


def test_kd_gradcheck():
    student, teacher = randn((2, 3, 2, 3), 4).requires_grad_(), randn((2, 3, 2, 3), 5)
    assert torch.autograd.gradcheck(lambda s: PixelKDLoss(2.0)(s, teacher), (student,))


# ---- attention distillation ----------------------------------------------------------------------

def attention_reference(student: np.ndarray, teacher: np.ndarray) -> float:
    a_s = l2_rows((student**2).mean(axis=1).reshape(student.shape[0], -1))
    a_t = l2_rows((teacher**2).mean(axis=1).reshape(teacher.shape[0], -1))
    return float(np.mean((a_s - a_t) ** 2))


def test_attention_loss_matches_reference_with_different_channel_counts():
    student, teacher = randn((2, 4, 5, 6), 6), randn((2, 16, 5, 6), 7)
    expected = attention_reference(student.numpy(), teacher.numpy())
    torch.testing.assert_close(AttentionLoss()(student, teacher).item(), expected, rtol=1e-10, atol=0)


def test_attention_loss_zero_for_same_attention_and_resizes_student():
    feature = randn((2, 3, 8, 8), 8)
    assert AttentionLoss()(feature, feature.clone()).item() == 0.0
    assert AttentionLoss()(feature, -feature).item() == 0.0
    value = AttentionLoss()(randn((2, 3, 4, 4), 9), randn((2, 6, 8, 8), 10))
    assert value.item() > 0


def test_attention_loss_gradcheck():
    student, teacher = randn((2, 3, 4, 4), 11).requires_grad_(), randn((2, 5, 4, 4), 12)
    assert torch.autograd.gradcheck(lambda s: AttentionLoss()(s, teacher), (student,))


# ---- similarity preserving ---------------------------------------------------------------------

def sp_reference(student: np.ndarray, teacher: np.ndarray) -> float:
    batch = student.shape[0]
    f_s, f_t = student.reshape(batch, -1), teacher.reshape(batch, -1)
    g_s, g_t = l2_rows(f_s @ f_s.T), l2_rows(f_t @ f_t.T)
    return float(((g_s - g_t) ** 2).sum() / batch**2)


def test_sp_matches_reference_and_only_needs_the_same_batch():
    student, teacher = randn((4, 3, 2, 5), 13), randn((4, 7, 3, 3), 14)
    expected = sp_reference(student.numpy(), teacher.numpy())
    torch.testing.assert_close(SimilarityPreservingLoss()(student, teacher).item(), expected, rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="same B"):
        SimilarityPreservingLoss()(randn((3, 3, 2, 2), 1), randn((4, 3, 2, 2), 2))


def test_sp_zero_for_identical_networks_and_invariant_to_scale():
    feature = randn((4, 3, 5, 5), 15)
    assert SimilarityPreservingLoss()(feature, feature.clone()).item() == 0.0
    assert SimilarityPreservingLoss()(3.0 * feature, feature).item() < 1e-20


def test_sp_gradcheck():
    student, teacher = randn((3, 2, 2, 3), 16).requires_grad_(), randn((3, 4, 2, 2), 17)
    assert torch.autograd.gradcheck(lambda s: SimilarityPreservingLoss()(s, teacher), (student,))


# ---- ICKD -----------------------------------------------------------------------------------------

def ickd_reference(student: np.ndarray, teacher: np.ndarray) -> float:
    batch, channels = teacher.shape[:2]
    f_s, f_t = student.reshape(batch, channels, -1), teacher.reshape(batch, channels, -1)
    g_s = l2_rows(f_s @ f_s.transpose(0, 2, 1))
    g_t = l2_rows(f_t @ f_t.transpose(0, 2, 1))
    return float(((g_s - g_t) ** 2).sum() / (batch * channels))


def test_ickd_matches_reference_with_identity_adapter():
    loss = ICKDLoss(6, 6)
    assert isinstance(loss.adapter, torch.nn.Identity) and not list(loss.parameters())
    student, teacher = randn((2, 6, 4, 5), 18), randn((2, 6, 4, 5), 19)
    expected = ickd_reference(student.numpy(), teacher.numpy())
    torch.testing.assert_close(loss(student, teacher).item(), expected, rtol=1e-10, atol=0)
    assert loss(teacher, teacher.clone()).item() == 0.0


def test_ickd_adapter_maps_channels_and_learns():
    loss = ICKDLoss(4, 8).double()
    assert isinstance(loss.adapter, torch.nn.Conv2d)
    weight = loss.adapter.weight
    assert weight.shape == (8, 4, 1, 1)
    student, teacher = randn((2, 4, 3, 3), 20), randn((2, 8, 6, 6), 21)
    embedded = torch.nn.functional.interpolate(
        torch.nn.functional.conv2d(student, weight), size=(6, 6), mode="bilinear", align_corners=False
    )
    expected = ickd_reference(embedded.detach().numpy(), teacher.numpy())
    value = loss(student, teacher)
    torch.testing.assert_close(value.item(), expected, rtol=1e-10, atol=0)
    value.backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_ickd_gradcheck_over_features_and_adapter():
    loss = ICKDLoss(3, 5).double()
    student, teacher = randn((2, 3, 2, 3), 22).requires_grad_(), randn((2, 5, 2, 3), 23)
    weight = loss.adapter.weight.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda s, w: torch.func.functional_call(loss, {"adapter.weight": w}, (s, teacher)), (student, weight)
    )


def test_feature_losses_keep_float32_under_autocast():
    student, teacher = randn((2, 4, 6, 6), 24).float(), randn((2, 4, 6, 6), 25).float()
    for loss in (AttentionLoss(), SimilarityPreservingLoss(), ICKDLoss(4, 4), PixelKDLoss()):
        expected = loss(student, teacher)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss(student, teacher)
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, expected)


def test_feature_losses_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        AttentionLoss()(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="positive"):
        ICKDLoss(0, 4)
    with pytest.raises(ValueError, match="same shape"):
        PixelKDLoss()(torch.zeros(1, 3, 2, 2), torch.zeros(1, 4, 2, 2))
