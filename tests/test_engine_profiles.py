"""Profiles as data: every profile in the same shape, its recipe, and the teacher a student derives."""

import dataclasses

import pytest
import torch

from aicsd.models import build_segmenter
from aicsd.engine.config import RunConfig
from aicsd.engine.identity import config_hash, run_id
from aicsd.engine.profiles import CPU_STUDENT_EPOCHS, PROFILES, Profile, load_profile, seeds_of, teacher_config
from aicsd.engine.setup import teacher_run_id
from aicsd.errors import ConfigError
from aicsd.losses import resolve


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_every_profile_loads(name, kind):
    cfg = load_profile(name, kind=kind)
    assert cfg.profile == name and cfg.kind == kind
    assert cfg.num_classes == 21
    if kind == "teacher":
        assert cfg.method == "none"


def test_every_profile_has_the_same_shape_with_seeds():
    for name, profile in PROFILES.items():
        assert isinstance(profile, Profile) and profile.name == name
        assert profile.seeds and all(isinstance(seed, int) for seed in profile.seeds)
        assert seeds_of(name) == profile.seeds
    with pytest.raises(ValueError, match="valid: smoke, cpu, paper"):
        seeds_of("gpu")


def test_cpu_is_the_default_profile():
    assert RunConfig().profile == "cpu"
    assert load_profile() == load_profile("cpu", kind="student", dataset="synthetic")


def test_cpu_students_share_the_teachers_images_and_augmentation_on_the_generated_set():
    student, teacher = load_profile("cpu", method="aicsd"), load_profile("cpu", kind="teacher")
    assert student.train_limit is None and teacher.train_limit is None
    same = ("crop_size", "scale_range", "lr", "batch_size", "momentum", "weight_decay", "poly_power", "eval_size")
    assert {name: getattr(student, name) for name in same} == {name: getattr(teacher, name) for name in same}
    assert (student.epochs, teacher.epochs, student.scale_range) == (CPU_STUDENT_EPOCHS, 12, (0.75, 1.25))
    assert student.distillation.alw == "step"
    camvid = load_profile("cpu", dataset="camvid")
    assert (camvid.epochs, camvid.train_limit) == (RunConfig.epochs, RunConfig.train_limit)
    assert load_profile("paper").scale_range == (0.5, 2.0)


def test_cpu_profile_gives_the_camvid_teacher_its_own_schedule_and_camvid_a_smaller_study():
    from aicsd.engine.profiles import CPU_CAMVID_SWEEP_FACTORS, CPU_CAMVID_TEACHER_EPOCHS

    cpu = PROFILES["cpu"]
    camvid_teacher = load_profile("cpu", kind="teacher", dataset="camvid")
    assert camvid_teacher.epochs == CPU_CAMVID_TEACHER_EPOCHS == 36
    assert load_profile("cpu", kind="teacher").epochs == 12
    assert load_profile("cpu", kind="teacher", dataset="cityscapes").epochs == 12
    assert load_profile("cpu", dataset="camvid").epochs == RunConfig.epochs
    assert load_profile("cpu", kind="teacher", dataset="camvid", epochs=5).epochs == 5
    assert cpu.sweep_factors_on("camvid") == CPU_CAMVID_SWEEP_FACTORS
    assert cpu.sweep_factors_on("synthetic") == cpu.sweep_factors
    assert (cpu.detail_seeds_on("camvid"), cpu.detail_seeds_on("synthetic")) == (1, cpu.detail_seeds)


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


def test_method_settings_are_resolved_into_the_config():
    cfg = load_profile("smoke", method="aicsd", kd_weight=2.0, temperature=4.0, alw="step")
    assert cfg.distillation == resolve("aicsd", kd_weight=2.0, temperature=4.0, alw="step")
    assert cfg.distillation.term("kd").weight == 2.0
    assert cfg.distillation.term("icsd").temperature == 4.0


def test_unknown_profile_lists_profiles():
    with pytest.raises(ValueError, match="valid: smoke, cpu, paper"):
        load_profile("gpu")


def test_teacher_config_shares_data_and_execution_settings():
    student = load_profile("cpu", method="aicsd", seed=2, device="cpu", output_dir="/tmp/x")
    teacher = teacher_config(student)
    assert teacher.kind == "teacher" and teacher.method == "none"
    assert teacher.backbone == student.teacher_backbone
    assert teacher.width_multiplier == student.teacher_width_multiplier
    assert (teacher.device, teacher.output_dir, teacher.dataset) == ("cpu", "/tmp/x", student.dataset)
    assert teacher.seed == load_profile("cpu", kind="teacher").seed
    assert teacher_config(dataclasses.replace(student, seed=0)) == teacher


def test_cpu_profile_sizes_per_dataset_keep_real_objects_visible():
    synthetic = load_profile("cpu")
    assert (synthetic.crop_size, synthetic.eval_size, synthetic.scale_range) == (64, 64, (0.75, 1.25))
    camvid = load_profile("cpu", dataset="camvid", kind="teacher")
    assert (camvid.crop_size, camvid.eval_size, camvid.scale_range) == (160, 192, (0.75, 1.5))
    cityscapes = load_profile("cpu", dataset="cityscapes")
    assert (cityscapes.crop_size, cityscapes.eval_size, cityscapes.scale_range) == (192, 256, (0.75, 1.5))
    assert load_profile("cpu", dataset="voc").eval_size == 128
    assert load_profile("cpu", dataset="camvid", crop_size=96).crop_size == 96


def test_test_split_is_recorded_where_the_data_root_has_one(tmp_path):
    from test_data_camvid import write_camvid

    with_test = write_camvid(tmp_path / "full", {"train": 1, "val": 1, "test": 1})
    without = write_camvid(tmp_path / "train-val", {"train": 1, "val": 1})
    assert load_profile("cpu", dataset="camvid", data_root=str(with_test)).test_split == "test"
    assert load_profile("cpu", dataset="camvid", data_root=str(without)).test_split is None
    assert load_profile("cpu", dataset="camvid", data_root=str(with_test), test_split=None).test_split is None
    assert load_profile("paper", dataset="voc").test_split is None
    assert load_profile("smoke").test_split == "test"


def test_a_student_records_the_teacher_run_it_reads():
    student = load_profile("smoke", method="kd", output_dir="/tmp/x")
    assert student.teacher_run == run_id(teacher_config(student))
    assert load_profile("smoke", method="kd", teacher_run="teacher-none-resnet18-0123456789ab").teacher_run.endswith("0123456789ab")
    assert load_profile("smoke", method="kd", teacher_checkpoint="/w.pt").teacher_run is None
    assert load_profile("smoke", method="none").teacher_run is None
    assert load_profile("smoke", kind="teacher").teacher_run is None
    with pytest.raises(ValueError, match="not both"):
        load_profile("smoke", method="kd", teacher_checkpoint="/w.pt", teacher_run="teacher-x")


def test_the_teacher_run_is_hashed_by_its_id_not_its_folder():
    student = load_profile("smoke", method="kd")
    assert teacher_run_id(dataclasses.replace(student, teacher_run=None)) == student.teacher_run
    with pytest.raises(ConfigError, match="names no teacher"):  # identity never builds a teacher config itself
        config_hash(dataclasses.replace(student, teacher_run=None))
    assert config_hash(dataclasses.replace(student, teacher_run=f"/elsewhere/{student.teacher_run}")) == config_hash(student)
    assert config_hash(dataclasses.replace(student, teacher_run="teacher-none-resnet18-000000000000")) != config_hash(student)



def test_cpu_profile_evaluates_one_image_at_a_time_because_padding_changes_predictions():
    for dataset in ("synthetic", "voc", "cityscapes", "camvid"):
        assert load_profile("cpu", dataset=dataset).eval_batch_size == 1
    torch.manual_seed(0)
    model = build_segmenter("resnet18", 5, width_multiplier=0.125).eval()
    image = torch.randn(1, 3, 64, 80)
    padded = torch.zeros(1, 3, 64, 96)  # as pad_collate batches it with a wider image
    padded[..., :80] = image
    with torch.no_grad():
        alone, in_batch = model(image), model(padded)[..., :80]
    assert (alone - in_batch).abs().max() > 1e-3
