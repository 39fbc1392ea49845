"""The released-code measurements state what they measure, on controlled inputs."""

from __future__ import annotations

import pytest
import torch

from aicsd.study import audit
from aicsd.losses import ics_matrix
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
    torch.manual_seed(0)
    model = build_segmenter("resnet18", 4, width_multiplier=0.125)
    found = audit.resolution_effect(model, torch.randn(2, 3, 32, 32))
    assert found["pixels_full"] == 32 * 32 and found["pixels_low"] == 8 * 8
    assert found["icsd_between"] >= 0
