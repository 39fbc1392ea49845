"""RunConfig profiles, validation, overrides and the config hash."""

import dataclasses

import pytest

from aicsd.engine.config import (
    PROFILES,
    RunConfig,
    config_hash,
    load_profile,
    parse_overrides,
    run_id,
    teacher_config,
    uses_teacher,
)


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_every_profile_loads(name, kind):
    cfg = load_profile(name, kind=kind)
    assert cfg.profile == name and cfg.kind == kind
    assert cfg.num_classes == 21
    if kind == "teacher":
        assert cfg.method == "none"


def test_cpu_is_the_default_profile():
    assert load_profile() == RunConfig()


def test_paper_profile_follows_the_released_recipe():
    voc = load_profile("paper", dataset="voc")
    assert voc.lr == pytest.approx(0.007 * 8 / 6)
    assert (voc.batch_size, voc.epochs, voc.crop_size) == (8, 120, 513)
    assert (voc.momentum, voc.weight_decay, voc.poly_power, voc.head_lr_multiplier) == (0.9, 5e-4, 0.9, 10.0)
    assert voc.pretrained_backbone and voc.width_multiplier == 1.0 and voc.teacher_backbone == "resnet101"
    assert voc.data_root.endswith("data/voc")
    cityscapes = load_profile("paper", dataset="cityscapes", kind="teacher")
    assert (cityscapes.lr, cityscapes.epochs, cityscapes.num_classes) == (0.01, 200, 19)
    assert cityscapes.backbone == "resnet101"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"method": "fitnet"}, "unknown method 'fitnet'; valid: none, kd"),
        ({"backbone": "vgg16"}, "unknown backbone 'vgg16'; valid: resnet101"),
        ({"teacher_backbone": "vit"}, "unknown teacher_backbone"),
        ({"dataset": "ade20k"}, "unknown dataset 'ade20k'; valid: synthetic"),
        ({"train_split": "trainval"}, "unknown train_split of synthetic"),
        ({"kind": "ta"}, "unknown kind"),
        ({"eval_mode": "multi"}, "valid: released, full"),
        ({"icsd_variant": "v2"}, "valid: paper, official"),
        ({"kind": "teacher", "method": "kd"}, "method must be 'none'"),
        ({"method": "kd", "icsd_weight": 1.0}, "icsd_weight has no effect"),
        ({"epochs": 0}, "epochs must be positive"),
        ({"scale_range": (2.0, 0.5)}, "scale_range"),
        ({"colour": "red"}, "unknown config field"),
    ],
)
def test_invalid_configs_list_the_valid_choices(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_profile("cpu", **overrides)


def test_unknown_profile_lists_profiles():
    with pytest.raises(ValueError, match="valid: smoke, cpu, paper"):
        load_profile("gpu")


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_profile("smoke").epochs = 3


def test_hash_ignores_execution_fields_but_not_result_fields():
    base = load_profile("smoke", method="kd")
    same = dataclasses.replace(base, quiet=True, num_workers=3, output_dir="/elsewhere", device="cpu")
    assert config_hash(same) == config_hash(base)
    for change in ({"seed": 1}, {"lr": 0.02}, {"kd_weight": 2.0}, {"teacher_backbone": "resnet50"}):
        assert config_hash(dataclasses.replace(base, **change)) != config_hash(base), change


def test_hash_is_stable_across_calls_and_names_the_run():
    cfg = load_profile("smoke", method="aicsd", seed=2)
    assert config_hash(cfg) == config_hash(load_profile("smoke", method="aicsd", seed=2))
    assert len(config_hash(cfg)) == 64
    assert run_id(cfg) == f"student-aicsd-resnet18-{config_hash(cfg)[:12]}"


def test_teacher_hash_ignores_distillation_fields_and_baseline_ignores_teacher():
    teacher = load_profile("smoke", kind="teacher")
    assert config_hash(dataclasses.replace(teacher, temperature=4.0)) == config_hash(teacher)
    baseline = load_profile("smoke", method="none")
    assert not uses_teacher(baseline) and not uses_teacher(teacher)
    assert config_hash(dataclasses.replace(baseline, teacher_backbone="resnet50")) == config_hash(baseline)


def test_teacher_config_shares_data_and_execution_settings():
    student = load_profile("cpu", method="aicsd", seed=2, device="cpu", output_dir="/tmp/x")
    teacher = teacher_config(student)
    assert teacher.kind == "teacher" and teacher.method == "none"
    assert teacher.backbone == student.teacher_backbone
    assert teacher.width_multiplier == student.teacher_width_multiplier
    assert (teacher.device, teacher.output_dir, teacher.dataset) == ("cpu", "/tmp/x", student.dataset)
    assert teacher.seed == load_profile("cpu", kind="teacher").seed
    assert teacher_config(dataclasses.replace(student, seed=0)) == teacher


def test_parse_overrides_types_values():
    parsed = parse_overrides(
        ["epochs=3", "lr=0.5", "amp=false", "train_limit=none", "scale_range=0.75,1.5", "method=icsd+kd", "adaptive=on"]
    )
    assert parsed == {
        "epochs": 3,
        "lr": 0.5,
        "amp": False,
        "train_limit": None,
        "scale_range": (0.75, 1.5),
        "method": "icsd+kd",
        "adaptive": True,
    }


@pytest.mark.parametrize(
    ("item", "match"),
    [("epochs", "field=value"), ("epochs=three", "expects int"), ("amp=maybe", "boolean"), ("nope=1", "unknown")],
)
def test_parse_overrides_rejects_bad_items(item, match):
    with pytest.raises(ValueError, match=match):
        parse_overrides([item])
