"""The book's chapters: yours or the reference's, each with its provenance line; the frozen reference."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from aicsd.paths import DATA_ROOT, REPO_ROOT
from aicsd.study import book_sources, reproduce

NAMES = ("00_setup.ipynb", "01_loss.ipynb")
RECORD = {
    "commit": "0123456789abcdef",
    "dirty": False,
    "cpu": "Test CPU 3000",
    "threads": 2,
    "gpu": None,
    "python": "3.11.9",
    "packages": {"torch": "2.14.1", "numpy": "2.0.0"},
    "profile": "cpu",
    "dataset": "synthetic",
    "data_root": "data/synthetic",
    "data_fingerprint": "f" * 64,
    "date": "2026-12-06T21:00:00+00:00",
    "wall_s": 125.0,
}


def _png(width: int = 40) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, 20), (200, 30, 30)).save(buffer, format="PNG", compress_level=0)
    return base64.b64encode(buffer.getvalue()).decode()


def _executed(path: Path, title: str, **record) -> Path:
    notebook = new_notebook()
    code = new_code_cell("plot()")
    code.metadata["execution"] = {"iopub.execute_input": "2026-12-06T21:00:00.1Z"}
    code.metadata["papermill"] = {"duration": 1.5}
    code.outputs = [
        new_output("stream", name="stdout", text=f"read {REPO_ROOT}/runs/x\n"),
        new_output("stream", name="stderr", text="a warning\n"),
        new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}),
    ]
    notebook.cells = [new_markdown_cell(f"# {title}\n\nWhat it shows."), code, new_markdown_cell("Takeaway.")]
    notebook.metadata["papermill"] = {"input_path": f"{REPO_ROOT}/notebooks/{path.name}", "parameters": {"profile": "cpu"}}
    notebook.metadata["aicsd"] = {"provenance": {**RECORD, **record}}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def book(tmp_path) -> dict[str, Path]:
    folders = {name: tmp_path / name for name in ("notebooks", "executed", "reference", "chapters")}
    folders["notebooks"].mkdir()
    for name in NAMES:
        nbformat.write(new_notebook(cells=[new_markdown_cell("# stored")]), folders["notebooks"] / name)
        _executed(folders["reference"] / name, f"Reference {name}")
    return folders


def _assemble(book: dict[str, Path]) -> list[book_sources.Chapter]:
    return book_sources.assemble(book["executed"], book["reference"], book["chapters"], book["notebooks"])


def test_each_chapter_comes_from_your_reproduction_when_there_else_the_reference(book):
    _executed(book["executed"] / NAMES[1], "Yours", commit="fedcba9876543210", gpu="NVIDIA H100")
    chapters = _assemble(book)
    assert [(c.name, c.origin) for c in chapters] == [(NAMES[0], "reference"), (NAMES[1], "yours")]
    assert sorted(p.name for p in book["chapters"].iterdir()) == sorted([*NAMES, "status.md", "comparison.md"])

    for name in NAMES:
        nbformat.validate(nbformat.read(book["chapters"] / name, as_version=4))
    first = nbformat.read(book["chapters"] / NAMES[0], as_version=4).cells
    assert first[0].source.startswith("# Reference") and first[1].metadata.tags == ["aicsd-provenance"]
    line = first[1].source
    assert "\n" not in line and "reference reproduction shipped with the repository" in line
    for text in ("`0123456789`", "2026-12-06 21:00 UTC", "Test CPU 3000, 2 threads", "torch 2.14.1", "profile `cpu`", "`synthetic`", "`ffffffffffff`", "2 min 05 s"):
        assert text in line, text
    second = nbformat.read(book["chapters"] / NAMES[1], as_version=4).cells[1].source
    assert "your reproduction, `book/_executed/`" in second and "NVIDIA H100" in second and "`fedcba9876`" in second

    status = (book["chapters"] / "status.md").read_text()
    assert status.startswith("# Reproduction status\n")
    rows = [line for line in status.splitlines() if line.startswith("| [")]
    assert len(rows) == 2 and "reference" in rows[0] and "yours" in rows[1] and "(01_loss.ipynb)" in rows[1]
    assert "| torch | 2.14.1 |" in status and "| jupyter-book |" in status and "| myst-nb |" in status


def test_the_comparison_page_is_yours_else_the_references_else_says_how_to_make_one(book):
    _assemble(book)
    page = (book["chapters"] / "comparison.md").read_text()
    assert page.startswith("# Comparison with the reference\n") and "No comparison was run" in page and "`make reproduce`" in page
    (book["reference"] / "comparison.md").write_text("# Against the reference\n\nAll cells bit-identical.\n")
    _assemble(book)
    page = (book["chapters"] / "comparison.md").read_text()
    assert page.startswith("# Against the reference\n") and "shipped with the repository" in page and "bit-identical" in page
    book["executed"].mkdir()
    (book["executed"] / "comparison.md").write_text("3 cells differ.\n")
    _assemble(book)
    page = (book["chapters"] / "comparison.md").read_text()
    assert page.startswith("# Comparison with the reference\n") and "your reproduction" in page and "3 cells differ." in page


def test_assembling_again_rewrites_only_what_changed_and_drops_what_is_gone(book):
    _assemble(book)
    (book["chapters"] / "stale.ipynb").write_text("{}")
    os.utime(book["chapters"] / NAMES[0], ns=(1, 1))
    _assemble(book)
    assert not (book["chapters"] / "stale.ipynb").exists()
    assert (book["chapters"] / NAMES[0]).stat().st_mtime_ns == 1


def test_a_chapter_in_neither_folder_stops_with_one_line_saying_what_to_run(book, capsys, monkeypatch):
    (book["reference"] / NAMES[1]).unlink()
    with pytest.raises(book_sources.MissingChapters) as error:
        _assemble(book)
    message = str(error.value)
    assert "\n" not in message and "01_loss" in message and "00_setup" not in message
    assert 'make reproduce ONLY="01_loss.ipynb"' in message and "git checkout" in message
    assert not book["chapters"].exists()

    monkeypatch.setattr(book_sources, "chapter_names", lambda notebooks=None: list(NAMES))
    (book["reference"] / NAMES[0]).unlink()
    argv = ["--executed", str(book["executed"]), "--reference", str(book["reference"]), "--out", str(book["chapters"])]
    assert book_sources.main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "`make reproduce`" in err and "ONLY" not in err


def test_freezing_keeps_what_a_reader_sees_and_drops_what_differs_between_identical_runs(book):
    for name in NAMES:
        _executed(book["executed"] / name, f"Chapter {name}")
    (book["executed"] / "timings.json").write_text(json.dumps({"total_s": 1.0}))
    (book["executed"] / "03_other.partial.ipynb").write_text("{}")
    size = book_sources.freeze(book["executed"], book["reference"], book["notebooks"])
    frozen = {p.name: p.read_bytes() for p in book["reference"].iterdir()}
    assert sorted(frozen) == sorted([*NAMES, "timings.json"]) and size == sum(map(len, frozen.values()))
    text = frozen[NAMES[0]].decode()
    assert str(REPO_ROOT) not in text and "read runs/x" in text and "a warning" not in text and "iopub" not in text
    notebook = nbformat.reads(text, as_version=4)
    (code,) = [c for c in notebook.cells if c.cell_type == "code"]
    assert code.metadata["papermill"] == {"duration": 1.5}
    png = base64.b64decode(code.outputs[-1]["data"]["image/png"])
    assert len(png) < len(base64.b64decode(_png())) and Image.open(io.BytesIO(png)).size == (40, 20)
    assert Image.open(io.BytesIO(png)).convert("RGB").getpixel((3, 3)) == (200, 30, 30)

    book_sources.freeze(book["executed"], book["reference"], book["notebooks"])
    assert {p.name: p.read_bytes() for p in book["reference"].iterdir()} == frozen


def test_freezing_refuses_an_incomplete_mixed_or_oversized_reproduction(book):
    before = {p.name: p.read_bytes() for p in book["reference"].iterdir()}
    _executed(book["executed"] / NAMES[0], "One")
    with pytest.raises(book_sources.MissingChapters, match="01_loss.ipynb"):
        book_sources.freeze(book["executed"], book["reference"], book["notebooks"])
    _executed(book["executed"] / NAMES[1], "Two", profile="smoke")
    with pytest.raises(ValueError, match="different reproductions"):
        book_sources.freeze(book["executed"], book["reference"], book["notebooks"])
    _executed(book["executed"] / NAMES[1], "Two")
    with pytest.raises(ValueError, match="more than"):
        book_sources.freeze(book["executed"], book["reference"], book["notebooks"], limit=1000)
    assert {p.name: p.read_bytes() for p in book["reference"].iterdir()} == before
    assert not (book["reference"].parent / "reference.partial").exists()


def test_one_new_chapter_joins_the_reference_frozen_without_rerunning_the_others(book):
    for name in NAMES:
        _executed(book["executed"] / name, f"Chapter {name}")
    book_sources.freeze(book["executed"], book["reference"], book["notebooks"])
    before = {p.name: p.read_bytes() for p in book["reference"].iterdir()}
    new = "02_new.ipynb"
    with pytest.raises(book_sources.MissingChapters, match=f"ONLY={new}"):
        book_sources.freeze_chapter(new, book["executed"], book["reference"])
    _executed(book["executed"] / new, "New", profile="smoke")
    with pytest.raises(ValueError, match="smoke"):
        book_sources.freeze_chapter(new, book["executed"], book["reference"])
    _executed(book["executed"] / new, "New", commit="fedcba9876543210")
    with pytest.raises(ValueError, match="more than"):
        book_sources.freeze_chapter(new, book["executed"], book["reference"], limit=1000)
    assert {p.name: p.read_bytes() for p in book["reference"].iterdir()} == before
    size = book_sources.freeze_chapter(new, book["executed"], book["reference"])
    after = {p.name: p.read_bytes() for p in book["reference"].iterdir()}
    assert {name: after[name] for name in before} == before and size == sum(map(len, after.values()))
    added = json.loads(after[new])
    assert added == book_sources.frozen(json.loads((book["executed"] / new).read_text()))
    assert book_sources.provenance(added)["commit"] == "fedcba9876543210"


def test_an_executed_notebook_records_where_and_how_it_ran(tmp_path):
    source = tmp_path / "01_ok.ipynb"
    notebook = new_notebook(cells=[new_markdown_cell("# Ok"), new_code_cell("x = 1")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, source)
    output = tmp_path / "out"
    output.mkdir()
    wall = reproduce.execute(source, output, {"profile": "smoke", "dataset": "synthetic", "data_root": None, "device": "cpu"})
    record = nbformat.read(output / "01_ok.ipynb", as_version=4).metadata["aicsd"]["provenance"]
    assert record["profile"] == "smoke" and record["dataset"] == "synthetic"
    assert (REPO_ROOT / record["data_root"]).resolve() == (DATA_ROOT / "synthetic").resolve()  # relative to the checkout when inside it
    assert re.fullmatch(r"[0-9a-f]{64}", record["data_fingerprint"] or "")
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"] or "") and record["cpu"] and record["threads"] >= 1
    assert record["gpu"] is None and record["packages"]["torch"] and record["python"].startswith("3.")
    assert record["date"].endswith("+00:00") and 0 < record["wall_s"] <= wall + 0.1


def test_the_intro_cites_the_paper_as_the_bibliography_does():
    intro = (REPO_ROOT / "book" / "intro.md").read_text()
    (block,) = re.findall(r"```bibtex\n(.*?)```", intro, re.DOTALL)
    bibliography = (REPO_ROOT / "book" / "references.bib").read_text()
    entry = re.search(r"@article\{mansourian2023aicsd,.*?\n\}\n", bibliography, re.DOTALL).group(0)
    assert entry in block and "@misc{aicsdbook2026," in block and "2026" in block


def test_the_toc_lists_every_chapter_from_the_assembled_folder_and_the_generated_pages():
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assembled = sorted(f.removeprefix("book/_chapters/") for f in files if f.startswith("book/_chapters/"))
    expected = [Path(name).stem for name in book_sources.chapter_names()] + ["comparison", "status"]
    assert assembled == sorted(expected)
    assert not [f for f in files if "_executed" in f or "reference/" in f]


def test_the_committed_reference_is_whole_small_and_frozen():
    reference = REPO_ROOT / "book" / "reference"
    if not any(reference.glob("[0-9][0-9]_*.ipynb")):
        pytest.skip("no reference committed yet in book/reference (make reproduce && make reference)")
    names = book_sources.chapter_names()
    assert sorted(p.name for p in reference.glob("*.ipynb")) == sorted(names)
    assert sum(p.stat().st_size for p in reference.iterdir()) <= book_sources.LIMIT_BYTES
    for name in names:
        notebook = json.loads((reference / name).read_text())
        assert book_sources.frozen(notebook) == notebook, name
        record = book_sources.provenance(notebook)
        assert record["profile"] == "cpu" and record["dataset"] == "synthetic" and record.get("commit"), name
