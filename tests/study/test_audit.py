"""The released-code measurements state what they measure, on controlled inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aicsd.study import audit
from aicsd.losses import ICSDLoss, ics_matrix
from aicsd.losses.icsd import icsd_from_matrices
from aicsd.study.calibration import segmentation_like_logits
from aicsd.models import build_segmenter


@pytest.fixture(scope="module")
def logits() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    teacher = segmentation_like_logits(2, 6, 24, 20, generator)
    return 0.8 * teacher + 0.5 * torch.randn(teacher.shape, generator=generator), teacher


def test_height_softmax_matrix_is_the_column_average(logits):
    _, teacher = logits
    columns = torch.stack([ics_matrix(teacher[..., w : w + 1]) for w in range(teacher.shape[-1])]).mean(0)
    torch.testing.assert_close(audit.height_softmax_ics_matrix(teacher), columns)
    effect = audit.softmax_axis_effect(teacher)
    assert -1 <= effect["correlation"] <= 1 and effect["mass_per_class"] == 20


def test_signs_symmetry_and_pooling(logits):
    student, teacher = logits
    signs = audit.released_matrix_signs(teacher)
    assert signs["released_max"] < 0 and signs["released_diagonal_max"] < 0
    assert signs["paper_diagonal_max_abs"] < 1e-5
    symmetry = audit.asymmetry(student, teacher, torch.tensor([5, 3, 1, 0, 2, 4]))
    assert symmetry["paper_relative_change"] < 1e-12 < symmetry["official_relative_change"]
    assert symmetry["paper_asymmetry"] > 0
    pooling = audit.batch_pooling(student, teacher)
    assert pooling["paper_ratio"] == pytest.approx(1.0) and pooling["official_ratio"] == pytest.approx(0.5)


def test_teacher_mode_disagreement_restores_the_network():
    torch.manual_seed(0)
    model = build_segmenter("resnet18", 4, width_multiplier=0.125).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = audit.teacher_mode_disagreement(model, torch.randn(4, 3, 32, 32))
    assert 0 <= found["changed_pixels"] <= 1 and found["mean_pixel_kl"] >= 0
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_resolution_effect_compares_stride_4_with_input_size():
    """The low-resolution logits are the classifier's stride-4 output (upsampling them gives the
    network's output exactly), and the ICSD between the two resolutions is not zero (the old
    version compared one interpolation with itself and always reported 0)."""
    torch.manual_seed(0)
    model = build_segmenter("resnet18", 4, width_multiplier=0.125).train()
    images = torch.randn(2, 3, 32, 32)
    low, full = audit.stride4_and_full_logits(model, images)
    assert model.training
    assert low.shape == (2, 4, 8, 8) and full.shape == (2, 4, 32, 32)
    upsampled = F.interpolate(low, size=(32, 32), mode="bilinear", align_corners=False)
    torch.testing.assert_close(upsampled, full, rtol=0, atol=0)
    torch.testing.assert_close(full, model.eval()(images))
    found = audit.resolution_effect(model, images)
    assert found["pixels_full"] == 32 * 32 and found["pixels_low"] == 8 * 8
    expected = icsd_from_matrices(ics_matrix(low), ics_matrix(full)).item()
    assert found["icsd_between"] == pytest.approx(expected) and found["icsd_between"] > 1e-6
    assert -1 <= found["correlation"] <= 1


def test_permutation_sensitivity_is_a_seeded_distribution(logits):
    student, teacher = logits
    changes = audit.permutation_sensitivity(student, teacher, count=20, seed=0)
    assert sorted(changes.columns) == ["official_relative_change", "paper_relative_change"]
    assert len(changes) == 20
    assert changes["paper_relative_change"].abs().max() < 1e-12
    official = changes["official_relative_change"]
    assert official.abs().max() > 1e-3 and official.nunique() > 5
    assert changes.equals(audit.permutation_sensitivity(student, teacher, count=20, seed=0))
    assert not changes.equals(audit.permutation_sensitivity(student, teacher, count=20, seed=1))
    generator = torch.Generator().manual_seed(0)
    s, t = student.double(), teacher.double()
    for row in range(3):  # each row is what the released loss gives on the renamed logits
        order = torch.randperm(6, generator=generator)
        for variant in ICSDLoss.VARIANTS:
            loss = ICSDLoss(variant=variant)
            direct = ((loss(s[:, order], t[:, order]) - loss(s, t)) / loss(s, t)).item()
            assert changes[f"{variant}_relative_change"].iloc[row] == pytest.approx(direct, rel=1e-9, abs=1e-12)
    single = audit.asymmetry(student, teacher, order)["official_relative_change"]
    assert abs(official.iloc[2]) == pytest.approx(single)
    with pytest.raises(ValueError, match="count"):
        audit.permutation_sensitivity(student, teacher, count=0)
