"""The sizing probe driver trains a plan through the CLI (tiny, on the CPU) and its raw files become
the record the sizing chapter reads; the committed plans are consistent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aicsd.study import sizing

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import sizing_probes  # noqa: E402

TINY = ("train_limit=8", "val_limit=4", "batch_size=4", "crop_size=32", "eval_size=32", "teacher_width_multiplier=0.125")


def test_every_distillation_probe_follows_its_teacher_in_the_plan():
    for probes in sizing_probes.PLANS.values():
        names = [sizing_probes.probe_name(probe) for probe in probes]
        assert len(set(names)) == len(names)
        for position, probe in enumerate(probes):
            if probe["method"] != "none":
                assert sizing_probes._teacher_of(probe) in names[:position]


@pytest.mark.slow
def test_a_plan_trains_through_the_cli_and_becomes_a_record(tmp_path, monkeypatch):
    monkeypatch.setattr(sizing_probes, "DATA", tmp_path / "data")
    monkeypatch.setattr(sizing_probes, "RUNS", tmp_path / "runs")
    common = {"variant": "v3", "scale": sizing_probes.NARROW_SCALE, "epochs": 2, "seed": 0, "extra": TINY}
    teacher = {**common, "backbone": "resnet101", "width": 0.125, "method": "none"}
    student = {**common, "backbone": "resnet18", "width": 0.125, "method": "kd", "teacher_width": 0.125}
    monkeypatch.setitem(sizing_probes.PLANS, "tiny", [teacher, student])
    raw = tmp_path / "raw.json"
    sizing_probes.run("tiny", raw, deadline_s=600, workers=1, device="cpu")
    entries = json.loads(raw.read_text())["probes"]
    assert [entry["rc"] for entry in entries] == [0, 0], [entry.get("rc") for entry in entries]
    assert entries[1]["config"]["teacher_run"].endswith(entries[0]["result"]["run_id"])
    output = tmp_path / "sizing-cuda.json"
    sizing_probes.record([raw], output)
    written = sizing.read_record(output)
    assert written["plans"]["tiny"]["side_by_side_runs"] == 1 and written["plans"]["tiny"]["elapsed_s"] > 0
    probes = sizing.probes(written)
    assert list(probes["kind"]) == ["teacher", "student"] and list(probes["method"]) == ["none", "kd"]
    assert set(probes["data"]) == {"v3, scale 0.75-1.25"}
    assert list(probes["steps"]) == [4, 4]  # 2 epochs of 8 images in batches of 4
    assert probes["test mIoU"].between(0, 100).all()
    assert len(sizing.curves(sizing.read_record(output))) == 4  # val after each of 2 epochs, 2 probes
