"""The distillation-step benchmark: its recipes, its step, and a tiny end-to-end run (no timing asserted)."""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_step  # noqa: E402

from aicsd.losses import ICSDLoss  # noqa: E402

TINY = bench_step.Settings(device="cpu", crop=32, batch=2, classes=5, width=0.25, warmup=1, steps=1, compile=False)


@pytest.fixture
def one_thread(monkeypatch):
    """One intra-op thread here and in the benchmark's processes: two threads on a loaded 2-core machine
    can make a tiny step take seconds."""
    monkeypatch.setenv("BENCH_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_released_loop_module_matches_the_official_loss():
    generator = torch.Generator().manual_seed(0)
    teacher = 3 * torch.randn(2, 4, 9, 7, generator=generator)
    student = 0.8 * teacher + torch.randn(2, 4, 9, 7, generator=generator)
    loop = bench_step.ReleasedLoopICSD()(student, teacher)
    torch.testing.assert_close(loop, ICSDLoss(variant="official")(student, teacher), rtol=1e-4, atol=1e-12)


def test_recipes_build_the_distillers_they_describe():
    released = bench_step.build_distiller_for("released-style")
    ours = bench_step.build_distiller_for("ours")
    assert isinstance(released.terms["icsd"].loss, bench_step.ReleasedLoopICSD)
    assert not released.detach_teacher and ours.detach_teacher
    assert isinstance(ours.terms["icsd"].loss, ICSDLoss) and ours.terms["icsd"].loss.variant == "paper"
    assert set(released.terms) == set(ours.terms) == {"icsd", "kd"}
    with pytest.raises(ValueError, match="unknown recipe"):
        bench_step.build_distiller_for("fast")


@pytest.mark.parametrize("recipe", bench_step.RECIPES)
def test_train_step_marks_every_phase_and_trains_only_the_student(recipe, one_thread):
    torch.manual_seed(0)
    setup = bench_step.build_step(recipe, "resnet18", TINY)
    images, target = bench_step.make_batch(TINY, setup.precision)
    assert images.shape == (2, 3, 32, 32) and target.shape == (2, 32, 32)
    before = [p.detach().clone() for p in setup.student.parameters()]
    clock = bench_step.PhaseClock(images.device)
    loss = bench_step.train_step(setup, images, target, clock)
    assert math.isfinite(loss.item())
    assert len(clock.seconds()) == len(bench_step.PHASES)
    assert all(not torch.equal(b, p) for b, p in zip(before, setup.student.parameters()) if p.dim() == 4)
    teacher_grads = [p.grad for p in setup.teacher.parameters()]
    if recipe == "released-style":
        assert setup.teacher.training and all(g is not None for g in teacher_grads)
    else:
        assert not setup.teacher.training and all(g is None for g in teacher_grads)


def test_bench_step_small_cpu_run_writes_its_record(tmp_path, capsys, one_thread):
    argv = ["--small", "--device", "cpu", "--crop", "32", "--batch", "2", "--classes", "5",
            "--warmup", "1", "--steps", "1", "--output", str(tmp_path)]
    assert bench_step.main(argv) == 0
    record = json.loads((tmp_path / "bench_step-cpu.json").read_text())
    assert record["device_type"] == "cpu" and record["preset"] == "small" and record["threads"] == 1
    assert record["settings"]["crop"] == 32 and record["settings"]["width"] == 0.25
    rows = record["rows"]
    assert sorted((r["recipe"], r["student"]) for r in rows) == sorted(
        itertools.product(bench_step.RECIPES, bench_step.STUDENTS)
    )
    for row in rows:
        assert row["images_per_second"] > 0 and row["step_seconds"] > 0 and row["loss_seconds"] > 0
        assert row["images_per_second"] == pytest.approx(2 / row["step_seconds"])
        assert 0 <= row["loss_share"] <= 1
        assert set(row["phase_seconds"]) == set(bench_step.PHASES)
        assert all(value > 0 for value in row["phase_seconds"].values())
        # RSS growth over the timed steps may be 0 on the CPU; the base (weights, batch) is resident.
        assert row["peak_bytes"] >= 0 and row["base_bytes"] > 0
        assert math.isfinite(row["loss"]) and row["speedup_vs_released"] > 0
        assert row["amp_dtype"] is None and not row["channels_last"]
    assert all(r["speedup_vs_released"] == 1.0 for r in rows if r["recipe"] == "released-style")
    assert not list(tmp_path.glob("*.tmp"))
    assert "speed-up" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--batch", "1"], ["--width", "1.5"], ["--steps", "0"], ["--students", "resnet101"]],
)
def test_bad_arguments_are_refused(argv, tmp_path):
    with pytest.raises(SystemExit):
        bench_step.main(["--small", "--device", "cpu", "--output", str(tmp_path), *argv])
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_device_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        bench_step.main(["--device", "cuda", "--output", str(tmp_path)])
