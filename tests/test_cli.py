"""python -m aicsd: help, user errors (one line, exit 2, no traceback), Ctrl-C (130), and a smoke pipeline."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aicsd.cli import main
from aicsd.data import make_synthetic
from aicsd.engine import fit as fit_module

COMMANDS = ["make-synthetic", "train-teacher", "distill", "evaluate", "runs"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"aicsd {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["distill", "--method", "fitnet"], "unknown distillation method 'fitnet'; valid: none, kd, ad, sp, ickd, icsd, icsd+kd, aicsd, cwd, dist"),
        (["distill", "--teacher-backbone", "vgg"], "valid: resnet101, resnet50, resnet18, mobilenet_v2"),
        (["train-teacher", "--backbone", "vgg"], "unknown backbone 'vgg'"),
        (["train-teacher", "--dataset", "ade20k"], "valid: synthetic, voc, cityscapes, camvid"),
        (["train-teacher", "--profile", "gpu"], "unknown profile 'gpu'; valid: smoke, cpu, paper"),
        (["distill", "--set", "colour=red"], "unknown config field 'colour'"),
        (["distill", "--set", "epochs=many"], "epochs expects int"),
        (["distill", "--set", "epochs"], "field=value"),
        (["distill", "--set", "kind=teacher"], "kind is set by the subcommand"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_configuration_errors_exit_2_and_list_valid_choices(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return make_synthetic(root, num_train=16, num_val=6, num_test=5, image_size=(32, 48))


@pytest.fixture()
def data(tiny_data, tmp_path):
    """A copy of the tiny dataset that a test may damage."""
    return Path(shutil.copytree(tiny_data, tmp_path / "data"))


def _common(data_root, output_dir):
    return ["--profile", "smoke", "--data-root", str(data_root), "--output-dir", str(output_dir), "--device", "cpu", "--quiet"]


def _one_line_error(capsys, *expected):
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("aicsd") and "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


def test_missing_teacher_exits_2_with_the_command_that_trains_it(tiny_data, tmp_path, capsys):
    common = _common(tiny_data, tmp_path / "runs")
    assert main(["distill", *common, "--method", "kd"]) == 2
    command = re.search(r"`python -m aicsd (train-teacher [^`]*)`", capsys.readouterr().err).group(1)
    assert f"--data-root {tiny_data}" in command and f"--output-dir {tmp_path / 'runs'}" in command
    assert main([*shlex.split(command), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["distill", *common, "--method", "kd"]) == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "lr=nan"], "lr must be a finite number > 0, got nan"),
        (["--set", "lr=inf"], "lr must be a finite number > 0, got inf"),
        (["--lr", "-1"], "lr must be a finite number > 0"),
        (["--set", "momentum=-5"], "momentum must lie in [0, 1)"),
        (["--set", "temperature=0"], "temperature must be a finite number > 0"),
        (["--set", "kd_weight=-10"], "kd_weight must be a finite number >= 0"),
        (["--set", "output_stride=7"], "output_stride must be one of 16, 8"),
        (["--batch-size", "0"], "batch_size must be a finite number > 0"),
        (["--epochs", "abc"], "invalid int value: 'abc'"),
        (["--set", "scale_range=2,1"], "scale_range must be (low, high)"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_2(flags, message, capsys):
    assert main(["distill", "--profile", "smoke", "--method", "aicsd", *flags]) == 2
    _one_line_error(capsys, message)


def _damage_image(data):
    (data / "VOCdevkit/VOC2012/JPEGImages/train_00000.jpg").write_bytes(b"not a jpeg")
    return "cannot read image"


def _damage_mask(data):
    path = data / "VOCdevkit/VOC2012/SegmentationClass/train_00001.png"
    mask = np.array(Image.open(path))
    mask[0, 0] = 50
    Image.fromarray(mask).save(path)
    return "has invalid label values [50]"


def _empty_val(data):
    (data / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").write_text("")
    return "split 'val'"


@pytest.mark.parametrize("damage", [_damage_image, _damage_mask, _empty_val])
def test_broken_data_is_one_line_and_exit_2(data, tmp_path, damage, capsys):
    message = damage(data)
    assert main(["train-teacher", *_common(data, tmp_path / "runs")]) == 2
    _one_line_error(capsys, message, str(data))


def test_a_batch_larger_than_the_split_is_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    assert main(["train-teacher", *_common(tiny_data, tmp_path), "--batch-size", "64"]) == 2
    _one_line_error(capsys, "smaller than one batch")


def test_a_run_store_that_cannot_be_written_is_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["train-teacher", *_common(tiny_data, tmp_path / "file" / "runs")]) == 2
    _one_line_error(capsys, str(tmp_path / "file"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_store_is_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    store = tmp_path / "runs"
    store.mkdir(mode=0o500)
    assert main(["train-teacher", *_common(tiny_data, store)]) == 2
    _one_line_error(capsys, "permission denied", "--output-dir")


@pytest.fixture(scope="module")
def teacher_run(tiny_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train-teacher", *_common(tiny_data, runs)]) == 0
    return next(runs.iterdir())


def test_a_teacher_checkpoint_of_another_backbone_is_one_line_and_exit_2(tiny_data, teacher_run, tmp_path, capsys):
    capsys.readouterr()
    argv = ["distill", *_common(tiny_data, tmp_path), "--method", "kd", "--teacher-checkpoint", str(teacher_run / "checkpoint.pt")]
    assert main([*argv, "--teacher-backbone", "mobilenet_v2"]) == 2
    _one_line_error(capsys, "does not fit a mobilenet_v2 teacher", "missing tensors")


def test_a_corrupt_run_file_is_one_line_naming_it_and_exit_2(teacher_run, tmp_path, capsys):
    run = Path(shutil.copytree(teacher_run, tmp_path / "runs" / teacher_run.name))
    checkpoint = run / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:500])
    capsys.readouterr()
    assert main(["evaluate", str(run), "--device", "cpu"]) == 2
    _one_line_error(capsys, f"{checkpoint} is not a readable checkpoint", "delete the run folder")
    (run / "result.json").write_text("{")
    assert main(["runs", "--root", str(tmp_path / "runs")]) == 2
    _one_line_error(capsys, f"{run / 'result.json'} is corrupt")


def test_ctrl_c_says_how_to_resume_and_exits_130(tiny_data, tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module, "train_one_epoch", interrupt)
    assert main(["train-teacher", *_common(tiny_data, tmp_path)]) == 130
    assert capsys.readouterr().err == "aicsd: interrupted; rerun the same command to resume (finished epochs and runs are kept)\n"


def test_a_bug_keeps_its_traceback(tiny_data, tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(fit_module, "train_one_epoch", bug)
    with pytest.raises(ZeroDivisionError):
        main(["train-teacher", *_common(tiny_data, tmp_path)])


def test_a_user_error_in_a_real_process_prints_no_traceback(tiny_data, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "aicsd", "train-teacher", *_common(tiny_data, tmp_path), "--set", "batch_size=64"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "smaller than one batch" in completed.stderr


def test_smoke_pipeline_through_the_command_line(tmp_path, capsys):
    data, runs = tmp_path / "data", tmp_path / "runs"
    assert main(["make-synthetic", "--root", str(data), "--num-train", "8", "--num-val", "4"]) == 0
    assert capsys.readouterr().out.strip() == str(data)
    common = ["--profile", "smoke", "--data-root", str(data), "--output-dir", str(runs), "--device", "cpu", "--quiet"]
    assert main(["train-teacher", *common]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"].startswith("teacher-none-resnet18-")
    assert main(["distill", *common, "--method", "aicsd", "--set", "kd_weight=2"]) == 0
    student = json.loads(capsys.readouterr().out)
    assert student["run_id"].startswith("student-aicsd-resnet18-")
    assert 0.0 <= student["miou"] <= 1.0
    assert main(["evaluate", str(runs / student["run_id"]), "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["miou"] == pytest.approx(student["miou"])
    assert main(["runs", "--root", str(runs)]) == 0
    table = capsys.readouterr().out
    assert "aicsd" in table and "teacher" in table and "miou (%)" in table


def test_python_dash_m_entry_point():
    completed = subprocess.run(
        [sys.executable, "-m", "aicsd", "distill", "--method", "nope"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 2
    assert "unknown distillation method 'nope'" in completed.stderr


def test_teacher_run_lets_a_student_distil_from_a_teacher_of_another_recipe(tmp_path, capsys):
    from aicsd.data import make_synthetic
    from aicsd.engine import read_config

    data, runs = make_synthetic(tmp_path / "data", num_train=8, num_val=4, num_test=2, image_size=(32, 40)), tmp_path / "runs"
    common = ["--profile", "smoke", "--data-root", str(data), "--output-dir", str(runs), "--device", "cpu", "--quiet"]
    assert main(["train-teacher", *common, "--epochs", "2"]) == 0
    teacher = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["distill", *common, "--method", "kd"]) != 0
    hint = capsys.readouterr().err
    assert f"--data-root {data}" in hint and f"--output-dir {runs}" in hint and "--teacher-run" in hint
    assert f"finished teacher runs on synthetic in {runs}: {teacher} (2 epochs" in hint
    assert main(["distill", *common, "--method", "kd", "--teacher-run", teacher]) == 0
    student = json.loads(capsys.readouterr().out)["run_id"]
    assert read_config(runs / student).teacher_run == teacher
    assert main(["distill", *common, "--method", "kd", "--teacher-run", str(runs / teacher)]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == student  # the id, not the folder, is hashed
    assert main(["distill", *common, "--method", "kd", "--teacher-run", teacher, "--teacher-backbone", "resnet50"]) == 2
    assert "is a resnet18" in capsys.readouterr().err


def test_evaluate_on_another_root_and_split_is_stored_and_listed_by_runs(tmp_path, capsys):
    from pathlib import Path

    from aicsd.data import dataset_info
    from test_data_camvid import write_camvid

    data = write_camvid(tmp_path / "camvid", {"train": 8, "val": 4})
    second = write_camvid(tmp_path / "camvid-full", {"test": 2}, size=(36, 48), seed=1)
    runs = tmp_path / "runs"
    common = ["--profile", "smoke", "--dataset", "camvid", "--data-root", str(data), "--output-dir", str(runs), "--device", "cpu", "--quiet"]
    assert main(["train-teacher", *common]) == 0
    run = json.loads(capsys.readouterr().out)["run_id"]
    argv = ["evaluate", run, "--root", str(runs), "--data-root", str(second), "--split", "test", "--device", "cpu"]
    assert main([*argv, "--eval-mode", "full"]) == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["split"] == "test" and record["eval_size"] is None and record["label_sizes"] == "36x48"
    assert set(record["per_class_iou"]) == set(dataset_info("camvid").class_names)
    assert Path(record["path"]).is_file() and Path(record["path"]).parent == runs / run / "evaluations"
    assert "labels at their original resolution: 36x48" in err
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["labels"].startswith("labels resized with the images to shorter side 32")
    assert main(["runs", "--root", str(runs), "--per-class"]) == 0
    table = capsys.readouterr().out
    assert "val miou (%) [split val]" in table and "test miou (%) [split none]" in table
    assert "Stored evaluations" in table and record["data_fingerprint"] in table and "36x48" in table
    assert "bicyclist" in table and "Per-class IoU (%), camvid, split val" in table
    assert main(["evaluate", run, "--root", str(runs), "--split", "tset"]) == 2
    assert "unknown split 'tset' of camvid; valid: train, val, test" in capsys.readouterr().err
    assert main(["evaluate", run, "--root", str(runs), "--eval-mode", "full", "--eval-size", "64"]) == 2
    assert main(["evaluate", run, "--root", str(runs), "--split", "test", "--device", "cpu"]) != 0
    assert "test.txt not found" in capsys.readouterr().err


def test_progress_written_to_a_log_is_a_few_lines(tmp_path):
    from aicsd.data import make_synthetic

    data = make_synthetic(tmp_path / "data", num_train=16, num_val=2, num_test=2, image_size=(32, 40))
    argv = ["train-teacher", "--profile", "smoke", "--data-root", str(data), "--output-dir", str(tmp_path / "runs"), "--device", "cpu"]
    argv += ["--epochs", "3", "--batch-size", "2", "--set", "train_limit=16"]
    completed = subprocess.run([sys.executable, "-m", "aicsd", *argv], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "teacher-none-resnet18" in completed.stderr and "epoch 1/3" not in completed.stderr  # no step bars
    assert completed.stderr.count("\r") <= 10, completed.stderr


def test_an_unknown_device_is_one_line_naming_the_valid_ones_and_exit_2(tiny_data, teacher_run, tmp_path, capsys):
    common = ["--profile", "smoke", "--data-root", str(tiny_data), "--output-dir", str(tmp_path), "--quiet"]
    for argv in (["train-teacher", *common], ["distill", *common, "--method", "kd"], ["evaluate", str(teacher_run)]):
        capsys.readouterr()
        assert main([*argv, "--device", "nosuch"]) == 2
        _one_line_error(capsys, "unknown device 'nosuch'; valid: auto, cpu, cuda or cuda:N")
    # a finished run is not returned as done under a device that does not exist
    argv = ["train-teacher", *_common(tiny_data, teacher_run.parent)]
    assert main([*argv[: argv.index("--device")], "--device", "nosuch"]) == 2
    _one_line_error(capsys, "unknown device 'nosuch'")
    assert list(tmp_path.iterdir()) == []


def test_a_finished_run_with_a_corrupt_config_is_named_by_its_training_command(tiny_data, teacher_run, tmp_path, capsys):
    runs = tmp_path / "runs"
    run = Path(shutil.copytree(teacher_run, runs / teacher_run.name))
    (run / "config.json").write_text('{"kind": "teacher", "epo')
    capsys.readouterr()
    assert main(["train-teacher", *_common(tiny_data, runs)]) == 2
    _one_line_error(capsys, f"{run / 'config.json'} is corrupt", f"delete the run folder {run}")
    assert (run / "config.json").read_text() == '{"kind": "teacher", "epo'  # named, not rewritten behind the user's back


def test_a_missing_generated_dataset_at_another_root_is_not_generated(tmp_path, capsys):
    typo = tmp_path / "some" / "typo"
    assert main(["train-teacher", *_common(typo, tmp_path / "runs")]) == 2
    _one_line_error(capsys, f"no generated dataset at {typo}", f"python -m aicsd make-synthetic --root {typo}")
    assert not (tmp_path / "some").exists()
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


@pytest.mark.parametrize("size", ["0", "-5"])
def test_an_eval_size_below_one_is_refused(teacher_run, tmp_path, size, capsys):
    run = Path(shutil.copytree(teacher_run, tmp_path / teacher_run.name))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--eval-size", size, "--device", "cpu"]) == 2
    _one_line_error(capsys, f"eval_size must be a finite number > 0, got {size}")
    assert not (run / "evaluations").exists()


class _RunsCode:
    """A pickle that runs code when loaded without ``weights_only``: it would create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_checkpoint_holding_code_is_refused_with_our_message(teacher_run, tmp_path, capsys):
    import torch

    run = Path(shutil.copytree(teacher_run, tmp_path / "runs" / teacher_run.name))
    marker = tmp_path / "the pickle ran"
    torch.save({"model": _RunsCode(marker), "epoch": 0}, run / "checkpoint.pt")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--device", "cpu"]) == 2
    err = _one_line_error(capsys, f"{run / 'checkpoint.pt'} is not a checkpoint saved by aicsd training", "never loaded", f"delete the run folder {run}")
    assert "\x1b" not in err and "trust" not in err and "weights_only" not in err
    assert not marker.exists()


def test_printed_results_are_strict_json(teacher_run, tmp_path, capsys):
    run = Path(shutil.copytree(teacher_run, tmp_path / teacher_run.name))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--device", "cpu"]) == 0
    record = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"bare {name} printed"))
    assert set(record["per_class_iou"].values()) - {None} and all(v is None or 0 <= v <= 1 for v in record["per_class_iou"].values())
    stored = (run / "evaluations").glob("*.json")
    for path in [*stored, run / "result.json"]:
        json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"bare {name} in {path}"))
