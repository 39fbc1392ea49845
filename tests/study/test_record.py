"""The reproduction summary record: cells with mean, std, n and seeds; the machine."""

import pandas as pd
import pytest

from aicsd.study import record


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
    import json

    executed, folder, reference = tmp_path / "executed", tmp_path / "results", tmp_path / "reference"
    for path in (executed, folder, reference):
        path.mkdir()
    with pytest.raises(FileNotFoundError, match="summary.json is missing"):
        record.publish(executed, folder, reference)
    (executed / "summary.json").write_text(json.dumps({"profile": "cpu", "dataset": "camvid", "cells": []}))
    (executed / "timings.json").write_text(json.dumps({"total_s": 1.0}))
    (reference / "comparison.md").write_text("an old comparison")
    assert record.publish(executed, folder, reference) == folder / "summary-cpu-camvid.json"
    assert json.loads((folder / "reproduce-cpu-camvid.json").read_text()) == {"total_s": 1.0}
    assert "No reproduction on another machine" in (reference / "comparison.md").read_text()
