"""ICSD: the ICS matrix against independent references, its invariances, and the released variant."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import log_softmax as np_log_softmax
from scipy.special import rel_entr

from aicsd.losses import (
    ICSDLoss,
    ics_matrix,
    intra_class_distributions,
    released_ics_matrix,
    released_icsd_loss,
)
from aicsd.losses.icsd import chunked_class_pair_product, class_pair_product
from aicsd.study.calibration import segmentation_like_logits
from aicsd.study.audit import entropy_dominance
from aicsd.study.pairwise import autograd_entry_gradients, ics_entry_gradients, ics_matrix_by_pairs

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_logits(shape: tuple[int, ...], seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def ics_double_loop(logits: np.ndarray) -> np.ndarray:
    """KL(p_i || p_j) per image by a plain float64 double loop over class pairs."""
    batch, classes = logits.shape[:2]
    log_p = np_log_softmax(logits.reshape(batch, classes, -1).astype(np.float64), axis=-1)
    out = np.zeros((batch, classes, classes))
    for b in range(batch):
        for i in range(classes):
            for j in range(classes):
                p_i = np.exp(log_p[b, i])
                out[b, i, j] = np.sum(p_i * (log_p[b, i] - log_p[b, j]))
    return out


def ics_rel_entr(logits: np.ndarray) -> np.ndarray:
    batch, classes = logits.shape[:2]
    p = np.exp(np_log_softmax(logits.reshape(batch, classes, -1).astype(np.float64), axis=-1))
    return rel_entr(p[:, :, None, :], p[:, None, :, :]).sum(-1)


def released_loop(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The released ``lo_loss`` re-stated as it is written: softmax over dim=2, KLDivLoss on
    probabilities for i <= j, mirrored, batch-pooled, row-normalised, mean / B."""
    kl = torch.nn.KLDivLoss(reduction="batchmean")
    batch, classes = student.shape[:2]
    s_logit = F.softmax(student / temperature, dim=2)
    t_logit = F.softmax(teacher / temperature, dim=2)
    iccs = torch.zeros(classes, classes, dtype=student.dtype)
    icct = torch.zeros(classes, classes, dtype=student.dtype)
    for i in range(classes):
        for j in range(i, classes):
            iccs[j, i] = iccs[i, j] = kl(s_logit[:, i], s_logit[:, j])
            icct[j, i] = icct[i, j] = kl(t_logit[:, i], t_logit[:, j])
    iccs = F.normalize(iccs, dim=1)
    icct = F.normalize(icct, dim=1)
    return (iccs - icct).pow(2).mean() / batch


def paper_loss_reference(student: np.ndarray, teacher: np.ndarray) -> float:
    def normalised(m: np.ndarray) -> np.ndarray:
        return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)

    diff = normalised(ics_double_loop(student)) - normalised(ics_double_loop(teacher))
    return float(np.mean(diff**2))


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 2, 1, 9), (3, 6, 4, 4)])
def test_ics_matrix_matches_float64_double_loop(shape):
    logits = random_logits(shape)
    expected = ics_double_loop(logits.numpy())
    torch.testing.assert_close(ics_matrix(logits.double()).numpy(), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ics_matrix(logits).double().numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("classes", [2, 21, 150])
def test_ics_matrix_matches_scipy_rel_entr_for_many_class_counts(classes):
    logits = random_logits((2, classes, 6, 5), seed=classes)
    expected = ics_rel_entr(logits.numpy())
    torch.testing.assert_close(ics_matrix(logits.double()).numpy(), expected, rtol=1e-9, atol=1e-11)


def test_intra_class_distributions_are_softmax_over_all_pixels():
    logits = random_logits((2, 4, 5, 3))
    p = intra_class_distributions(logits)
    assert p.shape == (2, 4, 15)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, 4))
    torch.testing.assert_close(p, torch.softmax(logits.flatten(2), dim=-1))
    torch.testing.assert_close(intra_class_distributions(logits, 2.0), torch.softmax(logits.flatten(2) / 2, -1))


def test_ics_matrix_is_a_kl_matrix():
    m = ics_matrix(random_logits((2, 5, 8, 8)).double())
    assert torch.all(m >= -1e-12)
    assert torch.allclose(torch.diagonal(m, dim1=1, dim2=2), torch.zeros(2, 5, dtype=m.dtype), atol=1e-12)
    assert not torch.allclose(m, m.transpose(1, 2))


def test_permuting_classes_permutes_the_ics_matrix_and_keeps_the_loss():
    logits = random_logits((2, 7, 6, 6)).double()
    other = random_logits((2, 7, 6, 6), seed=1).double()
    perm = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    m = ics_matrix(logits)
    torch.testing.assert_close(ics_matrix(logits[:, perm]), m[:, perm][:, :, perm])
    loss = ICSDLoss(variant="paper")
    torch.testing.assert_close(loss(logits[:, perm], other[:, perm]), loss(logits, other))


def test_released_variant_depends_on_the_order_of_the_classes():
    """Mirroring i <= j makes entry (i, j) the entropy of class max(i, j): renaming the classes
    changes the released loss, unlike the paper's (digest item 3)."""
    logits = random_logits((2, 7, 6, 6)).double()
    other = random_logits((2, 7, 6, 6), seed=1).double()
    perm = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    loss = ICSDLoss(variant="official")
    permuted, original = loss(logits[:, perm], other[:, perm]), loss(logits, other)
    assert abs(permuted - original) > 0.1 * original


@pytest.mark.parametrize("variant", ICSDLoss.VARIANTS)
def test_identical_student_and_teacher_give_zero_loss(variant):
    logits = random_logits((2, 5, 9, 7))
    assert ICSDLoss(variant=variant)(logits, logits.clone()).item() == 0.0


def test_paper_loss_matches_reference_and_is_positive_when_networks_differ():
    student, teacher = random_logits((2, 4, 5, 6), seed=3), random_logits((2, 4, 5, 6), seed=4)
    expected = paper_loss_reference(student.numpy(), teacher.numpy())
    assert expected > 0
    torch.testing.assert_close(ICSDLoss()(student.double(), teacher.double()).item(), expected, rtol=1e-9, atol=0)


@pytest.mark.parametrize("variant", ICSDLoss.VARIANTS)
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_icsd_gradcheck_float64(variant, temperature):
    student = random_logits((2, 3, 4, 5), seed=5).double().requires_grad_()
    teacher = random_logits((2, 3, 4, 5), seed=6).double()
    loss = ICSDLoss(temperature, variant)
    assert torch.autograd.gradcheck(lambda s: loss(s, teacher), (student,))


@pytest.mark.parametrize("variant", ICSDLoss.VARIANTS)
@pytest.mark.parametrize("make_logits", ["huge", "constant"])
def test_finite_values_and_gradients_for_extreme_logits(variant, make_logits):
    if make_logits == "huge":
        student = random_logits((2, 4, 8, 8), seed=7, scale=1e4)
        teacher = random_logits((2, 4, 8, 8), seed=8, scale=1e4)
    else:
        student = torch.full((2, 4, 8, 8), 3.0)
        teacher = random_logits((2, 4, 8, 8), seed=8)
    student.requires_grad_()
    value = ICSDLoss(variant=variant)(student, teacher)
    (grad,) = torch.autograd.grad(value, student)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    assert torch.isfinite(ics_matrix(student)).all()


def test_official_variant_matches_the_released_loop_restatement():
    student = random_logits((3, 5, 6, 7), seed=9).double().requires_grad_()
    teacher = random_logits((3, 5, 6, 7), seed=10).double()
    for temperature in (1.0, 3.0):
        expected = released_loop(student, teacher, temperature)
        actual = ICSDLoss(temperature, "official")(student, teacher)
        torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-18)
        (g_expected,) = torch.autograd.grad(expected, student)
        (g_actual,) = torch.autograd.grad(actual, student)
        torch.testing.assert_close(g_actual, g_expected, rtol=1e-8, atol=1e-18)


def test_released_matrix_is_symmetric_batch_pooled_and_not_a_kl():
    logits = random_logits((2, 6, 8, 5), seed=11).double()
    m = released_ics_matrix(logits)
    assert m.shape == (6, 6)
    torch.testing.assert_close(m, m.T)
    assert torch.all(m < 0) and torch.all(torch.diagonal(m) != 0)


def test_entropy_term_dominates_the_released_matrix():
    """Digest point 4, measured: on segmentation-like logits (B=2, C=21, 129 x 129, seed 0) the
    released "ICS matrix" is the negative column entropy of class max(i, j) up to a cross term of
    0.22 % of an entry on average and 0.95 % at most (measured), and its normalised rows are nearly
    constant: every entry lies in [-0.232, -0.206], around -1/sqrt(21) = -0.218."""
    logits = segmentation_like_logits(2, 21, 129, 129, torch.Generator().manual_seed(0))
    found = entropy_dominance(logits)
    assert found["mean_cross_share"] < 0.003
    assert found["max_cross_share"] < 0.01
    assert -0.235 < found["normalised_min"] < found["normalised_max"] < -0.20
    paper = ics_matrix(logits)
    assert paper.min() >= -1e-4 and paper.max() > 1.0


def test_bf16_autocast_keeps_float32_inside():
    logits = random_logits((2, 21, 16, 16), seed=12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m = ics_matrix(logits)
        r = released_ics_matrix(logits)
    assert m.dtype == torch.float32 and r.dtype == torch.float32
    torch.testing.assert_close(m, ics_matrix(logits))
    bf16 = ics_matrix(logits.bfloat16())
    assert bf16.dtype == torch.float32
    torch.testing.assert_close(bf16, ics_matrix(logits.bfloat16().float()))


def structured_teacher(classes: int = 5, size: int = 65) -> torch.Tensor:
    return segmentation_like_logits(2, classes, size, size, torch.Generator().manual_seed(21))


@pytest.mark.parametrize("value", [0.0, 0.7, 3.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_all_equal_logits_give_a_zero_matrix_and_an_icsd_of_one_over_c(value, dtype):
    """A constant map is the uniform distribution, so every KL between two such maps is exactly 0.
    The student's matrices are then all zero, their normalised rows are zero, and

        L = 1/(B C^2) sum_b sum_i ||T_b[i, :] / ||T_b[i, :]|| ||^2 = 1/(B C^2) * B * C = 1/C

    whatever the teacher (as long as none of its rows is zero): 0.200 for C = 5. The old matrix
    (neg_entropy - cross, each about -log N) had float32 entries of +-8.7e-5 here and gave 0.70 in
    float32, 0.32 in float64 (rounding noise normalised to unit rows)."""
    teacher = structured_teacher().to(dtype)
    student = torch.full_like(teacher, value)
    assert torch.count_nonzero(ics_matrix(student)) == 0
    assert torch.count_nonzero(ics_matrix(teacher).sum(-1)) == teacher.shape[0] * teacher.shape[1]
    assert ICSDLoss()(student, teacher).item() == pytest.approx(1 / 5, rel=1e-6)


@pytest.mark.parametrize(("std", "size"), [(1e-4, 33), (1e-4, 65), (1e-3, 33)])
def test_nearly_flat_float32_logits_match_the_float64_reference(std, size):
    """Student logits of std 1e-4 or 1e-3 (KL entries of 1e-8 or 1e-6) in float32 against a float64
    double loop on the same values. The old float32 matrix was off by 230x (1e-4, 33 x 33), 460x
    (1e-4, 65 x 65) and 2.3x (1e-3) its largest entry, with negative entries, and its loss by 12x,
    8.3x and 4.4x; now the matrix is within 1e-3 of its largest entry (measured: 4e-4, 4e-4, 4e-5)
    and the loss within 1e-3."""
    student = std * torch.randn(2, 5, size, size, generator=torch.Generator().manual_seed(22))
    teacher = structured_teacher(5, size)
    expected = ics_double_loop(student.numpy())
    found = ics_matrix(student)
    assert found.dtype == torch.float32
    error = np.abs(found.double().numpy() - expected).max()
    assert error < 1e-3 * np.abs(expected).max()
    assert found.min() >= 0
    reference = paper_loss_reference(student.numpy(), teacher.numpy())
    assert ICSDLoss()(student, teacher).item() == pytest.approx(reference, rel=1e-3)


def test_nearly_flat_bf16_inputs_and_bf16_autocast_match_the_float64_reference():
    student = 1e-3 * torch.randn(2, 5, 33, 33, generator=torch.Generator().manual_seed(23))
    rounded = student.bfloat16()
    expected = ics_double_loop(rounded.float().numpy())
    found = ics_matrix(rounded)
    assert found.dtype == torch.float32
    assert np.abs(found.double().numpy() - expected).max() < 1e-3 * np.abs(expected).max()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = ics_matrix(student)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, ics_matrix(student), rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("classes", "height", "width"), [(2, 1, 1), (19, 13, 31), (150, 7, 3)])
def test_any_class_count_size_and_device(device, classes, height, width):
    student = random_logits((2, classes, height, width), seed=13).to(device).requires_grad_()
    teacher = random_logits((2, classes, height, width), seed=14).to(device)
    for variant in ICSDLoss.VARIANTS:
        value = ICSDLoss(variant=variant)(student, teacher)
        value.backward()
        assert value.device.type == device and torch.isfinite(value)
    assert ics_matrix(student).shape == (2, classes, classes)


@pytest.mark.parametrize(("pixels", "chunk"), [(100, 7), (100, 100), (100, 128), (4096, 2048), (5000, 2048)])
def test_chunked_class_pair_product_equals_one_bmm_with_its_gradients(pixels, chunk):
    generator = torch.Generator().manual_seed(21)
    p = torch.rand(2, 3, pixels, dtype=torch.float64, generator=generator).requires_grad_()
    centred = torch.randn(2, 3, pixels, dtype=torch.float64, generator=generator).requires_grad_()
    weights = torch.randn(2, 3, 3, dtype=torch.float64, generator=generator)
    chunked = chunked_class_pair_product(p, centred, chunk)
    direct = torch.bmm(p, centred.transpose(1, 2))
    torch.testing.assert_close(chunked, direct, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        torch.autograd.grad((chunked * weights).sum(), (p, centred)),
        torch.autograd.grad((direct * weights).sum(), (p, centred)),
    )
    assert torch.autograd.gradcheck(lambda a, b: chunked_class_pair_product(a, b, chunk), (p[:1, :, :40], centred[:1, :, :40]))


def test_class_pair_product_is_one_bmm_on_the_cpu():
    p, centred = torch.rand(1, 2, 5000), torch.randn(1, 2, 5000)
    assert torch.equal(class_pair_product(p, centred), torch.bmm(p, centred.transpose(1, 2)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_chunked_ics_matrix_at_a_large_size_matches_float64():
    logits = random_logits((2, 21, 257, 257), seed=22)  # 66,049 pixels: the chunked product
    expected = ics_matrix(logits.double())
    found = ics_matrix(logits.cuda()).cpu().double()
    torch.testing.assert_close(found, expected, rtol=0, atol=2e-5 * float(expected.abs().max()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_under_bf16_autocast():
    logits = random_logits((2, 21, 33, 33), seed=15)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        on_gpu = ics_matrix(logits.cuda())
    torch.testing.assert_close(on_gpu.cpu(), ics_matrix(logits), rtol=1e-4, atol=1e-4)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="variant"):
        ICSDLoss(variant="loop")
    with pytest.raises(ValueError, match="temperature"):
        ICSDLoss(temperature=0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        ics_matrix(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="shape"):
        ICSDLoss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


def test_released_loss_function_equals_the_official_variant():
    student, teacher = random_logits((2, 4, 5, 5), seed=16), random_logits((2, 4, 5, 5), seed=17)
    assert released_icsd_loss(student, teacher) == ICSDLoss(variant="official")(student, teacher)


def test_pairwise_definition_and_closed_form_gradient_agree_with_the_vectorised_matrix():
    logits = random_logits((2, 4, 5, 6), seed=18).double()
    torch.testing.assert_close(ics_matrix_by_pairs(logits), ics_matrix(logits))
    torch.testing.assert_close(ics_matrix_by_pairs(logits).numpy(), ics_double_loop(logits.numpy()))
    for temperature in (1.0, 2.0):
        closed = ics_entry_gradients(logits, 1, 3, temperature)
        auto = autograd_entry_gradients(logits, 1, 3, temperature)
        for c, a in zip(closed, auto):
            torch.testing.assert_close(c, a)
    with pytest.raises(ValueError, match="i != j"):
        ics_entry_gradients(logits, 2, 2)
