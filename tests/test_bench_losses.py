"""The loss benchmark runs end to end at a tiny size and writes its record (no timing asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_losses  # noqa: E402


def test_bench_losses_smoke(tmp_path, capsys):
    assert bench_losses.main(["--device", "cpu", "--shapes", "2x3x9x7", "--repeats", "1", "--output", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "bench_losses-cpu.json").read_text())
    assert [row["implementation"] for row in record["rows"]] == list(bench_losses.IMPLEMENTATIONS)
    assert all(row["seconds"] > 0 and row["peak_bytes"] >= 0 for row in record["rows"])
    assert "speed-up" in capsys.readouterr().out
