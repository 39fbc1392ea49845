"""Stored evaluations on a tiny CamVid-layout copy: test metrics recorded, other roots and splits, files."""

from __future__ import annotations

import json

import pytest

from aicsd.data import dataset_info
from aicsd.engine import load_profile, read_result, run_dir, train_teacher
from aicsd.engine.evaluation import record_evaluation
from aicsd.engine.runstore import EVALUATIONS, read_evaluations
from aicsd.results import evaluations_table, load_evaluations
from test_data_camvid import write_camvid


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A one-epoch smoke teacher on a CamVid copy with train, val and test splits; and its folders."""
    root = tmp_path_factory.mktemp("evaluations")
    data = write_camvid(root / "camvid", {"train": 8, "val": 4, "test": 3})
    cfg = load_profile("smoke", kind="teacher", dataset="camvid", data_root=str(data), output_dir=str(root / "runs"), device="cpu", quiet=True)
    train_teacher(cfg)
    return cfg, root


def test_test_metrics_are_recorded_for_a_camvid_copy_with_a_test_split(teacher):
    cfg, _ = teacher
    assert cfg.test_split == "test"
    result = read_result(run_dir(cfg))
    assert result["test"]["split"] == "test" and 0.0 <= result["test"]["miou"] <= 1.0
    assert len(result["test"]["per_class_iou"]) == dataset_info("camvid").num_classes


def test_an_evaluation_on_another_root_and_split_is_stored_in_the_run(teacher):
    cfg, root = teacher
    second = write_camvid(root / "second", {"test": 2}, size=(30, 40), seed=1)
    record = record_evaluation(run_dir(cfg), split="test", eval_mode="full", data_root=second, device="cpu")
    path = run_dir(cfg) / EVALUATIONS / f"test-full-native-{record['data_fingerprint']}.json"
    assert record["path"] == str(path) and path.is_file()
    stored = json.loads(path.read_text())
    assert stored["data_root"] == str(second.resolve()) and stored["images"] == 2
    assert stored["eval_size"] is None and stored["label_sizes"] == "30x40"
    assert stored["labels"] == "labels at their original resolution: 30x40"
    assert list(stored["per_class_iou"]) == sorted(dataset_info("camvid").class_names)  # keys sorted on disk
    released = record_evaluation(run_dir(cfg), split="test", data_root=second, device="cpu")
    assert released["label_sizes"] == "32x42" and "shorter side 32" in released["labels"]
    assert {r["eval_mode"] for r in read_evaluations(run_dir(cfg))} == {"full", "released"}
    again = record_evaluation(run_dir(cfg), split="test", eval_mode="full", data_root=second, device="cpu")
    assert again["miou"] == pytest.approx(record["miou"])
    assert len(read_evaluations(run_dir(cfg))) == 2  # the same protocol on the same files replaces its file

    table = evaluations_table(load_evaluations(root / "runs"), ["dataset", "kind"])
    assert len(table) == 2 and set(table.index.get_level_values("eval_size")) == {"native", "32"}
    assert set(table.index.get_level_values("data_root")) == {str(second.resolve())}
