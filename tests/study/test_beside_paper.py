"""The paper beside the project: recipe comparison, parameter counts, Cityscapes, per-class IoU."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from aicsd.engine import PROFILES, load_profile
from aicsd.losses import resolve
from aicsd.models import build_segmenter
from aicsd.study import beside_paper, paper, plots
from aicsd.study.beside_paper import PAPER_COLUMN, RELEASED_COLUMN, SOURCE_COLUMN


def test_paper_and_released_recipes_cover_the_same_settings():
    assert set(paper.PAPER_RECIPE) == set(paper.RELEASED_RECIPE) == set(paper.RELEASED_SOURCES) == set(paper.RECIPE_SETTINGS)
    assert paper.RELEASED_RECIPE["batch (per process)"] == "6"
    assert "120" in paper.RELEASED_RECIPE["ALW"] and "never added" in paper.RELEASED_RECIPE["ICKD term"]


def test_recipe_comparison_reads_the_profiles():
    recipe = beside_paper.recipe_comparison()
    assert list(recipe.index) == list(paper.RECIPE_SETTINGS)
    assert list(recipe.columns) == [PAPER_COLUMN, RELEASED_COLUMN, "`paper` profile (voc)", "`cpu` profile (synthetic)", SOURCE_COLUMN]
    paper_voc = load_profile("paper", dataset="voc")
    assert recipe.loc["batch (per process)", "`paper` profile (voc)"] == str(paper_voc.batch_size)
    assert recipe.loc["crop", "`cpu` profile (synthetic)"] == str(load_profile("cpu").crop_size)
    assert recipe.loc["seeds per cell", "`cpu` profile (synthetic)"] == str(len(PROFILES["cpu"].seeds))
    weight = resolve("aicsd", alw_form=PROFILES["paper"].alw_form).term("kd").weight
    assert recipe.loc["KD weight", "`paper` profile (voc)"] == f"{weight:.3g}"
    assert recipe.loc["ALW", "`cpu` profile (synthetic)"] == beside_paper.ALW_TEXT[PROFILES["cpu"].alw_form]


def test_recipe_marks_exactly_the_cells_that_depart_from_the_released_code():
    recipe = beside_paper.recipe_comparison()
    differs = beside_paper.recipe_differences(recipe)
    for setting in recipe.index:
        released = recipe.loc[setting, RELEASED_COLUMN]
        for column in recipe.columns:
            value = recipe.loc[setting, column]
            expected = column != SOURCE_COLUMN and value != released and value != paper.NOT_STATED
            assert differs.loc[setting, column] == expected, (setting, column)
    assert differs.loc["batch (per process)", "`paper` profile (voc)"]
    assert not differs.loc["crop", "`paper` profile (voc)"]
    assert not differs[RELEASED_COLUMN].any()
    view = beside_paper.recipe_view(recipe).frame.set_index("setting")
    for setting in recipe.index:
        for column in recipe.columns:
            assert view.loc[setting, column].startswith("**") == differs.loc[setting, column]
        named = [c for c in recipe.columns if differs.loc[setting, c]]
        assert view.loc[setting, "departs from the released code"] == ", ".join(named)


def test_parameter_counts_are_those_of_the_built_models():
    counts = beside_paper.parameter_counts("smoke", "synthetic")
    assert list(counts.index) == ["teacher", "resnet18", "mobilenet_v2"]
    paper_cfg, smoke = load_profile("paper", dataset="voc"), load_profile("smoke")
    assert paper_cfg.num_classes == 21
    for role, millions in (("teacher", 59.3), ("resnet18", 16.6), ("mobilenet_v2", 5.9)):
        assert counts.loc[role, "paper width (M)"] == pytest.approx(millions, abs=0.1)
    student = build_segmenter("mobilenet_v2", smoke.num_classes, width_multiplier=smoke.width_multiplier)
    assert counts.loc["mobilenet_v2", "smoke width (M)"] == pytest.approx(sum(p.numel() for p in student.parameters()) / 1e6)
    assert counts.loc["teacher", "backbone"] == f"resnet101 (paper) / {smoke.teacher_backbone} (smoke)"
    assert counts.loc["resnet18", "backbone"] == "resnet18"
    teacher = build_segmenter(smoke.teacher_backbone, smoke.num_classes, width_multiplier=smoke.teacher_width_multiplier)
    assert counts.loc["teacher", "smoke width (M)"] == pytest.approx(sum(p.numel() for p in teacher.parameters()) / 1e6)


def _record() -> dict:
    cells = [
        {"group": "main", "label": m, "backbone": b, "split": "val", "miou_mean": base + gain, "miou_std": 0.5, "n": 3, "seeds": [0, 1, 2]}
        for b, base in (("resnet18", 20.0), ("mobilenet_v2", 18.0))
        for m, gain in (("none", 0.0), ("kd", 1.0), ("aicsd", 2.0))
    ]
    return {"profile": "cpu", "dataset": "camvid", "teacher": {"miou": 0.25}, "cells": cells}


def test_cityscapes_table_puts_the_stand_in_beside_the_paper():
    table = beside_paper.cityscapes_beside_ours(_record())
    assert table.iloc[0]["paper mIoU"] == "77.66" and table.iloc[0]["paper acc. (class acc.)"] == "84.05"
    ours = [c for c in table.columns if c.startswith("CamVid val, cpu profile") and c.endswith("mIoU")]
    assert len(ours) == 1 and "mini scale" in ours[0]
    assert table.iloc[0][ours[0]] == "25.00"
    row = table[(table["network"] == "S1: ResNet-18") & (table["method"] == "+ AICSD")].iloc[0]
    assert row["paper mIoU"] == "68.46" and row["paper gain"] == "+4.37"
    assert row[ours[0]] == "22.00 ± 0.50" and row[ours[0].replace("mIoU", "gain")] == "+2.00"
    assert set(table["this project on Cityscapes"]) == {"not run here"}
    in_percent = beside_paper.cityscapes_beside_ours({**_record(), "teacher": {"miou": 25.0}, "units": "mIoU in percent"})
    assert in_percent.iloc[0][ours[0]] == "25.00"
    cwd = table[table["method"] == paper.METHOD_LABELS["cwd"]].iloc[0]
    assert cwd["paper mIoU"] == "not in the paper" and cwd[ours[0]] == ""


def test_reproduce_command_names_profile_and_dataset():
    assert beside_paper.reproduce_command("paper", "cityscapes").startswith("make reproduce PROFILE=paper DATASET=cityscapes DATA_ROOT=")


def _per_class_runs() -> pd.DataFrame:
    nan = float("nan")
    rows = [
        {"backbone": "resnet18", "method": "none", "seed": 0, "per_class_iou": [0.5, 0.2, None]},
        {"backbone": "resnet18", "method": "none", "seed": 1, "per_class_iou": [0.7, 0.4, 0.1]},
        {"backbone": "resnet18", "method": "aicsd", "seed": 0, "per_class_iou": [0.6, 0.1, 0.3]},
        {"backbone": "resnet18", "method": "aicsd", "seed": 1, "per_class_iou": [0.7, nan, 0.2]},
        {"backbone": "resnet18", "method": "aicsd", "seed": 2, "per_class_iou": [0.0, 0.0, 0.0]},  # no plain run of seed 2
        {"backbone": "mobilenet_v2", "method": "none", "seed": 0, "per_class_iou": [0.3, 0.3, 0.3]},
        {"backbone": "mobilenet_v2", "method": "aicsd", "seed": 0, "per_class_iou": [0.4, 0.2, 0.3]},
    ]
    return pd.DataFrame(rows)


def test_per_class_iou_averages_present_classes_with_the_teacher_first():
    table = beside_paper.per_class_iou(_per_class_runs(), [0.9, None, float("nan")], ["a", "b", "c"])
    assert list(table.columns) == ["teacher", "ResNet-18 student", "ResNet-18 + AICSD", "MobileNetV2 student", "MobileNetV2 + AICSD"]
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "teacher"] == pytest.approx(90.0) and math.isnan(table.loc["b", "teacher"])
    assert table.loc["c", "ResNet-18 student"] == pytest.approx(10.0)  # None left out
    assert table.loc["b", "ResNet-18 + AICSD"] == pytest.approx(5.0)  # NaN left out: (0.1 + 0.0) / 2


def test_per_class_gain_is_paired_by_seed():
    gain = beside_paper.per_class_gain(_per_class_runs(), ["a", "b", "c"])
    assert gain.attrs["seeds"] == {"ResNet-18": [0, 1], "MobileNetV2": [0]}
    # a: (0.6 - 0.5 + 0.7 - 0.7) / 2; b: only seed 0 has both (0.1 - 0.2); c: only seed 1 (0.2 - 0.1)
    np.testing.assert_allclose(gain["ResNet-18"], [5.0, -10.0, 10.0])
    np.testing.assert_allclose(gain["MobileNetV2"], [10.0, -10.0, 0.0], atol=1e-9)
    # unpaired means would differ: the mean of every AICSD run of class a is 43.3, of the plain ones 60
    assert gain.loc["a", "ResNet-18"] != pytest.approx(100 * (np.mean([0.6, 0.7, 0.0]) - np.mean([0.5, 0.7])))


def test_per_class_heatmap_draws_classes_by_networks():
    table = beside_paper.per_class_iou(_per_class_runs(), [0.9, 0.5, 0.4], ["a", "b", "c"])
    fig = plots.per_class_heatmap(table)
    assert isinstance(fig, Figure) and fig.dpi == plots.FIGURE_DPI
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(table.columns)
    gain = plots.per_class_heatmap(beside_paper.per_class_gain(_per_class_runs(), ["a", "b", "c"]), diverging=True)
    assert len(gain.axes[0].get_xticklabels()) == 2


def test_learning_curves_read_each_students_epochs_and_leave_the_teacher_out(tmp_path, monkeypatch):
    teacher = load_profile("smoke", kind="teacher", output_dir=str(tmp_path))
    student = load_profile("smoke", method="kd", output_dir=str(tmp_path), teacher_run="t")
    records = {"teacher": [{"epoch": 0}], "student": [{"epoch": 0, "train_loss": 1.0}, {"epoch": 1, "train_loss": 0.5}]}
    monkeypatch.setattr(beside_paper, "run_dir", lambda config: config.kind)
    monkeypatch.setattr(beside_paper, "read_metrics", lambda kind: records[kind])
    curves = beside_paper.learning_curves({"teacher": teacher, "+ KD": student})
    assert curves == {"+ KD": records["student"]}
