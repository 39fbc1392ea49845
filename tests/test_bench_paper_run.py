"""The paper-profile run benchmark and the ICSD piece benchmark run end to end at a tiny size on the
CPU and write their records (no timing asserted); the book's tables read the records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aicsd.study import tables
from test_data_camvid import write_camvid

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_ics_matrix  # noqa: E402
import bench_paper_run  # noqa: E402

TINY = ["width_multiplier=0.125", "teacher_width_multiplier=0.125", "crop_size=32", "eval_size=32", "num_workers=0", "threads=1", "batch_size=2"]


@pytest.mark.slow
def test_paper_run_trains_a_teacher_and_an_aicsd_student_through_the_cli_and_records_them(tmp_path):
    root = write_camvid(tmp_path / "camvid", {"train": 4, "val": 2})
    arguments = ["--data-root", str(root), "--epochs", "2", "--device", "cpu", "--store", str(tmp_path / "runs"), "--output", str(tmp_path / "results")]
    for value in TINY:
        arguments += ["--set", value]
    assert bench_paper_run.main(arguments) == 0
    record = json.loads((tmp_path / "results" / "paper_run-cpu.json").read_text())
    teacher, student = record["runs"]
    assert (teacher["backbone"], teacher["method"]) == ("resnet101", "none")
    assert (student["backbone"], student["method"]) == ("resnet18", "aicsd")
    assert all(run["pretrained_backbone"] is False and len(run["curve"]) == 2 for run in record["runs"])
    assert {"train_ce", "train_icsd", "train_kd"} <= set(student["curve"][-1])
    assert record["evaluate"]["miou"] == pytest.approx(student["final_val"]["miou"])
    assert record["data"] == {"train_images": 4, "val_images": 2}
    table, curves = tables.paper_runs(tmp_path / "results")
    assert list(table["steps"]) == [4, 4]  # 2 epochs of 4 images in batches of 2
    assert list(curves) == [f"resnet101 none ({record['device']})", f"resnet18 aicsd ({record['device']})"]


def test_ics_matrix_pieces_are_timed_and_the_split_products_agree(tmp_path):
    assert bench_ics_matrix.main(["--device", "cpu", "--shape", "2x3x9x7", "--repeats", "1", "--output", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "bench_ics_matrix-cpu.json").read_text())
    assert record["split_k_relative_error"] < 1e-5
    pieces = tables.ics_pieces(tmp_path)
    assert {"product: bmm", "ics_matrix", "ICSD paper"} <= set(pieces["piece"]) and (pieces["ms"] > 0).all()
