"""The teacher-cache benchmark end to end at a tiny size (no timing asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_teacher_cache  # noqa: E402

from aicsd.data import make_synthetic  # noqa: E402


def test_benchmark_trains_both_phases_with_identical_results_and_writes_its_record(tmp_path):
    data = make_synthetic(tmp_path / "data", num_train=16, num_val=3, num_test=3, image_size=(32, 40))
    code = bench_teacher_cache.main(["--images", "16", "--methods", "kd", "sp", "--data-root", str(data), "--output", str(tmp_path / "out")])
    assert code == 0
    record = json.loads((tmp_path / "out" / "bench_teacher_cache-cpu.json").read_text())
    assert record["identical_results"] is True
    assert [(row["phase"], row["method"]) for row in record["rows"]] == [
        ("recompute", "kd"), ("recompute", "sp"), ("shared", "kd"), ("shared", "sp"),
    ]
    cache = record["rows"][-1]["cache"]
    assert cache["misses"] == 2 and cache["hits"] == 2  # 16 images, batch 8, one epoch: sp read both of kd's batches
    assert record["speedup"] > 0
