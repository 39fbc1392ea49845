"""The CUDA path: every method's loss on the GPU against float64 on the CPU (also fed bf16 taps under
autocast, as the training loop does), a bf16 / channels_last teacher and AICSD student trained,
checkpointed and re-evaluated on the GPU, and the DDP wrapper over NCCL under ``torchrun``.

Skipped without a CUDA device (CI has none); ``benchmarks/gpu_checks.sh`` runs them on a GPU
machine (``pytest -k cuda``).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
import torch

from aicsd.data import make_synthetic
from aicsd.engine import distill, evaluate_run, load_profile, run_dir, train_teacher
from aicsd.engine.runstore import read_checkpoint
from aicsd.losses import METHODS, build_distiller
from aicsd.paths import REPO_ROOT
from test_losses_distiller import CHANNELS, TEACHER_CHANNELS, features, target

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

DISTILLATION_METHODS = [method for method in METHODS if method != "none"]


def _terms(distiller, student, teacher, labels, alpha):
    return {name: value.detach().cpu().double() for name, value in distiller(student, teacher, labels, alpha=alpha).items()}


@pytest.mark.parametrize("bf16_taps", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("method", DISTILLATION_METHODS)
def test_cuda_losses_of_every_method_match_float64_on_the_cpu(method, bf16_taps):
    reference = build_distiller(method, student_channels=CHANNELS, teacher_channels=TEACHER_CHANNELS)
    on_gpu = copy.deepcopy(reference).cuda()
    student, teacher, labels = features(CHANNELS, 1), features(TEACHER_CHANNELS, 2), target()
    if bf16_taps:  # the taps as autocast produces them; the losses compute in float32 inside
        student = {tap: value.bfloat16() for tap, value in student.items()}
        teacher = {tap: value.bfloat16() for tap, value in teacher.items()}
    alpha = 0.3 if reference.config.alw != "off" else None
    expected = _terms(
        reference.double(),
        {tap: value.double() for tap, value in student.items()},
        {tap: value.double() for tap, value in teacher.items()},
        labels,
        alpha,
    )
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16_taps):
        found = _terms(
            on_gpu,
            {tap: value.cuda() for tap, value in student.items()},
            {tap: value.cuda() for tap, value in teacher.items()},
            labels.cuda(),
            alpha,
        )
    assert found.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(found[name], expected[name], rtol=2e-4, atol=1e-6, msg=f"{method}: term {name}")


def test_cuda_gradients_of_aicsd_match_float64_on_the_cpu():
    distiller = build_distiller("aicsd")
    student, teacher, labels = features(CHANNELS, 1), features(TEACHER_CHANNELS, 2), target()
    logits64 = student["logits"].double().requires_grad_()
    distiller.double()({"logits": logits64}, {"logits": teacher["logits"].double()}, labels, alpha=0.3)["loss"].backward()
    logits32 = student["logits"].cuda().requires_grad_()
    distiller.float().cuda()({"logits": logits32}, {"logits": teacher["logits"].cuda()}, labels.cuda(), alpha=0.3)["loss"].backward()
    torch.testing.assert_close(logits32.grad.cpu().double(), logits64.grad, rtol=1e-3, atol=1e-7)


def _profile_config(tmp_path, **overrides):
    data_root = make_synthetic(tmp_path / "data", num_train=16, num_val=4, num_test=4, image_size=(48, 64))
    return load_profile(
        "smoke",
        data_root=str(data_root),
        output_dir=str(tmp_path / "runs"),
        device="cuda",
        quiet=True,
        epochs=2,
        crop_size=48,
        eval_size=48,
        **overrides,
    )


def test_cuda_teacher_and_aicsd_student_train_in_bf16_channels_last_and_reload(tmp_path):
    teacher = train_teacher(_profile_config(tmp_path, kind="teacher"))
    student_config = _profile_config(tmp_path, method="aicsd", teacher_run=teacher["run_id"])
    student = distill(student_config)
    for result in (teacher, student):
        assert torch.cuda.get_device_name() in result["device"]
        assert result["peak_memory_bytes"] > 0
        assert result["epochs_done"] == 2
        assert 0.0 <= result["final"]["miou"] <= 1.0
    assert student_config.amp and student_config.channels_last
    checkpoint = read_checkpoint(run_dir(student_config))  # weights_only load, mapped to the CPU
    assert all(value.device.type == "cpu" for value in checkpoint["model"].values())
    again = evaluate_run(run_dir(student_config), device="cuda")
    assert again["miou"] == pytest.approx(student["final"]["miou"], abs=0.02)


def test_cuda_ddp_over_nccl_under_torchrun_trains_a_run(tmp_path):
    data_root = make_synthetic(tmp_path / "data", num_train=16, num_val=4, num_test=4, image_size=(48, 64))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
        "-m", "aicsd", "train-teacher", "--profile", "smoke", "--data-root", str(data_root),
        "--output-dir", str(tmp_path / "runs"), "--device", "cuda", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    (result_file,) = (tmp_path / "runs").glob("*/result.json")
    result = json.loads(result_file.read_text())
    assert result["world_size"] == 1 and torch.cuda.get_device_name() in result["device"]
