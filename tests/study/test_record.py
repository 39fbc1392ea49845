"""The reproduction summary record: cells with mean, std, n and seeds; the machine; per-class IoU and
learning curves; the qualitative grid written beside it."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from aicsd.data import build_dataset, dataset_info, make_synthetic
from aicsd.engine import read_metrics, read_result, run_dir, run_id
from aicsd.engine.runstore import append_metrics
from aicsd.results import reported_metrics
from aicsd.study import claims, experiments, qualitative, record
from aicsd.study.ledger import BookLedger
from aicsd.study.provenance import provenance


def test_cells_summarise_each_group_label_and_student():
    runs = pd.DataFrame(
        {
            "group": ["main", "main", "main"],
            "label": ["aicsd", "aicsd", "none"],
            "backbone": ["resnet18"] * 3,
            "split": ["test"] * 3,
            "seed": [1, 0, 0],
            "miou": [0.5, 0.4, 0.3],
            "val_miou": [0.52, 0.42, 0.31],
            "pixel_accuracy": [0.8, 0.7, 0.6],
        }
    )
    cells = record.cells(runs)
    assert cells[0]["miou_mean"] == pytest.approx(45.0)
    assert cells[0]["miou_std"] == pytest.approx(100 * pd.Series([0.5, 0.4]).std())
    assert cells[0]["seeds"] == [0, 1] and cells[0]["n"] == 2
    assert cells[0]["values"] == pytest.approx([40.0, 50.0])  # in seed order
    assert cells[0]["pixel_accuracy_values"] == pytest.approx([70.0, 80.0])
    assert cells[1]["miou_std"] is None and cells[1]["val_miou_mean"] == pytest.approx(31.0)


def test_sweep_cells_list_their_tuning_seeds_and_val_values_in_percent():
    sweep = pd.DataFrame({"backbone": ["resnet18"] * 3, "label": ["kd x1", "kd x1", "none"], "seed": [101, 100, 100], "val_miou": [0.2, 0.1, 0.3]})
    assert record.sweep_cells(sweep) == [
        {"backbone": "resnet18", "label": "kd x1", "seeds": [100, 101], "val_values": pytest.approx([10.0, 20.0])},
        {"backbone": "resnet18", "label": "none", "seeds": [100], "val_values": pytest.approx([30.0])},
    ]


def test_claims_are_stored_in_points_and_other_metrics_as_they_are():
    table = pd.DataFrame(
        {"claim": ["a", "b"], "metric": ["miou", "ics_distance"], "gain": [0.0123, 0.5], "ci_low": [0.01, 0.4], "ci_high": [0.02, 0.6],
         "detectable_gain": [0.015, 0.1], "p_holm": [0.01, 0.02]}
    )
    rows = record._claim_records(table)
    assert rows[0]["gain"] == pytest.approx(1.23) and rows[0]["detectable_gain"] == pytest.approx(1.5) and rows[0]["p_holm"] == 0.01
    assert rows[1]["gain"] == pytest.approx(0.5) and rows[1]["ci_high"] == pytest.approx(0.6)


def test_publish_makes_the_executed_records_the_reference(tmp_path):
    executed, folder, reference = tmp_path / "executed", tmp_path / "results", tmp_path / "reference"
    for path in (executed, folder, reference):
        path.mkdir()
    with pytest.raises(FileNotFoundError, match="summary.json is missing"):
        record.publish(executed, folder, reference)
    (executed / "summary.json").write_text(json.dumps({"profile": "cpu", "dataset": "camvid", "cells": []}))
    (executed / "timings.json").write_text(json.dumps({"total_s": 1.0}))
    (reference / "comparison.md").write_text("an old comparison")
    (reference / "comparison.json").write_text("{}")
    assert record.publish(executed, folder, reference) == folder / "summary-cpu-camvid.json"
    assert json.loads((folder / "reproduce-cpu-camvid.json").read_text()) == {"total_s": 1.0}
    assert "No reproduction on another machine" in (reference / "comparison.md").read_text()
    assert not (reference / "comparison.json").exists()


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """A tiny smoke reproduction on a tiny generated dataset: the teacher and the main table's
    ResNet-18 runs alone and with AICSD at two seeds, default weights (the smoke profile's sweep is
    left out, so its tuned weights are the defaults). Returns the data root, the teacher and the
    collected runs."""
    data = make_synthetic(tmp_path_factory.mktemp("record") / "data", num_train=8, num_val=6, num_test=4, image_size=(32, 40))
    place = {"dataset": "synthetic", "data_root": str(data)}
    runs = [
        run
        for run in experiments.main_table("smoke", **place, seeds=[0, 1], weights={})
        if run.config.backbone == qualitative.GRID_STUDENT and run.label in qualitative.STUDENT_COLUMNS
    ]
    experiments.run_all(runs, workers=1)
    return str(data), experiments.teacher_run("smoke", **place), experiments.collect(runs)


@pytest.fixture
def only_these_runs(reproduction, monkeypatch):
    """The summary record of the fixture's runs alone: the ledger reads them, the sweep is empty."""
    _, _, runs = reproduction
    empty = pd.DataFrame(columns=claims.CLAIM_COLUMNS)
    monkeypatch.setattr(record, "book_ledger", lambda *args, **kwargs: BookLedger(runs, empty, empty))
    monkeypatch.setattr(experiments, "weight_sweep", lambda *args, **kwargs: [])


def test_summary_carries_per_class_iou_of_the_teacher_and_each_main_cell(reproduction, only_these_runs):
    data_root, teacher, runs = reproduction
    summary = record.reproduction_summary("smoke", "synthetic", data_root, device="cpu")
    classes = dataset_info("synthetic").class_names
    assert summary["class_names"] == list(classes)
    entries = summary["per_class"]
    assert [(e["group"], e["label"], e["backbone"], e["seeds"]) for e in entries] == [
        ("teacher", "teacher", teacher.backbone, [teacher.seed]),
        ("main", "none", "resnet18", [0, 1]),
        ("main", "aicsd", "resnet18", [0, 1]),
    ]
    teacher_iou = reported_metrics(read_result(run_dir(teacher)))["per_class_iou"]
    assert entries[0]["values"] == [pytest.approx([100 * v for v in teacher_iou], nan_ok=True)]
    for entry in entries:
        assert entry["split"] == "test" and len(entry["mean"]) == len(classes)
        values = np.array(entry["values"], dtype=float)
        assert values.shape == (len(entry["seeds"]), len(classes))
        present = ~np.isnan(values).all(axis=0)
        assert np.isnan(entry["mean"]).tolist() == (~present).tolist()
        assert np.array(entry["mean"])[present] == pytest.approx(np.nanmean(values[:, present], axis=0))
    cell = runs[runs["method"] == "aicsd"].sort_values("seed")
    assert entries[2]["values"] == [pytest.approx([100 * v for v in run], nan_ok=True) for run in cell["per_class_iou"]]


def test_summary_carries_the_learning_curves_of_metrics_jsonl(reproduction, only_these_runs):
    data_root, teacher, runs = reproduction
    summary = record.reproduction_summary("smoke", "synthetic", data_root, device="cpu")
    curves = {(c["group"], c["label"]): c for c in summary["curves"]}
    assert list(curves) == [("teacher", "teacher"), ("main", "none"), ("main", "aicsd")]
    teacher_epochs = read_metrics(run_dir(teacher))
    assert curves["teacher", "teacher"]["epoch"] == [r["epoch"] for r in teacher_epochs]
    assert curves["teacher", "teacher"]["train_loss"] == [r["train_loss"] for r in teacher_epochs]
    assert curves["teacher", "teacher"]["val_miou"] == pytest.approx([100 * r["val_miou"] for r in teacher_epochs])
    seeds = [read_metrics(path) for path in runs[runs["method"] == "aicsd"].sort_values("seed")["run_dir"]]
    aicsd = curves["main", "aicsd"]
    assert aicsd["seeds"] == [0, 1] and aicsd["epoch"] == [r["epoch"] for r in seeds[0]]
    for key, scale in (("train_loss", 1), ("train_ce", 1), ("val_miou", 100)):
        assert aicsd[key] == pytest.approx([scale * (a[key] + b[key]) / 2 for a, b in zip(*seeds)])
    for curve in curves.values():
        assert {len(curve[key]) for key in ("epoch", *record.CURVE_KEYS)} == {len(curve["epoch"])}


def test_record_writes_a_small_qualitative_grid_and_its_sidecar_beside_the_summary(reproduction, only_these_runs, tmp_path, capsys):
    data_root, teacher, runs = reproduction
    output = tmp_path / record.summary_file(record.record_name("smoke", "synthetic"))
    assert record.main(["--profile", "smoke", "--data-root", data_root, "--output", str(output), "--timings", str(tmp_path / "none.json")]) == 0
    image = tmp_path / record.qualitative_file("smoke")
    sidecar = qualitative.sidecar_path(image)
    assert f"wrote {image} and {sidecar}" in capsys.readouterr().out
    assert output.is_file() and image.stat().st_size < 300_000
    side = json.loads(sidecar.read_text())
    titles = ["input", "ground truth", "teacher", *qualitative.STUDENT_COLUMNS.values()]
    with Image.open(image) as png:
        assert png.format == "PNG" and png.mode == "P"
        assert png.width <= 1.3 * len(titles) * qualitative.TILE_PX and png.height <= 1.3 * qualitative.GRID_IMAGES * qualitative.TILE_PX
    trained = runs[runs["seed"] == 0].set_index("method")["run_id"]
    assert side["runs"] == {
        "teacher": {"run_id": run_id(teacher), "seed": teacher.seed},
        "student": {"run_id": trained["none"], "seed": 0},
        "AICSD student": {"run_id": trained["aicsd"], "seed": 0},
    }
    assert side["image"] == image.name and side["columns"] == titles and (side["profile"], side["dataset"], side["split"]) == ("smoke", "synthetic", "val")
    assert side["indices"] == qualitative.grid_indices(6) == [0, 2, 3, 5]
    samples = build_dataset("synthetic", data_root, "val").samples
    rows = [samples[k] for k in side["indices"]]
    assert side["files"] == [{"image": str(i.relative_to(data_root)), "label": str(m.relative_to(data_root))} for i, m in rows]
    assert side["attribution"] is None and side["commit"] == provenance({"profile": "smoke"})["commit"]


def test_record_skips_the_grid_without_the_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(record, "reproduction_summary", lambda profile, dataset, data_root, timings: {"profile": profile})
    output = tmp_path / "summary.json"
    absent = tmp_path / "no-data"
    assert record.main(["--profile", "smoke", "--data-root", str(absent), "--output", str(output), "--timings", str(tmp_path / "none.json")]) == 0
    assert f"skipped the qualitative grid: the val split of synthetic is not on disk under {absent}" in capsys.readouterr().out
    assert output.is_file() and list(tmp_path.iterdir()) == [output]


def test_a_curve_is_the_mean_over_seeds_per_epoch_with_nan_where_no_epoch_was_evaluated(tmp_path):
    seeds = {"a": [{"epoch": 0, "train_loss": 2.0, "train_ce": 1.0}, {"epoch": 1, "train_loss": 1.0, "train_ce": 0.5, "val_miou": 0.2}],
             "b": [{"epoch": 0, "train_loss": 4.0, "train_ce": 3.0}, {"epoch": 1, "train_loss": 3.0, "train_ce": 1.5, "val_miou": 0.4}]}
    for name, records in seeds.items():
        (tmp_path / name).mkdir()
        for line in records:
            append_metrics(tmp_path / name, line)
    curve = record.mean_curve([tmp_path / "a", tmp_path / "b"])
    assert curve["epoch"] == [0, 1] and curve["train_loss"] == [3.0, 2.0] and curve["train_ce"] == [2.0, 1.0]
    assert np.isnan(curve["val_miou"][0]) and curve["val_miou"][1] == pytest.approx(30.0)
