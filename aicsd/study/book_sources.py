"""The book's chapters, from the reproduction that exists: ``make book`` runs this before Sphinx.

    python -m aicsd.study.book_sources            # fill book/_chapters/ (what `make book` does first)
    python -m aicsd.study.book_sources --freeze   # book/_executed/ -> book/reference/ (`make reference`)
    python -m aicsd.study.book_sources --freeze --chapter NN_name.ipynb   # add one new chapter to it

The book is built from ``book/_chapters/`` (git-ignored), filled afresh on every call: for each
chapter ``NN_name.ipynb`` of ``notebooks/``, the reader's own reproduction ``book/_executed/NN_name.ipynb``
when ``make reproduce`` wrote it, else the reference reproduction committed in ``book/reference/``.
Into each chapter, after its title, goes one line saying where it comes from and how it ran (the
``metadata.aicsd.provenance`` that :func:`aicsd.study.reproduce.execute` records). Two generated
pages join them: ``status.md`` (a row per chapter and the package versions) and ``comparison.md``
(the reproduction's comparison with the reference, when one was written). A chapter in neither
folder stops the build with one line saying what to run.

``--freeze`` makes the reference from a complete ``book/_executed/``: each notebook without what
changes from one identical reproduction to the next (nbclient's message timestamps, absolute paths
of the checkout, stderr, widget state) and with its PNGs re-encoded losslessly at their smallest,
written with sorted keys; it refuses a mixed reproduction or a reference over ``LIMIT_BYTES``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from aicsd.paths import CHAPTERS, COMPARISON_PAGE, EXECUTED, NOTEBOOKS, REFERENCE, REPO_ROOT, TIMINGS_FILE

__all__ = [
    "Chapter",
    "LIMIT_BYTES",
    "MissingChapters",
    "assemble",
    "chapter_names",
    "choose",
    "comparison_page",
    "freeze",
    "freeze_chapter",
    "frozen",
    "main",
    "provenance",
    "provenance_line",
    "status_page",
    "with_provenance",
]

LIMIT_BYTES = 15 * 2**20
"""The most the committed reference may weigh (notebooks and records together)."""
RECORDS = (TIMINGS_FILE, COMPARISON_PAGE)
"""The reproduction's records that travel with its chapters (each when present)."""
YOURS, SHIPPED = "yours", "reference"
SOURCE_TEXT = {
    YOURS: "your reproduction, `book/_executed/`",
    SHIPPED: "the reference reproduction shipped with the repository, `book/reference/`",
}
BOOK_PACKAGES = ("python", "torch", "torchvision", "numpy", "pillow", "myst-nb", "jupyter-book")
"""The versions the status page lists."""
PROVENANCE_TAG = "aicsd-provenance"


class MissingChapters(RuntimeError):
    """Chapters that neither the reader's reproduction nor the reference holds (one line)."""


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book: its file name, the executed notebook it comes from and which
    reproduction that is (``"yours"`` or ``"reference"``)."""

    name: str
    source: Path
    origin: str


def chapter_names(notebooks: Path = NOTEBOOKS) -> list[str]:
    """The chapters' file names ``NN_name.ipynb``, in reading order."""
    from aicsd.study.reproduce import notebooks_in_order

    return [path.name for path in notebooks_in_order(notebooks)]


def choose(names: list[str], executed: Path = EXECUTED, reference: Path = REFERENCE) -> list[Chapter]:
    """For each chapter, the reader's executed notebook when it exists, else the reference's.

    Raises MissingChapters, one line naming the chapters and what to run, when some are in neither.
    """
    chapters, missing = [], []
    for name in names:
        if (executed / name).is_file():
            chapters.append(Chapter(name, executed / name, YOURS))
        elif (reference / name).is_file():
            chapters.append(Chapter(name, reference / name, SHIPPED))
        else:
            missing.append(name)
    if missing:
        which = "any chapter" if len(missing) == len(names) else ", ".join(Path(name).stem for name in missing)
        only = "" if len(missing) == len(names) else f" ONLY=\"{' '.join(missing)}\""
        raise MissingChapters(
            f"no executed notebook for {which} in {_shown(executed)}/ or {_shown(reference)}/: "
            f"run `git checkout {_shown(reference)}` to restore the shipped reference, "
            f"or `make reproduce{only}` to execute your own"
        )
    return chapters


def provenance(notebook: dict[str, Any]) -> dict[str, Any]:
    """The record :func:`aicsd.study.reproduce.execute` left in ``notebook``'s metadata; for a notebook
    executed before there was one, what papermill's metadata says (profile, dataset, date, wall time)."""
    meta = notebook.get("metadata", {})
    record = dict(meta.get("aicsd", {}).get("provenance", {}))
    papermill = meta.get("papermill", {})
    parameters = papermill.get("parameters", {})
    record.setdefault("profile", parameters.get("profile"))
    record.setdefault("dataset", parameters.get("dataset"))
    record.setdefault("date", papermill.get("end_time"))
    record.setdefault("wall_s", papermill.get("duration"))
    return record


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "unknown"
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _date(text: Any, zone: str = " UTC") -> str:
    if not text:
        return "unknown"
    try:
        return datetime.fromisoformat(str(text)).strftime("%Y-%m-%d %H:%M") + zone
    except ValueError:
        return str(text)


def _commit(record: dict[str, Any]) -> str:
    commit = record.get("commit")
    if not commit:
        return "unknown"
    return f"`{commit[:10]}`" + (" (with uncommitted changes)" if record.get("dirty") else "")


def _machine(record: dict[str, Any]) -> str:
    if record.get("gpu"):
        return str(record["gpu"])
    if record.get("cpu"):
        threads = record.get("threads")
        return f"{record['cpu']}, {threads} threads" if threads else str(record["cpu"])
    return "unknown"


def _data(record: dict[str, Any], short: bool = False) -> str:
    dataset = f"`{record['dataset']}`" if record.get("dataset") else "unknown"
    fingerprint = record.get("data_fingerprint")
    if short:
        return f"{dataset} ({fingerprint[:12]})" if fingerprint else dataset
    return f"{dataset} (data fingerprint `{fingerprint[:12]}`)" if fingerprint else dataset


def _torch(record: dict[str, Any]) -> str:
    version = record.get("packages", {}).get("torch")
    return f"torch {version}" if version else "torch unknown"


def provenance_line(record: dict[str, Any], origin: str) -> str:
    """The one line of Markdown a chapter shows under its title."""
    profile = f"`{record['profile']}`" if record.get("profile") else "unknown"
    parts = [
        f"commit {_commit(record)}",
        _date(record.get("date")),
        _machine(record),
        _torch(record),
        f"profile {profile}",
        f"dataset {_data(record)}",
        f"wall time {_duration(record.get('wall_s'))}",
    ]
    return f"*Executed by {SOURCE_TEXT[origin]}:* " + " · ".join(parts) + ". ([Reproduction status](status.md))"


def _title(notebook: dict[str, Any], fallback: str) -> str:
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _text(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def with_provenance(notebook: dict[str, Any], origin: str) -> dict[str, Any]:
    """``notebook`` with its provenance line as a Markdown cell after the title cell (the first cell
    holding a ``# `` heading; first of all when there is none)."""
    cells = notebook.get("cells", [])
    title = next(
        (i for i, cell in enumerate(cells) if cell.get("cell_type") == "markdown" and any(l.startswith("# ") for l in _text(cell.get("source", "")).splitlines())),
        -1,
    )
    cell: dict[str, Any] = {"cell_type": "markdown", "metadata": {"tags": [PROVENANCE_TAG]}, "source": provenance_line(provenance(notebook), origin)}
    if any("id" in c for c in cells):
        cell["id"] = PROVENANCE_TAG
    return {**notebook, "cells": [*cells[: title + 1], cell, *cells[title + 1 :]]}


def _chapters(count: int) -> str:
    return f"{count} chapter" if count == 1 else f"{count} chapters"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _version(package: str) -> str:
    if package == "python":
        return sys.version.split()[0]
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def status_page(rows: list[tuple[Chapter, str, dict[str, Any]]]) -> str:
    """The "Reproduction status" page: one row per (chapter, title, provenance record), then the
    package versions the chapters ran with and those that built this book."""
    counts = {origin: sum(chapter.origin == origin for chapter, _, _ in rows) for origin in (YOURS, SHIPPED)}
    if not counts[SHIPPED]:
        summary = "Every chapter of this book comes from **your reproduction** (`book/_executed/`)."
    elif not counts[YOURS]:
        summary = (
            "Every chapter of this book comes from the **reference reproduction shipped with the repository** "
            "(`book/reference/`): after `make reproduce`, `make book` shows your own instead."
        )
    else:
        summary = (
            f"This book shows {_chapters(counts[YOURS])} from **your reproduction** (`book/_executed/`) and "
            f"{_chapters(counts[SHIPPED])} from the **reference reproduction shipped with the repository** (`book/reference/`)."
        )
    lines = [
        "# Reproduction status",
        "",
        summary,
        "Each chapter says the same under its title; `make book` picks, chapter by chapter, your executed",
        "notebook when `make reproduce` wrote one and the reference otherwise, and runs no notebook itself.",
        "",
        "| chapter | source | commit | date (UTC) | machine | profile, dataset (fingerprint) | wall time |",
        "|:--|:--|:--|:--|:--|:--|--:|",
    ]
    total = 0.0
    for chapter, title, record in rows:
        wall = record.get("wall_s")
        total += wall if isinstance(wall, (int, float)) else 0.0
        source = "yours" if chapter.origin == YOURS else "reference"
        lines.append(
            "| "
            + " | ".join(
                _cell(value)
                for value in (
                    f"[{title}]({Path(chapter.name).stem}.ipynb)",
                    source,
                    _commit(record),
                    _date(record.get("date"), zone=""),
                    _machine(record),
                    (f"`{record['profile']}`" if record.get("profile") else "unknown") + ", " + _data(record, short=True),
                    _duration(wall),
                )
            )
            + " |"
        )
    lines += [
        "",
        f"The chapters' wall times add up to {_duration(total)} (training runs that one chapter finished are "
        "reused by the next, so a chapter's time depends on which ran before it).",
        "",
        "## Package versions",
        "",
        "| package | the chapters ran with | this book was built with |",
        "|:--|:--|:--|",
    ]
    for package in BOOK_PACKAGES:
        used = sorted(
            {
                str(record.get("python") if package == "python" else record.get("packages", {}).get(package))
                for _, _, record in rows
                if (record.get("python") if package == "python" else record.get("packages", {}).get(package))
            }
        )
        ran = ", ".join(used) if used else ("not recorded" if package in {"python", "torch", "torchvision", "numpy", "pillow"} else "not used to run them")
        lines.append(f"| {package} | {ran} | {_version(package)} |")
    return "\n".join(lines) + "\n"


COMPARISON_TITLE = "# Comparison with the reference"


def comparison_page(executed: Path = EXECUTED, reference: Path = REFERENCE) -> str:
    """The comparison page: ``comparison.md`` of your reproduction, else of the reference, else a
    page saying that none was run and how to make one."""
    for folder, origin in ((executed, YOURS), (reference, SHIPPED)):
        path = folder / COMPARISON_PAGE
        if path.is_file():
            text = path.read_text()
            head = "" if text.lstrip().startswith("# ") else COMPARISON_TITLE + "\n\n"
            note = f"*Written by {SOURCE_TEXT[origin]} (`{_shown(path)}`).*\n\n"
            if head:
                return head + note + text
            title, _, rest = text.lstrip().partition("\n")
            return title + "\n\n" + note + rest.lstrip("\n")
    return (
        f"{COMPARISON_TITLE}\n\n"
        "No comparison was run: neither `book/_executed/comparison.md` nor `book/reference/comparison.md` exists.\n"
        "`make reproduce` ends by comparing its records with the reference reproduction's, cell by cell, and\n"
        "writes that report to `book/_executed/comparison.md`; `make book` then shows it here.\n"
    )


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _json(notebook: dict[str, Any]) -> str:
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _sync(out: Path, files: dict[str, str]) -> None:
    """Make ``out`` hold exactly ``files`` (name -> text), rewriting only the files that changed, so
    that Sphinx rereads only those on the next build."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.name not in files:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for name, text in files.items():
        path = out / name
        if not path.is_file() or path.read_text() != text:
            partial = out / f".{name}.partial"
            partial.write_text(text)
            os.replace(partial, path)


def assemble(
    executed: Path = EXECUTED, reference: Path = REFERENCE, out: Path = CHAPTERS, notebooks: Path = NOTEBOOKS
) -> list[Chapter]:
    """Make ``out`` hold the book's chapters and generated pages (see the module docstring); returns
    the chapters. Raises MissingChapters before touching ``out`` when a chapter is in neither folder.
    """
    chapters = choose(chapter_names(notebooks), executed, reference)
    files, rows = {}, []
    for chapter in chapters:
        notebook = json.loads(chapter.source.read_text())
        rows.append((chapter, _title(notebook, Path(chapter.name).stem), provenance(notebook)))
        files[chapter.name] = _json(with_provenance(notebook, chapter.origin))
    files["status.md"] = status_page(rows)
    files[COMPARISON_PAGE] = comparison_page(executed, reference)
    _sync(out, files)
    return chapters


def _png_smallest(data: str) -> str:
    """A base64 PNG re-encoded losslessly with the smallest zlib setting, when that is smaller."""
    from PIL import Image

    raw = base64.b64decode(data)
    image = Image.open(io.BytesIO(raw))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    smaller = buffer.getvalue()
    return base64.b64encode(smaller).decode() + "\n" if len(smaller) < len(raw) else data


def _without_checkout(text: str) -> str:
    return text.replace(str(REPO_ROOT) + os.sep, "").replace(str(REPO_ROOT), ".")


def _strings_without_checkout(value: Any) -> Any:
    """``value`` with the checkout's path taken out of every string but images' data."""
    if isinstance(value, str):
        return _without_checkout(value)
    if isinstance(value, list):
        return [_strings_without_checkout(item) for item in value]
    if isinstance(value, dict):
        return {k: v if k.startswith("image/") else _strings_without_checkout(v) for k, v in value.items()}
    return value


def frozen(notebook: dict[str, Any]) -> dict[str, Any]:
    """``notebook`` as the reference keeps it: the same for two identical reproductions wherever the
    checkout lies (see the module docstring). Papermill's per-cell start, end and duration stay."""
    notebook = _strings_without_checkout(notebook)
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                continue  # warnings and progress bars; the book removes them anyway (nb_output_stderr)
            data = output.get("data")
            if data is not None:
                for key in [k for k in data if k.startswith("application/vnd.jupyter.widget")]:
                    del data[key]
                if "image/png" in data:
                    data["image/png"] = _png_smallest(_text(data["image/png"]))
            outputs.append(output)
        cell["outputs"] = outputs
    return notebook


def _reproduction_of(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("profile"), record.get("dataset")


def freeze(
    executed: Path = EXECUTED, reference: Path = REFERENCE, notebooks: Path = NOTEBOOKS, limit: int = LIMIT_BYTES
) -> int:
    """Replace ``reference`` with the complete reproduction in ``executed`` (see the module docstring);
    returns its size in bytes. Raises MissingChapters when a chapter was not executed, ValueError
    when the chapters ran with different profiles or datasets or the result exceeds ``limit``
    (``reference`` is then left as it was)."""
    names = chapter_names(notebooks)
    missing = [name for name in names if not (executed / name).is_file()]
    if missing:
        raise MissingChapters(
            f"{_shown(executed)}/ lacks {', '.join(missing)}: the reference is a whole reproduction, run `make reproduce` first"
        )
    partial = reference.with_name(reference.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    kinds = {}
    for name in names:
        notebook = json.loads((executed / name).read_text())
        kinds[name] = _reproduction_of(provenance(notebook))
        (partial / name).write_text(_json(frozen(notebook)))
    if len(set(kinds.values())) > 1:
        shutil.rmtree(partial)
        raise ValueError(f"the chapters of {_shown(executed)}/ come from different reproductions (profile, dataset): {kinds}")
    for record in RECORDS:
        if (executed / record).is_file():
            (partial / record).write_text(_without_checkout((executed / record).read_text()))
    size = sum(path.stat().st_size for path in partial.iterdir())
    if size > limit:
        shutil.rmtree(partial)
        raise ValueError(f"the reference would take {size / 2**20:.1f} MiB, more than {limit / 2**20:.0f} MiB: shrink the figures (dpi) first")
    shutil.rmtree(reference, ignore_errors=True)
    os.replace(partial, reference)
    return size


def freeze_chapter(name: str, executed: Path = EXECUTED, reference: Path = REFERENCE, limit: int = LIMIT_BYTES) -> int:
    """Add (or replace) the one chapter ``name`` of ``executed`` in the committed ``reference``,
    frozen as :func:`freeze` freezes each chapter, without re-running the whole reproduction: for a
    chapter new to the book. Its provenance line keeps its own commit and date. Returns the
    reference's size in bytes. Raises MissingChapters when ``executed`` lacks the chapter, ValueError
    when it ran with another profile or dataset than the reference's chapters, or when the reference
    would exceed ``limit`` (``reference`` is then left as it was)."""
    source = executed / name
    if not source.is_file():
        raise MissingChapters(f"{_shown(source)} is missing: run `make reproduce ONLY={name}` first")
    notebook = json.loads(source.read_text())
    kind = _reproduction_of(provenance(notebook))
    others = {_reproduction_of(provenance(json.loads(path.read_text()))) for path in reference.glob("[0-9][0-9]_*.ipynb") if path.name != name}
    if others and others != {kind}:
        raise ValueError(f"{_shown(source)} ran as {kind} (profile, dataset); the reference's chapters ran as {sorted(others, key=str)}")
    text = _json(frozen(notebook))
    size = sum(path.stat().st_size for path in reference.iterdir() if path.name != name) + len(text.encode())
    if size > limit:
        raise ValueError(f"the reference would take {size / 2**20:.1f} MiB, more than {limit / 2**20:.0f} MiB: shrink the figures (dpi) first")
    partial = reference / f".{name}.partial"
    partial.write_text(text)
    os.replace(partial, reference / name)
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--freeze", action="store_true", help="copy book/_executed/ into book/reference/ (the shipped reference)")
    parser.add_argument("--chapter", default=None, help="with --freeze: add only this chapter (NN_name.ipynb) to book/reference/")
    parser.add_argument("--executed", type=Path, default=EXECUTED, help="your executed chapters (default book/_executed)")
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="the reference's chapters (default book/reference)")
    parser.add_argument("--out", type=Path, default=CHAPTERS, help="where the book's chapters go (default book/_chapters)")
    args = parser.parse_args(argv)
    try:
        if args.freeze and args.chapter:
            size = freeze_chapter(args.chapter, args.executed, args.reference)
            print(f"{_shown(args.reference)}/{args.chapter}: frozen from {_shown(args.executed)}/; the reference takes {size / 2**20:.1f} MiB")
            return 0
        if args.freeze:
            size = freeze(args.executed, args.reference)
            profile, dataset = _reproduction_of(provenance(json.loads(next(args.reference.glob("[0-9][0-9]_*.ipynb")).read_text())))
            print(f"{_shown(args.reference)}/: the reproduction of {_shown(args.executed)}/ (profile {profile}, dataset {dataset}), {size / 2**20:.1f} MiB")
            return 0
        chapters = assemble(args.executed, args.reference, args.out)
    except (MissingChapters, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    yours = sum(chapter.origin == YOURS for chapter in chapters)
    print(f"{_shown(args.out)}/: {_chapters(yours)} from your reproduction, {_chapters(len(chapters) - yours)} from the reference")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
