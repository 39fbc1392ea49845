"""The book builds (warnings as errors) from the smoke-profile notebooks, and its HTML is whole."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aicsd.study import reproduce

REPO = Path(__file__).resolve().parents[1]


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
    assert reproduce.main(["--profile", "smoke", "--output", str(root / "book" / "_executed")]) == 0
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
    html = (built_book / "book" / "_executed" / "04_main_results.html").read_text()
    for text in ("ours mIoU", "paper mIoU (VOC)", "S1: ResNet-18", "S2: MobileNetV2", "+ AICSD", "70.03 ± 0.13"):
        assert text in html, text
    intro = (built_book / "book" / "intro.html").read_text()
    assert "+2.53" in intro and "smoke" in intro
