"""The variance-lever benchmark's cell and recipe parsing, and the sizing chapter's recipe-lever table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import variance_levers  # noqa: E402

from aicsd.losses import resolve  # noqa: E402
from aicsd.study import tables  # noqa: E402


def test_a_cell_names_its_student_method_and_a_multiple_of_the_default_weight():
    assert variance_levers.cell_settings("resnet18:none") == ("resnet18", "none", {})
    backbone, method, weights = variance_levers.cell_settings("mobilenet_v2:ickd*16")
    assert (backbone, method) == ("mobilenet_v2", "ickd")
    assert weights == {"ickd_weight": pytest.approx(16 * resolve("ickd").term("ickd").weight)}
    (name,) = variance_levers.cell_settings("resnet18:aicsd*0.25")[2]
    assert name == "icsd_weight"  # AICSD's swept term is ICSD
    runs = variance_levers.cell_runs(["mobilenet_v2:ickd*16"], 0.98, epochs=3)["mobilenet_v2:ickd*16"]
    assert {(c.epochs, c.ema_decay, c.distillation.term("ickd").weight) for c in runs} == {(3, 0.98, weights["ickd_weight"])}


def test_recipe_changes_are_parsed_as_json_and_named_in_the_file_suffix():
    assert variance_levers.parse_overrides(["epochs=3", "lr=0.005"]) == {"epochs": 3, "lr": 0.005}
    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        variance_levers.parse_overrides(["epochs"])
    assert variance_levers.record_suffix(100, {"epochs": 3}, "tuned") == "-warmup100-epochs3-tuned"
    assert variance_levers.record_suffix(0, {"lr": 0.005}) == "-lr0.005"
    assert variance_levers.record_suffix(0, {}) == ""
    assert variance_levers.record_suffix(100, {}, "committed", "v4 candidate") == "-v4_candidate-warmup100-committed"


def _record(std: float, mean: float, cells: tuple[str, ...] = ("resnet18:none", "mobilenet_v2:ickd*16"), **fields) -> dict:
    way = {"mean": mean, "std": std, "std_ratio": 1.0}
    return {"warmup_steps": 100, "tag": "tuned", "overrides": {}, "cells": {c: {w: way for w in tables.LEVER_WAYS} for c in cells}} | fields


def test_recipe_levers_set_each_change_beside_the_recipe_with_the_same_warmup_and_tag():
    base = _record(2.0, 30.0)
    longer = _record(1.0, 33.0, overrides={"epochs": 3})
    other_tag = _record(9.0, 10.0, tag="", overrides={"lr": 0.005})  # no baseline with its tag: left out
    partial = _record(4.0, 29.0, cells=("resnet18:none", "resnet18:kd"), overrides={"lr": 0.005})
    table = tables.recipe_levers([base, longer, other_tag, partial])
    assert list(table["recipe change"]) == ["epochs 3", "epochs 3", "lr 0.005"]
    assert list(table["weight"]) == ["default", "x16", "default"]
    assert list(table["std ratio"]) == [0.5, 0.5, 2.0] and list(table["mean gain"]) == [3.0, 3.0, -1.0]
    assert table.iloc[1]["with the change (val)"] == "33.00 ± 1.00"
    assert tables.recipe_levers([longer]).empty


def test_another_generated_set_is_a_recipe_change_named_before_the_settings():
    base = _record(2.0, 30.0)
    easier = _record(3.0, 38.0, data_variant="v4 candidate")
    both = _record(1.0, 39.0, data_variant="v4 candidate", overrides={"epochs": 3})
    assert tables.lever_recipe(easier) == "data v4 candidate" and tables.lever_recipe(both) == "data v4 candidate, epochs 3"
    table = tables.recipe_levers([base, easier])
    assert list(table["recipe change"]) == ["data v4 candidate", "data v4 candidate"]
    assert list(table["std ratio"]) == [1.5, 1.5] and list(table["mean gain"]) == [8.0, 8.0]
    assert tables.recipe_levers([easier, both]).empty  # no record of the profile's own recipe to set them beside
