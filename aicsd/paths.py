"""Where the checkout's folders are: one definition, imported by every module that needs one."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout holding ``aicsd/``: relative data roots and the run store default to it."""
DATA_ROOT = REPO_ROOT / "data"
"""Default parent of the dataset folders (``data/<dataset>``)."""
RUNS_ROOT = REPO_ROOT / "runs"
"""Default run store."""
BENCHMARK_RESULTS = REPO_ROOT / "benchmarks" / "results"
"""The committed benchmark and reproduction records."""
NOTEBOOKS = REPO_ROOT / "notebooks"
"""The book's chapters as stored (parameterised, without outputs)."""
EXECUTED = REPO_ROOT / "book" / "_executed"
"""The chapters ``make reproduce`` executed on this machine (git-ignored)."""
REFERENCE = REPO_ROOT / "book" / "reference"
"""The reference reproduction's executed chapters, committed: the book of a fresh clone."""
CHAPTERS = REPO_ROOT / "book" / "_chapters"
"""The chapters the book is built from (git-ignored), assembled by ``aicsd.study.book_sources``."""
