"""Where the checkout's folders are: one definition, imported by every module that needs one.

The run store and the data folder default to ``runs/`` and ``data/`` of the checkout; the
environment variables :data:`RUNS_ENV` and :data:`DATA_ENV` move them (read once, when
:mod:`aicsd` is imported, so a notebook's kernel started with them set uses them too). The tests
set both to a folder of their own (``tests/conftest.py``) and never touch the checkout's.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout holding ``aicsd/``: relative data roots and the run store default to it."""
RUNS_ENV = "AICSD_RUNS"
"""Environment variable naming another default run store than ``runs/``."""
DATA_ENV = "AICSD_DATA"
"""Environment variable naming another default parent of the dataset folders than ``data/``."""


def _from_environment(variable: str, default: Path) -> Path:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser().resolve() if value else default


DATA_ROOT = _from_environment(DATA_ENV, REPO_ROOT / "data")
"""Default parent of the dataset folders (``data/<dataset>``, or ``$AICSD_DATA/<dataset>``)."""
RUNS_ROOT = _from_environment(RUNS_ENV, REPO_ROOT / "runs")
"""Default run store (``runs/``, or ``$AICSD_RUNS``)."""
BENCHMARK_RESULTS = REPO_ROOT / "benchmarks" / "results"
"""The committed benchmark and reproduction records."""
CROSS_MACHINE = BENCHMARK_RESULTS / "cross-machine"
"""The summary records of reproductions made on another machine or with other CPU kernels than the
reference, each kept as it was compared (:func:`aicsd.study.compare.publish_cross_check`)."""
NOTEBOOKS = REPO_ROOT / "notebooks"
"""The book's chapters as stored (parameterised, without outputs)."""
EXECUTED = REPO_ROOT / "book" / "_executed"
"""The chapters ``make reproduce`` executed on this machine (git-ignored)."""
REFERENCE = REPO_ROOT / "book" / "reference"
"""The reference reproduction's executed chapters, committed: the book of a fresh clone."""
CHAPTERS = REPO_ROOT / "book" / "_chapters"
"""The chapters the book is built from (git-ignored), assembled by ``aicsd.study.book_sources``."""

TIMINGS_FILE = "timings.json"
"""The per-notebook wall times ``make reproduce`` writes beside the executed chapters."""
SUMMARY_FILE = "summary.json"
"""The summary record ``make reproduce`` writes beside the executed chapters (:mod:`aicsd.study.record`)."""
COMPARISON_PAGE = "comparison.md"
"""The comparison with the reference, as the book's page (:mod:`aicsd.study.compare`)."""
COMPARISON_DATA = "comparison.json"
"""The same comparison as data."""
