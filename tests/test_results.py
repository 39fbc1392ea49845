"""Run tables: only seeds of one recipe are pooled, val and test side by side, per-class IoU by name."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from aicsd.data import dataset_info
from aicsd.engine import load_profile, run_dir
from aicsd.engine.runstore import write_config, write_result
from aicsd.results import load_runs, per_class_table, recipe, run_row, runs_table, varying_fields
from aicsd.study import experiments, tables

CLASSES = dataset_info("synthetic").num_classes


def _metrics(miou: float, split: str | None = None) -> dict:
    per_class = [miou] * (CLASSES - 1) + [math.nan]
    metrics = {"miou": miou, "pixel_accuracy": 0.5, "mean_class_accuracy": 0.4, "fwiou": 0.3, "per_class_iou": per_class}
    return metrics if split is None else {"split": split, **metrics}


def _finished(root, val: float, test: float | None = 0.1, **fields) -> str:
    """A finished run (config.json and result.json, no training) of the smoke profile."""
    cfg = load_profile("smoke", output_dir=str(root), **fields)
    directory = run_dir(cfg)
    directory.mkdir(parents=True)
    write_config(directory, cfg)
    final = {"epoch": cfg.epochs - 1, **_metrics(val)}
    test_metrics = None if test is None else _metrics(test, "test")
    write_result(directory, {"final": final, "best": final, "test": test_metrics, "wall_time_s": 1.0})
    return directory.name


@pytest.fixture
def store(tmp_path):
    _finished(tmp_path, 0.30, kind="teacher")
    _finished(tmp_path, 0.20, 0.10, seed=0)
    _finished(tmp_path, 0.24, 0.14, seed=1)
    _finished(tmp_path, 0.50, 0.40, seed=0, epochs=3)
    _finished(tmp_path, 0.60, None, seed=0, test_split=None, lr=0.02)
    return tmp_path


def test_seeds_of_one_recipe_pool_and_nothing_else(store):
    df = load_runs(store)
    assert df["recipe"].nunique() == 4
    assert recipe(load_profile("smoke", seed=0)) == recipe(load_profile("smoke", seed=5))
    table = runs_table(df, ["method", "seed"])
    assert set(table.index.names) >= {"method", "seed", "kind", "epochs", "lr", "recipe"}
    assert table["n"].max() == 1  # grouped by seed: every run alone, the teacher apart from the student
    by_method = runs_table(df, ["dataset", "kind", "method"])
    assert sorted(by_method["n"]) == [1, 1, 1, 2]
    assert varying_fields(df, ["dataset", "kind", "method"]) == ["test_split", "epochs", "lr"]
    pooled = by_method[by_method["n"] == 2]
    assert pooled.iloc[0]["val miou (%) [split val]"] == "22.00 ± 2.83"
    assert pooled.iloc[0]["test miou (%) [split test]"] == "12.00 ± 2.83"
    alone = by_method.xs(0.02, level="lr")
    assert alone.iloc[0]["test miou (%) [split test]"] == "-"


def test_a_single_column_metric_and_unknown_columns(store):
    df = load_runs(store)
    table = runs_table(df, ["kind"], "best_val_miou")
    assert list(table.columns) == ["best_val_miou (%)", "n"]
    assert list(runs_table(df, ["kind"], "wall_time_s").columns) == ["wall_time_s", "n"]
    with pytest.raises(ValueError, match="not in the runs table"):
        runs_table(df, ["kind"], "accuracy")
    with pytest.raises(ValueError, match="not in the runs table"):
        runs_table(df, ["colour"])


def test_per_class_iou_has_class_names_and_skips_absent_classes(store):
    df = load_runs(store)
    table = per_class_table(df, ["kind", "method"], "test_per_class_iou")
    names = dataset_info("synthetic").class_names
    assert list(table.index) == list(names) and table.index.name == "class"
    assert table.shape[1] == 3  # the run without a test split has no column
    pooled = [column for column in table.columns if column.startswith("student/none") and table[column].iloc[0] == pytest.approx(12.0)]
    assert len(pooled) == 1 and math.isnan(table[pooled[0]].iloc[-1])
    with pytest.raises(ValueError, match="one dataset"):
        per_class_table(pd.concat([df, df.assign(dataset="camvid")]), ["kind"])


def test_run_row_keeps_val_and_test_per_class(store):
    row = run_row(store / _finished(store, 0.7, 0.6, seed=3))
    assert row["val_per_class_iou"][0] == 0.7 and row["test_per_class_iou"][0] == 0.6
    assert row["split"] == "test" and row["recipe"] == run_row(store / run_dir(load_profile("smoke", output_dir=str(store))).name)["recipe"]


def test_runs_and_the_book_tables_print_the_same_numbers_for_the_same_runs(tmp_path):
    place = {"output_dir": str(tmp_path)}
    labelled = []
    for seed, (val, test) in enumerate([(0.20, 0.10), (0.26, 0.15), (0.23, 0.17)]):
        _finished(tmp_path, val, test, method="none", seed=seed)
        labelled.append(experiments.LabelledRun("main", "none", load_profile("smoke", method="none", seed=seed, **place)))
    book = tables.summary(experiments.collect(labelled), ["backbone", "method"])
    cli = runs_table(load_runs(tmp_path), ["backbone", "method"])
    row = book.iloc[0]
    assert cli.iloc[0]["test miou (%) [split test]"] == f"{row['mean']:.2f} ± {row['std']:.2f}" == "14.00 ± 3.61"
    main_row = tables.main_results(experiments.collect(labelled), _metrics(0.3), "resnet18").iloc[1]
    assert main_row["ours mIoU"] == "14.00 ± 3.61"
