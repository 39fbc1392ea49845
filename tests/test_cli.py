"""python -m aicsd: help, configuration errors (exit 2), and a smoke pipeline through the CLI."""

import json
import subprocess
import sys

import pytest

from aicsd.cli import main

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


def test_missing_teacher_exits_1_with_the_command_to_run(tmp_path, capsys):
    argv = ["distill", "--profile", "smoke", "--method", "kd", "--output-dir", str(tmp_path), "--quiet"]
    assert main(argv) == 1
    assert "train-teacher --profile smoke" in capsys.readouterr().err


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
