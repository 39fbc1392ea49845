"""The real-data chapter's views of a summary record: tables, per-class gains, curves and the grid."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from aicsd.study import real_data
from aicsd.study.record import TEACHER

CLASSES = ["road", "pole", "sign_symbol", "pedestrian"]
SEEDS = [0, 1, 2]


def _iou(base: float, seed: int) -> list[float]:
    """A run's per-class IoU (%): the pole absent from seed 2's split (NaN), as the record stores it."""
    values = [base + 10 * k + seed for k in range(len(CLASSES))]
    if seed == 2:
        values[1] = math.nan
    return values


def _record() -> dict:
    cells, per_class, curves = [], [], []
    teacher_iou = [60.0, 30.0, 35.0, 40.0]
    per_class.append({"group": TEACHER, "label": TEACHER, "backbone": "resnet101", "seeds": [0], "split": "val", "values": [teacher_iou], "mean": teacher_iou})
    curves.append({"group": TEACHER, "label": TEACHER, "backbone": "resnet101", "seeds": [0], "epoch": [1, 2, 3],
                   "train_loss": [2.0, 1.5, 1.0], "train_ce": [2.0, 1.5, 1.0], "val_miou": [10.0, math.nan, 30.0]})
    for backbone, shift in (("resnet18", 0.0), ("mobilenet_v2", -5.0)):
        for method, lift in (("none", 0.0), ("kd", 1.0), ("aicsd", 3.0)):
            # seed 1 of AICSD runs lower on the pole, so the paired gain differs from the difference of means
            values = [[v - (4.0 if (method == "aicsd" and seed == 1 and k == 1) else 0.0) for k, v in enumerate(_iou(20 + shift + lift, seed))] for seed in SEEDS]
            mean = np.nanmean(np.array(values), axis=0).tolist()
            per_class.append({"group": "main", "label": method, "backbone": backbone, "seeds": SEEDS, "split": "val", "values": values, "mean": mean})
            cells.append({"group": "main", "label": method, "backbone": backbone, "seeds": SEEDS, "values": [30 + shift + lift + s for s in SEEDS],
                          "pixel_accuracy_values": [80.0, 81.0, 82.0], "n": 3, "miou_mean": 31 + shift + lift})
            curves.append({"group": "main", "label": method, "backbone": backbone, "seeds": SEEDS, "epoch": [1, 2],
                           "train_loss": [1.0, 0.5], "train_ce": [1.0, 0.5], "val_miou": [20.0, 25.0 + lift]})
    return {
        "profile": "cpu", "dataset": "camvid", "seeds": SEEDS, "date": "2026-12-07T05:00:00+00:00", "teacher_backbone": "resnet101",
        "teacher": {"miou": 45.0, "pixel_accuracy": 85.0}, "class_names": CLASSES, "cells": cells, "per_class": per_class, "curves": curves,
        "claims": [{"claim": "AICSD > student (ResNet-18)", "metric": "miou", "gain": 3.0, "ci_low": 2.0, "ci_high": 4.0, "p_value": 0.01,
                    "p_holm": 0.02, "detectable_gain": 1.0, "n": 3, "verdict": "supported", "raw_verdict": "supported"}],
    }


def test_the_main_table_and_ledger_come_from_the_record_without_the_papers_voc_columns():
    table = real_data.main_table(_record())
    assert not [c for c in table.columns if c.startswith("paper")]
    assert table.iloc[0]["ours mIoU"] == "45.00" and table.iloc[0]["student"] == "Teacher: resnet101"
    aicsd = table[(table["student"] == "S1: ResNet-18") & (table["method"] == "+ AICSD")].iloc[0]
    assert aicsd["ours mIoU"] == "34.00 ± 1.00" and aicsd["ours gain"] == "+3.00"
    ledger = real_data.ledger(_record())
    assert list(ledger["claim"]) == ["AICSD > student (ResNet-18)"]


def test_the_per_class_gain_is_the_mean_of_the_per_seed_differences_skipping_absent_classes():
    record = _record()
    gains = real_data.per_class_gains(record)
    entries = {(e["backbone"], e["label"]): e for e in record["per_class"] if e["group"] == "main"}
    for student, name in (("resnet18", "ResNet-18"), ("mobilenet_v2", "MobileNetV2")):
        for method, label in (("kd", "+ KD"), ("aicsd", "+ AICSD")):
            for k, cls in enumerate(CLASSES):
                differences = [
                    entries[(student, method)]["values"][i][k] - entries[(student, "none")]["values"][i][k]
                    for i in range(len(SEEDS))
                    if not math.isnan(entries[(student, method)]["values"][i][k])
                ]
                assert gains.loc[cls, f"{name} {label}"] == pytest.approx(sum(differences) / len(differences))
    assert gains.loc["pole", "ResNet-18 + AICSD"] == pytest.approx(1.0)  # (3 + (3 - 4)) / 2: seed 2 has no pole
    table = real_data.per_class_table(record)
    assert list(table.columns) == ["teacher (ResNet-101)", "ResNet-18 Student", "ResNet-18 + KD", "ResNet-18 + AICSD",
                                   "MobileNetV2 Student", "MobileNetV2 + KD", "MobileNetV2 + AICSD"]
    assert table.loc["pole", "teacher (ResNet-101)"] == 30.0


def test_the_narrow_classes_show_the_teacher_the_student_and_aicsds_paired_gain():
    narrow = real_data.narrow_classes(_record())
    assert list(narrow.index) == ["pole", "sign_symbol", "pedestrian"]  # no bicyclist in this record
    assert narrow.loc["pole", "AICSD gain"] == pytest.approx(1.0) and narrow.loc["pole", "teacher IoU"] == 30.0
    assert narrow.loc["sign_symbol", "student IoU"] == pytest.approx(41.0)


def test_curves_select_networks_and_drop_epochs_a_metric_was_not_recorded():
    teacher_only = real_data.curves(_record(), backbones=(), methods=())
    assert list(teacher_only) == ["teacher (ResNet-101)"]
    assert teacher_only["teacher (ResNet-101)"][1] == {"epoch": 2, "train_loss": 1.5, "train_ce": 1.5}
    students = real_data.curves(_record(), backbones=("resnet18",), methods=("aicsd",))
    assert list(students) == ["teacher (ResNet-101)", "ResNet-18 + AICSD"]
    assert students["ResNet-18 + AICSD"][-1]["val_miou"] == 28.0


def test_the_chapter_reads_the_committed_record_unless_it_runs_inside_that_datasets_reproduction(monkeypatch):
    monkeypatch.setattr(real_data, "select_record", lambda profile, dataset: (_record(), "the committed reference record"))
    monkeypatch.setattr(real_data, "reproduction_summary", lambda profile, dataset, data_root: {"built": (profile, dataset, data_root)})
    record, origin = real_data.chapter_record("cpu", "camvid", running="synthetic")
    assert origin == "the committed reference record" and record["dataset"] == "camvid"
    record, origin = real_data.chapter_record("cpu", "camvid", running="camvid", data_root="/data/camvid")
    assert record == {"built": ("cpu", "camvid", "/data/camvid")} and origin == "this reproduction's runs"


def test_without_the_data_the_grid_is_the_stored_one_and_without_either_the_error_names_both(tmp_path):
    missing_root = str(tmp_path / "no-camvid")
    with pytest.raises(FileNotFoundError, match="qualitative-cpu-camvid.png.*not on disk"):
        real_data.grid("cpu", "camvid", missing_root, redraw_to=tmp_path / "grid.png", folder=tmp_path)
    (tmp_path / "qualitative-cpu-camvid.png").write_bytes(b"png")
    (tmp_path / "qualitative-cpu-camvid.json").write_text(json.dumps({"attribution": "CamVid"}))
    shown = real_data.grid("cpu", "camvid", missing_root, redraw_to=tmp_path / "grid.png", folder=tmp_path)
    assert shown.image == tmp_path / "qualitative-cpu-camvid.png" and shown.sidecar == {"attribution": "CamVid"}
    assert "stored with the committed record" in shown.origin and "not on disk" in shown.origin


def test_the_teacher_edge_table_lists_the_recipes_tried_fewest_epochs_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="teacher_edge-cpu-camvid.json"):
        real_data.teacher_edge_table("camvid", folder=tmp_path)
    teachers = [{"backbone": "resnet101", "width": w, "epochs": e, "val_miou": m, "edge_over_student": m - 20, "train_wall_s": 1.0}
                for w, e, m in ((0.25, 36, 34.0), (0.5, 12, 24.0), (0.25, 12, 23.0))]
    (tmp_path / "teacher_edge-cpu-camvid.json").write_text(json.dumps({"teachers": teachers, "student_val_miou_mean": 20.0}))
    table, record = real_data.teacher_edge_table("camvid", folder=tmp_path)
    assert list(zip(table["epochs"], table["width"])) == [(12, 0.25), (12, 0.5), (36, 0.25)]
    assert table.loc[2, "edge over the student (points)"] == 14.0 and record["student_val_miou_mean"] == 20.0



def test_the_teacher_choice_names_the_cheapest_recipe_that_clears_the_target():
    import pandas as pd

    edges = pd.DataFrame(
        {"epochs": [12, 12, 24, 36], "width": [0.25, 0.5, 0.25, 0.25], "edge over the student (points)": [3.2, 3.2, 12.3, 13.5]}
    )
    choice = real_data.teacher_choice(edges, 36, 0.25)
    assert choice == {"chosen_edge": 13.5, "cheapest_epochs": 24, "cheapest_width": 0.25, "cheapest_edge": 12.3, "chosen_is_cheapest": False}
    assert real_data.teacher_choice(edges, 24, 0.25)["chosen_is_cheapest"]
    assert real_data.teacher_choice(edges, 12, 0.25, target=20.0)["cheapest_epochs"] is None
    with pytest.raises(KeyError, match="18 epochs"):
        real_data.teacher_choice(edges, 18, 0.25)


SHARED_CAMVID = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid"


def test_the_committed_camvid_record_has_a_teacher_worth_learning_from_and_every_seed():
    from aicsd.engine import PROFILES
    from aicsd.study.compare import reference_record
    from aicsd.study.record import design_digest

    record = reference_record("cpu", "camvid")
    if record is None:
        pytest.skip("no CamVid record committed (benchmarks/results/summary-cpu-camvid.json)")
    main = {(c["backbone"], c["label"]): c for c in record["cells"] if c["group"] == "main"}
    assert record["teacher"]["miou"] - main[("resnet18", "none")]["miou_mean"] >= real_data.TEACHER_EDGE_TARGET
    assert {c["n"] for c in main.values()} == {len(PROFILES["cpu"].seeds)} and {c["split"] for c in main.values()} == {"val"}
    assert record["provenance"]["commit"] and not record["provenance"]["dirty"]
    if not SHARED_CAMVID.is_dir():
        pytest.skip(f"CamVid is not at {SHARED_CAMVID}: the record's design cannot be checked against the current profile")
    assert record["design_digest"] == design_digest("cpu", "camvid", str(SHARED_CAMVID)), "the record is not of the current cpu profile's design"
