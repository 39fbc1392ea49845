"""The teacher-edge probe end to end at a tiny size (no timing asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import teacher_edge  # noqa: E402

from aicsd.data import make_synthetic  # noqa: E402


def test_probe_trains_each_teacher_and_the_students_and_records_the_edge(tmp_path):
    data = make_synthetic(tmp_path / "data", num_train=8, num_val=3, num_test=3, image_size=(32, 40))
    argv = ["--profile", "smoke", "--dataset", "synthetic", "--data-root", str(data), "--teacher", "resnet18:0.125:1", "resnet18:0.125:2"]
    assert teacher_edge.main([*argv, "--student-seeds", "0", "1", "--output", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "teacher_edge-smoke.json").read_text())
    assert [(t["backbone"], t["epochs"]) for t in record["teachers"]] == [("resnet18", 1), ("resnet18", 2)]
    assert [t["profile_teacher"] for t in record["teachers"]] == [True, False]
    mean = sum(s["val_miou"] for s in record["students"]) / 2
    assert record["student_val_miou_mean"] == pytest.approx(mean)
    for teacher in record["teachers"]:
        assert teacher["edge_over_student"] == pytest.approx(teacher["val_miou"] - mean)
        assert teacher["train_wall_s"] > 0


def test_a_malformed_teacher_recipe_names_the_form():
    with pytest.raises(ValueError, match="backbone:width:epochs"):
        teacher_edge.teacher_recipe("resnet101:0.25")
