"""Notebooks under test run the smoke profile.

The stored notebooks default to the profile of ``make reproduce`` (``cpu``), so that a chapter
opened in JupyterLab after ``make reproduce`` reuses its runs. ``make test`` executes them with nbval
(``pytest tests --nbval-lax notebooks``); here the parameters cell of each notebook is followed by
the test's values, as papermill injects them, so the notebooks run on the smoke profile. A notebook
without a ``parameters`` cell fails the test run rather than train the cpu profile.
"""

from __future__ import annotations

import pytest

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
