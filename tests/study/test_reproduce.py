"""The papermill driver: notebook order, failure report, parameters shown in the book."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from aicsd.study import reproduce

REPO = Path(__file__).resolve().parents[1]


def _notebook(path: Path, *sources: str) -> Path:
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = new_code_cell('profile = "smoke"')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(new_code_cell(s) for s in sources)]
    nbformat.write(notebook, path)
    return path


def test_the_repository_notebooks_are_numbered_parameterised_and_stored_without_outputs():
    notebooks = reproduce.notebooks_in_order()
    assert [p.name[:2] for p in notebooks] == sorted(p.name[:2] for p in notebooks)
    for path in notebooks:
        notebook = json.loads(path.read_text())
        cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert sum("parameters" in c["metadata"].get("tags", []) for c in cells) == 1, path.name
        assert all(not c["outputs"] and c["execution_count"] is None for c in cells), path.name
        source = "".join("".join(c["source"]) for c in cells)
        assert "\ndef " not in source and "\nclass " not in source, path.name


def test_execute_injects_parameters_and_hides_the_defaults(tmp_path):
    source = _notebook(tmp_path / "01_ok.ipynb", "print(profile)")
    output = tmp_path / "out"
    output.mkdir()
    reproduce.execute(source, output, {"profile": "cpu"})
    executed = nbformat.read(output / "01_ok.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.strip() == "cpu"
    defaults = [c for c in executed.cells if "parameters" in c.metadata.get("tags", [])]
    assert defaults and "remove-cell" in defaults[0].metadata["tags"]


def test_a_failing_notebook_is_named_with_its_cell_and_error(tmp_path):
    source = _notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('no data at /x')")
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(reproduce.NotebookFailed, match=r"02_bad.ipynb failed in cell \d+.*\n.*raise ValueError.*\n.*ValueError: no data at /x"):
        reproduce.execute(source, output, {"profile": "cpu"})
    assert (output / "02_bad.failed.ipynb").is_file() and not (output / "02_bad.ipynb").exists()
