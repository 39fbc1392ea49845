"""The papermill driver: notebook order, failure report, parameters shown in the book."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
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


def test_the_kernel_runs_without_a_tcp_port_or_its_warning(tmp_path, capfd):
    source = _notebook(tmp_path / "01_ok.ipynb", "import sys; print('real warning', file=sys.stderr)")
    output = tmp_path / "out"
    output.mkdir()
    reproduce.execute(source, output, {"profile": "cpu"})
    terminal = capfd.readouterr()
    assert "without encryption" not in terminal.err + terminal.out
    executed = nbformat.read(output / "01_ok.ipynb", as_version=4)
    assert "real warning" in "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)


def test_a_failing_notebook_is_named_with_its_cell_as_a_reader_counts_it_and_its_error(tmp_path):
    source = _notebook(tmp_path / "02_bad.ipynb", "x = 1", "raise ValueError('no data at /x')")
    output = tmp_path / "out"
    output.mkdir()
    failed = output / "02_bad.failed.ipynb"
    expected = rf"02_bad.ipynb failed in cell 3 of {source} \(cell (\d+) of the failed copy\):\n  raise ValueError.*\n  ValueError: no data at /x\n.*{failed}"
    with pytest.raises(reproduce.NotebookFailed, match=expected) as error:
        reproduce.execute(source, output, {"profile": "cpu"})
    assert failed.is_file() and not (output / "02_bad.ipynb").exists()
    in_copy = int(re.search(r"cell (\d+) of the failed copy", str(error.value)).group(1))
    assert nbformat.read(failed, as_version=4).cells[in_copy - 1].source == "raise ValueError('no data at /x')"
    assert nbformat.read(source, as_version=4).cells[3 - 1].source == "raise ValueError('no data at /x')"


def test_a_dying_kernel_is_reported_like_a_failing_cell(tmp_path, capsys, monkeypatch):
    source = _notebook(tmp_path / "03_dies.ipynb", "x = 1", "import os; os._exit(1)", "y = 2")
    output = tmp_path / "out"
    monkeypatch.setattr(reproduce, "notebooks_in_order", lambda folder=None: [source])
    assert reproduce.main(["--profile", "smoke", "--output", str(output)]) == 1
    err = capsys.readouterr().err
    assert f"FAILED: 03_dies.ipynb failed in cell 3 of {source} (cell" in err
    assert "  import os; os._exit(1)\n  the kernel died (DeadKernelError" in err
    assert "Traceback" not in err and (output / "03_dies.failed.ipynb").is_file()


def test_a_summary_that_cannot_be_built_is_one_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    source = _notebook(tmp_path / "03_fine.ipynb", "x = 1")
    monkeypatch.setattr(reproduce, "notebooks_in_order", lambda folder=None: [source])

    def run_missing(*args, **kwargs):
        raise FileNotFoundError("runs/student-none-resnet18-0123 has no result.json")

    monkeypatch.setattr(reproduce, "reproduction_summary", run_missing)
    assert reproduce.main(["--profile", "smoke", "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "FAILED: every notebook ran, but the summary record could not be built: runs/student-none-resnet18-0123 has no result.json" in err
    assert "Traceback" not in err and "make reproduce again" in err


_POOL_OWNER = """
import sys, time
from aicsd.study.experiments import worker_pool
pool = worker_pool(1)
future = pool.submit(time.sleep, 600)
while not pool._processes:
    time.sleep(0.05)
print(" ".join(map(str, pool._processes)), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has ended, waiting for whoever adopted it


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_pool_workers_end_when_the_process_that_started_them_is_killed():
    owner = subprocess.Popen([sys.executable, "-c", _POOL_OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(workers) == 1 and all(_alive(pid) for pid in workers)
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()
        owner.stderr.close()  # as a dead kernel's pipes: writing to them fails
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
