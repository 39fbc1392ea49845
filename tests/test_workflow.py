"""The GitHub Actions workflow that publishes the book: what it does, and actionlint's verdict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _workflow() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def test_the_workflow_builds_the_book_on_push_to_main_and_deploys_it_to_pages():
    workflow = _workflow()
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    build, deploy = workflow["jobs"]["build"]["steps"], workflow["jobs"]["deploy"]["steps"]
    uses = [step.get("uses", "") for step in build + deploy]
    assert "actions/upload-pages-artifact@v4" in uses and "actions/deploy-pages@v4" in uses
    python = next(step for step in build if step.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "3.11"
    runs = [step.get("run", "") for step in build]
    assert "make book" in runs  # the README's command
    book = runs.index("make book")
    refuse = next(i for i, run in enumerate(runs) if "book/_build/html" in run and "exit 1" in run)
    upload = uses.index("actions/upload-pages-artifact@v4")
    assert book < refuse < upload and build[upload]["with"]["path"] == "book/_build/html"
    assert workflow["jobs"]["deploy"]["needs"] == "build"
    assert workflow["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_actionlint_finds_nothing_in_the_workflow():
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("actionlint not installed: pip install -e '.[lint]' (its build downloads the binary from GitHub releases)")
    result = subprocess.run([found, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
