"""Reloading finished runs and looking at their ICS matrices."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest
import torch

from aicsd.study import analysis, experiments
from aicsd.data import make_synthetic
from aicsd.engine import evaluate_run, load_network, read_result, run_dir


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    data = make_synthetic(root / "data", num_train=8, num_val=3, num_test=4, image_size=(32, 40))
    config = replace(experiments.teacher_run("smoke", data_root=str(data), device="cpu"), output_dir=str(root / "runs"))
    experiments.run_all([config])
    return config


def test_loaded_model_reproduces_the_stored_test_metrics(teacher):
    model = load_network(teacher)
    assert not model.training
    images, masks = analysis.eval_images(teacher, "test", [0, 1, 2, 3])
    assert len(images) == 4 and images[0].shape[1:] == masks[0].shape
    stored = evaluate_run(run_dir(teacher), split="test", device="cpu")
    assert stored["miou"] == pytest.approx(read_result(run_dir(teacher))["test"]["miou"])
    logits = analysis.predict_logits(model, images[0])
    assert logits.shape == (21, *images[0].shape[1:])


def test_ics_helpers(teacher):
    model = load_network(teacher)
    images, _ = analysis.eval_images(teacher, "test", [0, 1])
    matrix = analysis.mean_ics_matrix(model, images)
    assert matrix.shape == (21, 21) and torch.all(matrix >= -1e-4)
    assert analysis.icsd_to_teacher(model, model, images) == 0.0
    batch = analysis.fixed_size_batch(teacher, "test", 3, 24)
    assert batch.shape == (3, 3, 24, 24)
    image = analysis.denormalize(images[0])
    assert image.shape[-1] == 3 and 0 <= image.min() and image.max() <= 1


def test_missing_checkpoint_and_index_are_named(teacher, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_network(tmp_path)
    with pytest.raises(IndexError, match="has 4 images"):
        analysis.eval_images(teacher, "test", [10])


def test_ics_distance_column_is_zero_for_the_teacher_itself(teacher):
    frame = pd.DataFrame({"run_dir": [str(run_dir(teacher))], "seed": [0]})
    with_distance = analysis.with_ics_distance(frame, teacher, "test", count=2)
    assert with_distance["ics_distance"].iloc[0] == pytest.approx(0.0, abs=1e-6)


def test_feature_collapse_sees_a_backbone_whose_last_batchnorm_outputs_its_shift():
    from aicsd.models import build_segmenter

    torch.manual_seed(0)
    model = build_segmenter("mobilenet_v2", 5, width_multiplier=0.25).eval()
    images = torch.randn(6, 3, 64, 64)
    healthy = analysis.feature_collapse(model, images)
    assert healthy["bn_shift_ratio"] == 0.0  # beta starts at zero
    assert healthy["pairwise_cosine"] < 0.9 and healthy["shared_energy"] < 0.9
    last_norm = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]
    with torch.no_grad():
        last_norm.weight.fill_(1e-3)
        last_norm.bias.copy_(torch.linspace(-2.0, 2.0, len(last_norm.bias)))
    collapsed = analysis.feature_collapse(model, images)
    assert collapsed["bn_shift_ratio"] == pytest.approx(float(last_norm.bias.detach().abs().mean()) / 1e-3)
    assert collapsed["pairwise_cosine"] > 0.999 and collapsed["shared_energy"] > 0.999
    assert collapsed["first_stage_cosine"] == healthy["first_stage_cosine"] < 0.9  # the first stage still sees the image
    constant = torch.zeros(6, 3, 64, 64) + torch.linspace(0.5, 1.5, 6).view(6, 1, 1, 1)  # one image at six brightnesses
    assert analysis.feature_collapse(model, constant)["first_stage_cosine"] > 0.99


def test_first_step_gradients_are_linear_in_each_terms_weight_and_leave_cross_entropy_alone(teacher):
    def student(**weights: float):
        config = experiments.student_run("smoke", backbone="resnet18", method="sp", seed=0, data_root=teacher.data_root, device="cpu", **weights)
        return replace(config, output_dir=teacher.output_dir)

    norms = analysis.first_step_gradients(student())
    assert set(norms) == {"ce", "sp"}
    assert all(math.isfinite(value) and value > 0 for value in norms.values())
    heavier = analysis.first_step_gradients(student(sp_weight=4 * student().distillation.term("sp").weight))
    assert heavier["ce"] == norms["ce"]  # the same initialisation and the same first batch
    assert heavier["sp"] == pytest.approx(4 * norms["sp"], rel=1e-5)


def test_network_logits_and_present_classes(teacher):
    images, masks = analysis.eval_images(teacher, "test", [0])
    logits = analysis.network_logits({"teacher": teacher}, images[0])
    assert list(logits) == ["teacher"] and logits["teacher"].shape == (21, *images[0].shape[-2:])
    mask = torch.tensor([[0, 0, 0, 3], [3, 255, 255, 255], [7, 7, 0, 3]])
    assert analysis.present_classes(mask) == [0, 3, 7]
    assert analysis.present_classes(mask, limit=1) == [0]
    assert set(analysis.present_classes(masks[0], limit=30)) == set(masks[0][masks[0] != 255].unique().tolist())
