"""RunConfig validation: unknown choices list the valid ones; numbers out of range are refused."""

import dataclasses
import math

import pytest

from aicsd.engine.config import RunConfig
from aicsd.engine.profiles import load_profile


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"method": "fitnet"}, "unknown distillation method 'fitnet'; valid: none, kd"),
        ({"backbone": "vgg16"}, "unknown backbone 'vgg16'; valid: resnet101"),
        ({"teacher_backbone": "vit"}, "unknown teacher_backbone"),
        ({"dataset": "ade20k"}, "unknown dataset 'ade20k'; valid: synthetic"),
        ({"train_split": "trainval"}, "unknown train_split of synthetic"),
        ({"kind": "ta"}, "unknown kind"),
        ({"eval_mode": "multi"}, "valid: released, full"),
        ({"method": "aicsd", "icsd_variant": "v2"}, "valid: paper, official"),
        ({"kind": "teacher", "method": "kd"}, "cannot be set for a teacher"),
        ({"method": "kd", "icsd_weight": 1.0}, "icsd_weight has no effect"),
        ({"method": "ad", "temperature": 2.0}, "temperature has no effect"),
        ({"method": "kd", "kd_weight": -10.0}, "kd_weight must be a finite number >= 0"),
        ({"method": "kd", "kd_weight": math.inf}, "kd_weight must be a finite number"),
        ({"method": "kd", "temperature": 0.0}, "temperature must be a finite number > 0"),
        ({"method": "aicsd", "alw": "sometimes"}, "unknown alw 'sometimes'; valid: off, epoch, step"),
        ({"epochs": 0}, "epochs must be a finite number > 0"),
        ({"lr": math.nan}, "lr must be a finite number > 0"),
        ({"lr": math.inf}, "lr must be a finite number > 0"),
        ({"momentum": -5.0}, r"momentum must lie in \[0, 1\)"),
        ({"weight_decay": -1.0}, "weight_decay must be a finite number >= 0"),
        ({"scale_range": (2.0, 0.5)}, "scale_range"),
        ({"init_seed": -1}, "init_seed must be None"),
        ({"colour": "red"}, "unknown config field"),
    ],
)
def test_invalid_configs_list_the_valid_choices(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_profile("cpu", **overrides)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_profile("smoke").epochs = 3


def test_method_and_teacher_use_come_from_the_resolved_distillation():
    assert RunConfig().method == "none" and not RunConfig().uses_teacher
    student = load_profile("smoke", method="aicsd")
    assert student.method == "aicsd" and student.uses_teacher
    assert student.distillation.term_names == ("icsd", "kd")
    assert not load_profile("smoke", kind="teacher").uses_teacher
