"""The book builds (warnings as errors) from the smoke-profile notebooks (assembled as `make book`
does), and its HTML is whole;
the stored notebooks are the reader's and the tweaker's: cpu defaults, code folded, runs reused."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from aicsd import engine
from aicsd.paths import NOTEBOOKS
from aicsd.study import book_sources, experiments, reproduce

REPO = Path(__file__).resolve().parents[1]
FOLDED = {"hide-input", "remove-input", "remove-cell"}
def _chapters(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    (root / "book").mkdir()
    for path in (REPO / "book").glob("*.md"):
        shutil.copy(path, root / "book" / path.name)
    shutil.copy(REPO / "book" / "references.bib", root / "book" / "references.bib")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    assert reproduce.main(["--profile", "smoke", "--output", str(root / "book" / "_executed")]) == 0
    book_sources.assemble(root / "book" / "_executed", root / "book" / "reference", root / "book" / "_chapters")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run(
        [str(jupyter_book), "build", str(root), "--path-output", str(root / "book"), "--warningiserror"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return root / "book" / "_build" / "html"


@pytest.mark.slow
def test_every_chapter_is_built(built_book):
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    for chapter in _chapters(toc):
        assert (built_book / f"{chapter}.html").is_file(), chapter


@pytest.mark.slow
def test_every_referenced_image_exists_and_no_traceback(built_book):
    pages = list(built_book.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        assert "Traceback (most recent call last)" not in html, page
        for source in re.findall(r'<img[^>]+src="([^"]+)"', html):
            if source.startswith(("http", "data:")):
                continue
            assert (page.parent / source).resolve().is_file(), f"{page.name}: {source}"


@pytest.mark.slow
def test_main_table_shows_paper_and_reproduced_columns_for_both_students(built_book):
    html = (built_book / "book" / "_chapters" / "04_main_results.html").read_text()
    for text in ("ours mIoU", "paper mIoU (VOC)", "S1: ResNet-18", "S2: MobileNetV2", "+ AICSD", "70.03 ± 0.13"):
        assert text in html, text
    intro = (built_book / "book" / "intro.html").read_text()
    assert "+2.53" in intro and "smoke" in intro


def test_notebooks_default_to_the_cpu_profile_and_show_results_not_code():
    for path in reproduce.notebooks_in_order():
        notebook = nbformat.read(path, as_version=4)
        (parameters,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        first_line = parameters.source.splitlines()[0]
        assert first_line.startswith("# ") and "papermill" in first_line and "only" in first_line, path.name
        values = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(parameters.source).body}
        assert values["profile"] == "cpu", path.name
        assert "hide-input" in parameters.metadata["tags"], path.name
        code = [c for c in notebook.cells if c.cell_type == "code" and c is not parameters]
        unfolded = [c.source.splitlines()[0] for c in code if not FOLDED & set(c.metadata.get("tags", []))]
        assert not unfolded, f"{path.name}: code shown above its results: {unfolded}"
        last = notebook.cells[-1]
        assert last.cell_type == "markdown" and "{glue:" in last.source, f"{path.name} ends without a takeaway citing a number"


def _run_folders() -> set[str]:
    root = Path(engine.load_profile("smoke").output_dir)
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


@pytest.mark.slow
def test_a_chapter_executed_again_reuses_its_runs_and_a_changed_parameter_trains_only_the_new_ones(tmp_path):
    chapter = NOTEBOOKS / "05_ablations.ipynb"
    smoke = {"profile": "smoke"}
    # as `make reproduce PROFILE=smoke` does (trains what is missing); executed again with one more
    # temperature below, it adds only that temperature's runs (so an unchanged chapter adds none)
    papermill.execute_notebook(str(chapter), str(tmp_path / "first.ipynb"), parameters=smoke, cwd=str(NOTEBOOKS), progress_bar=False)
    before = _run_folders()

    temperatures = [*experiments.TEMPERATURES, 8.0]
    weights = experiments.tuned_weights("smoke", train=False)
    old_ids = {engine.run_id(run.config) for run in experiments.ablations("smoke", weights=weights)}
    changed = experiments.ablations("smoke", weights=weights, temperatures=temperatures)
    new_ids = {engine.run_id(run.config) for run in changed} - old_ids
    # one new run per seed for ICSD alone and one for KD alone (the temperature is varied on each apart)
    assert len(new_ids) == 2 * len(experiments.seeds_of("smoke")) and not new_ids & before
    root = Path(engine.load_profile("smoke").output_dir)
    try:
        papermill.execute_notebook(
            str(chapter), str(tmp_path / "changed.ipynb"), parameters={**smoke, "temperatures": temperatures}, cwd=str(NOTEBOOKS), progress_bar=False
        )
        assert _run_folders() - before == new_ids
        executed = (tmp_path / "changed.ipynb").read_text()
        assert "T = 8" in executed and "T = 4" in executed
    finally:
        for run in new_ids:
            shutil.rmtree(root / run, ignore_errors=True)
