"""The committed sizing record reads into the chapter's tables."""

import dataclasses

import pandas as pd
import pytest

from aicsd.data import make_synthetic
from aicsd.engine import load_profile
from aicsd.study import sizing


def test_the_committed_record_gives_probes_and_curves():
    record = sizing.read_record()
    probes = sizing.probes(record)
    assert set(probes["kind"]) == {"teacher", "student"}
    assert (probes["steps"] > 0).all() and probes["test mIoU"].between(0, 100).all()
    curves = sizing.curves(record)
    assert set(curves["probe"]) == set(probes["probe"])
    for _, curve in curves.groupby("probe"):
        assert curve["steps"].is_monotonic_increasing


def test_a_missing_record_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="sizing record"):
        sizing.read_record(tmp_path / "absent.json")


def test_the_gpu_record_gives_a_frontier_per_data_setting_and_length():
    probes = sizing.probes(sizing.read_record(sizing.GPU_SIZING_RECORD))
    frontier = sizing.frontier(probes)
    assert list(frontier.columns) == list(sizing.FRONTIER_COLUMNS)
    chosen = frontier[frontier["data"] == "v3, scale 0.75-1.25"]
    assert set(chosen["steps"]) == {1000, 2000}
    r18 = chosen[chosen["network"] == "resnet18 x0.25"].set_index("steps")
    plain = probes[(probes["method"] == "none") & (probes["data"] == "v3, scale 0.75-1.25") & (probes["steps"] == 2000)]
    runs = plain[plain["network"] == "resnet18 x0.25"]["test mIoU"]
    assert r18.loc[2000, "n"] == len(runs) == 3
    assert r18.loc[2000, "test mIoU"] == pytest.approx(runs.mean())
    assert r18.loc[2000, "std over seeds"] == pytest.approx(runs.std(ddof=1))
    assert set(probes.loc[probes["method"] != "none", "method"]) <= {"kd", "aicsd"}


def test_reproduction_points_average_the_runs_in_percent():
    runs = pd.DataFrame(
        {"kind": ["student"] * 3 + ["teacher", "teacher"], "backbone": ["resnet18"] * 3 + ["resnet101", "resnet18"],
         "width_multiplier": [0.25] * 5, "val_miou": [0.30, 0.32, 0.34, 0.5, 0.6], "test_miou": [0.20, 0.22, 0.27, 0.4, 0.5]}
    )  # fmt: skip
    steps = {("student", "resnet18 x0.25"): 250, ("teacher", "resnet101 x0.25"): 1500, ("teacher", "resnet18 x0.25"): 900}
    points = sizing.reproduction_points(runs, "v3, scale 0.75-1.25", steps).set_index("network")
    student = points.loc["resnet18 x0.25"]
    assert (student["steps"], student["n"]) == (250, 3)
    assert student["val mIoU"] == pytest.approx(32.0) and student["test mIoU"] == pytest.approx(23.0)
    assert student["std over seeds"] == pytest.approx(100 * pd.Series([0.20, 0.22, 0.27]).std())
    assert pd.isna(points.loc["resnet101 x0.25", "std over seeds"]) and points.loc["resnet101 x0.25", "steps"] == 1500
    assert points.loc["resnet18 x0.25 (teacher)", "test mIoU"] == pytest.approx(50.0)


def test_training_steps_count_the_batches_the_loader_gives(tmp_path):
    make_synthetic(tmp_path, num_train=21, num_val=1, num_test=1)
    config = load_profile("cpu", data_root=str(tmp_path), epochs=3, batch_size=4)
    assert sizing.training_steps(config) == 3 * (21 // 4)
    assert sizing.training_steps(dataclasses.replace(config, train_limit=9)) == 3 * (9 // 4)
