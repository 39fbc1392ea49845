"""Run directory files and the results table (aicsd.results)."""

import math

import pytest

from aicsd.engine import load_profile, run_dir
from aicsd.engine import runstore
from aicsd.results import format_mean_std, load_runs, summarise


def _finish(cfg, miou, best_miou):
    """Write the files of a finished run of ``cfg`` by hand."""
    directory = run_dir(cfg)
    directory.mkdir(parents=True)
    runstore.write_config(directory, cfg)
    metrics = {"miou": miou, "pixel_accuracy": 0.9, "per_class_iou": [miou, math.nan]}
    runstore.write_result(
        directory,
        {
            "run_id": directory.name,
            "final": {"epoch": 1, **metrics},
            "best": {"epoch": 0, **metrics, "miou": best_miou},
            "epochs_done": 2,
            "wall_time_s": 3.0,
            "train_images_per_s": 10.0,
            "device": "cpu",
            "world_size": 1,
            "params_m": 1.0,
            "environment": {"git_commit": None},
        },
    )


def test_config_round_trips_through_the_run_directory(tmp_path):
    cfg = load_profile("smoke", method="kd", output_dir=str(tmp_path), scale_range=(0.75, 1.25))
    directory = run_dir(cfg)
    directory.mkdir(parents=True)
    runstore.write_config(directory, cfg)
    assert runstore.read_config(directory) == cfg
    assert directory.parent == tmp_path and directory.name.startswith("student-kd-resnet18-")
    assert runstore.read_result(directory) is None


def test_truncate_metrics_drops_epochs_after_the_checkpoint(tmp_path):
    for epoch in range(4):
        runstore.append_metrics(tmp_path, {"epoch": epoch, "train_loss": 1.0 / (epoch + 1)})
    runstore.truncate_metrics(tmp_path, 2)
    assert [record["epoch"] for record in runstore.read_metrics(tmp_path)] == [0, 1]


def test_read_config_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        runstore.read_config(tmp_path)


def test_load_runs_and_summarise_over_seeds(tmp_path):
    for seed, miou in enumerate([0.60, 0.62, 0.64]):
        _finish(load_profile("smoke", method="kd", seed=seed, output_dir=str(tmp_path)), miou, 0.7)
    _finish(load_profile("smoke", method="none", output_dir=str(tmp_path)), 0.5, 0.55)
    unfinished = run_dir(load_profile("smoke", method="sp", output_dir=str(tmp_path)))
    unfinished.mkdir()
    runs = load_runs(tmp_path)
    assert len(runs) == 4
    assert {"run_id", "method", "seed", "miou", "val_miou", "best_val_miou", "best_val_epoch", "wall_time_s", "lr"} <= set(runs.columns)
    assert sorted(runs["best_val_miou"]) == [0.55, 0.7, 0.7, 0.7]
    summary = summarise(runs, by=["method"])
    assert summary.loc["kd", "mean"] == pytest.approx(0.62)
    assert summary.loc["kd", "std"] == pytest.approx(0.02)
    assert summary.loc["kd", "n"] == 3 and summary.loc["none", "n"] == 1
    text = format_mean_std(summary)
    assert text["kd"] == "62.00 ± 2.00" and text["none"] == "50.00"


def test_summarise_names_missing_columns(tmp_path):
    _finish(load_profile("smoke", output_dir=str(tmp_path)), 0.5, 0.5)
    with pytest.raises(ValueError, match="not in the runs table"):
        summarise(load_runs(tmp_path), by=["teacher"], metric="miou")


def test_load_runs_of_a_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_runs(tmp_path / "nothing")


def _strict(text):
    """Parse ``text`` as a strict JSON parser (jq, JavaScript) does: a bare NaN or Infinity fails."""
    import json

    return json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in {text[:200]!r}"))


def test_store_files_are_strict_json_and_their_nans_read_back(tmp_path):
    cfg = load_profile("smoke", method="kd", output_dir=str(tmp_path))
    _finish(cfg, 0.5, 0.6)
    directory = run_dir(cfg)
    stored = _strict((directory / runstore.RESULT).read_text())
    assert stored["final"]["per_class_iou"] == [0.5, None]
    result = runstore.read_result(directory)
    assert result["final"]["per_class_iou"][0] == 0.5 and math.isnan(result["final"]["per_class_iou"][1])
    record = {"epoch": 0, "lr": 0.01, "val_miou": math.nan, "val_per_class_iou": [0.25, math.nan], "train_loss": 1.0}
    runstore.append_metrics(directory, record)
    runstore.append_metrics(directory, {**record, "epoch": 1})
    lines = (directory / runstore.METRICS).read_text().splitlines()
    assert [_strict(line)["val_per_class_iou"] for line in lines] == [[0.25, None]] * 2
    (read,) = runstore.read_metrics(directory)[:1]
    assert math.isnan(read["val_miou"]) and math.isnan(read["val_per_class_iou"][1]) and read["train_loss"] == 1.0
    runstore.truncate_metrics(directory, 1)
    (line,) = (directory / runstore.METRICS).read_text().splitlines()
    assert _strict(line)["val_miou"] is None


def test_files_written_with_a_bare_nan_still_read(tmp_path):
    cfg = load_profile("smoke", method="kd", output_dir=str(tmp_path))
    _finish(cfg, 0.5, 0.6)
    directory = run_dir(cfg)
    path = directory / runstore.RESULT
    path.write_text(path.read_text().replace("null", "NaN"))  # as written before the files were strict
    (directory / runstore.METRICS).write_text('{"epoch": 0, "val_per_class_iou": [NaN, 0.5]}\n')
    assert math.isnan(runstore.read_result(directory)["final"]["per_class_iou"][1])
    assert math.isnan(runstore.read_metrics(directory)[0]["val_per_class_iou"][0])
    assert load_runs(tmp_path)["val_miou"].tolist() == [0.5]
