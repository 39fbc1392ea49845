"""The tests use a run store and a data folder of their own; notebooks under test run the smoke profile.

``AICSD_RUNS`` and ``AICSD_DATA`` (:mod:`aicsd.paths`) are set here, before any test module imports
:mod:`aicsd`, to ``runs/`` and ``data/`` of a temporary folder removed at the end of the session:
``make test`` never writes into the checkout's ``runs/`` or ``data/`` (a finished or running ``make
reproduce`` there is left alone), and a notebook's kernel inherits both. Every default run store and
data root (``RunConfig``, ``load_profile``, the command line, the generated dataset's default root)
is read from them.

Notebooks under test run the smoke profile.

The stored notebooks default to the profile of ``make reproduce`` (``cpu``), so that a chapter
opened in JupyterLab after ``make reproduce`` reuses its runs. ``make test`` executes each of them
once, with ``--profile smoke``, through the driver of ``make reproduce`` (``tests/test_book.py``
builds the book from them). Run on their own with nbval (``pytest --nbval-lax notebooks``), the
parameters cell of each notebook is followed here by the test's values, as papermill injects them,
so they run on the smoke profile too; a notebook without a ``parameters`` cell fails the test run
rather than train the cpu profile.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_FOLDER = Path(tempfile.mkdtemp(prefix="aicsd-tests-"))
os.environ["AICSD_RUNS"] = str(_FOLDER / "runs")
os.environ["AICSD_DATA"] = str(_FOLDER / "data")


def pytest_unconfigure(config):
    shutil.rmtree(_FOLDER, ignore_errors=True)


TEST_PARAMETERS = {"profile": "smoke"}


def injected_source(source: str, parameters: dict[str, object]) -> str:
    """``source`` of a parameters cell followed by assignments of ``parameters`` (papermill's way)."""
    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    return source.rstrip("\n") + "\n# injected by tests/conftest.py\n" + "\n".join(lines) + "\n"


def pytest_collection_modifyitems(config, items):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    notebooks: dict[str, list] = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            notebooks.setdefault(str(item.path), []).append(item)
    for path, cells in notebooks.items():
        parameters = [cell for cell in cells if "parameters" in cell.cell.metadata.get("tags", [])]
        if len(parameters) != 1:
            raise pytest.UsageError(f"{path}: expected one cell tagged 'parameters', found {len(parameters)}")
        cell = parameters[0].cell
        cell.source = injected_source(cell.source, TEST_PARAMETERS)
