"""Execute every notebook in reading order with papermill: ``make reproduce`` calls this.

    python -m aicsd.study.reproduce [--profile cpu] [--dataset synthetic] [--data-root DIR] [--device auto]

Each ``notebooks/NN_*.ipynb`` runs with the given parameters into ``book/_executed/`` (written to a
temporary file first, moved into place only when the whole notebook succeeded). Training runs are
cached in the run store, so after an interruption a second call re-executes the notebooks but not
the finished runs. On failure the partial notebook is kept as ``<name>.failed.ipynb`` and the
failing notebook, cell and error are printed: the cell's number as a reader counts it in the stored
notebook and in the failed copy (which has papermill's injected-parameters cell in addition). A
kernel that dies (a crash, ``os._exit``, the machine out of memory) is reported the same way.
Each executed notebook records where and how it ran in its metadata (``metadata.aicsd.provenance``:
commit, date, CPU or GPU, package versions, profile, dataset and its fingerprint, wall time; the
book shows it on the chapter); timings and the same fields go to ``book/_executed/timings.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json
from aicsd.paths import COMPARISON_DATA, COMPARISON_PAGE, EXECUTED, NOTEBOOKS, SUMMARY_FILE, TIMINGS_FILE
from aicsd.study.compare import compare, reference_record, write_report
from aicsd.study.provenance import provenance
from aicsd.study.record import reproduction_summary
from aicsd.study.record_files import record_name, summary_file



def notebooks_in_order(folder: Path = NOTEBOOKS) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` of ``folder``, in reading order."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks named NN_*.ipynb in {folder}")
    return found


def local_kernel(sockets: Path) -> Config:
    """Kernel settings for papermill: the kernel talks to this process over Unix sockets in
    ``sockets`` instead of TCP on localhost. Same execution, no network port, and no
    "Kernel is running over TCP without encryption" warning per notebook in the log users watch."""
    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})


def execute(notebook: Path, output_dir: Path, parameters: dict[str, object]) -> float:
    """Run one notebook into ``output_dir``; returns its wall time in seconds.

    Raises NotebookFailed when a cell raises or the kernel dies (the partial copy is kept as
    ``<name>.failed.ipynb``).
    """
    target = output_dir / notebook.name
    partial = output_dir / f"{notebook.stem}.partial.ipynb"
    failed = output_dir / f"{notebook.stem}.failed.ipynb"
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="aicsd-kernel-") as sockets:
            papermill.execute_notebook(
                str(notebook),
                str(partial),
                parameters=parameters,
                progress_bar=False,
                cwd=str(notebook.parent),
                config=local_kernel(Path(sockets)),
            )
    except Exception as error:  # a cell's exception, or the kernel's death (nbclient's DeadKernelError)
        if not partial.exists():
            raise
        os.replace(partial, failed)
        raise NotebookFailed(notebook, failed, error) from None
    hide_default_parameters(partial)
    wall_s = time.perf_counter() - start
    record_provenance(partial, {**provenance(parameters), "date": _now(), "wall_s": round(wall_s, 1)})
    os.replace(partial, target)
    failed.unlink(missing_ok=True)
    return wall_s


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


PROVENANCE_KEY = ("aicsd", "provenance")
"""Where :func:`record_provenance` puts the record in an executed notebook's metadata."""


def record_provenance(path: Path, fields: dict[str, object]) -> None:
    """Store ``fields`` in the metadata of the executed notebook ``path`` (``metadata.aicsd.provenance``)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.setdefault(PROVENANCE_KEY[0], {})[PROVENANCE_KEY[1]] = fields
    nbformat.write(notebook, path)


def hide_default_parameters(path: Path) -> None:
    """Tag the stored defaults cell ``remove-cell`` when papermill injected the values used, so the
    book shows only the parameters the notebook actually ran with."""
    notebook = nbformat.read(path, as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    if any("injected-parameters" in t for t in tags):
        for cell, cell_tags in zip(notebook.cells, tags):
            if "parameters" in cell_tags and "remove-cell" not in cell_tags:
                cell.metadata["tags"] = [*cell_tags, "remove-cell"]
        nbformat.write(notebook, path)


_ADDED_TAGS = ("injected-parameters", "papermill-error-cell-tag")
"""Tags of the cells papermill adds to an executed copy: the parameters it ran with, error banners."""


def failed_cell(executed: Path) -> tuple[int, int, str] | None:
    """Where the execution in ``executed`` stopped: ``(number in the stored notebook, number in the
    executed copy, first source line)``, numbers counted from 1 over all cells as a reader sees them.

    The cell is the last one that started (papermill's ``start_time``): the one that raised, or
    that was running when the kernel died. ``None`` when no cell started.
    """
    cells = nbformat.read(executed, as_version=4).cells
    started = [i for i, cell in enumerate(cells) if cell.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return None
    index = started[-1]
    added = sum(any(tag in cell.metadata.get("tags", []) for tag in _ADDED_TAGS) for cell in cells[:index])
    source = cells[index].source.strip().splitlines()
    return index + 1 - added, index + 1, source[0] if source else ""


class NotebookFailed(RuntimeError):
    """A notebook raised or its kernel died: names the notebook, the cell (numbered as in the
    stored notebook and in the failed copy) and the error, and where the failed copy is."""

    def __init__(self, notebook: Path, failed: Path, error: Exception) -> None:
        where = failed_cell(failed)
        if isinstance(error, PapermillExecutionError):
            what = f"{error.ename}: {error.evalue}"
        else:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            what = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
            if "DeadKernel" in type(error).__name__:
                what = f"the kernel died ({what}): a crash, os._exit, or the machine out of memory"
        if where is None:
            place, line = "before its first cell", ""
        else:
            stored, executed, first = where
            place = f"in cell {stored} of {notebook} (cell {executed} of the failed copy)"
            line = f"  {first}\n"
        super().__init__(
            f"{notebook.name} failed {place}:\n{line}  {what}\n"
            f"The executed part is in {failed}; fix the cause and run again: finished training runs are kept."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="smoke | cpu | paper (default cpu)")
    parser.add_argument("--dataset", default="synthetic", help="synthetic | voc | cityscapes | camvid")
    parser.add_argument("--data-root", default=None, help="dataset root (default data/<dataset>)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--output", type=Path, default=EXECUTED, help="folder for the executed notebooks")
    parser.add_argument("--only", nargs="*", default=None, help="run only these notebooks (file names)")
    args = parser.parse_args(argv)

    parameters = {"profile": args.profile, "dataset": args.dataset, "data_root": args.data_root, "device": args.device}
    notebooks = notebooks_in_order()
    if args.only:
        unknown = sorted(set(args.only) - {p.name for p in notebooks})
        if unknown:
            parser.error(f"unknown notebooks {unknown}; valid: {', '.join(p.name for p in notebooks)}")
        notebooks = [p for p in notebooks if p.name in args.only]
    args.output.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    total_start = time.perf_counter()
    for index, notebook in enumerate(notebooks, start=1):
        print(f"[{index}/{len(notebooks)}] {notebook.name} (profile={args.profile}, dataset={args.dataset}) ...", flush=True)
        try:
            timings[notebook.name] = execute(notebook, args.output, parameters)
        except NotebookFailed as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"interrupted in {notebook.name}; run again to resume: finished training runs are kept", file=sys.stderr)
            return 130
        print(f"    done in {timings[notebook.name]:.0f} s", flush=True)
    record = {
        **parameters,
        "notebooks_s": timings,
        "total_s": time.perf_counter() - total_start,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "date": _now(),
        "provenance": provenance(parameters),
    }
    atomic_write_json(args.output / TIMINGS_FILE, record)
    print(f"all {len(notebooks)} notebooks executed in {record['total_s']:.0f} s -> {args.output}")
    if not args.only:
        try:
            check_against_reference(parameters, record, args.output)
        except FileNotFoundError as missing:
            print(
                f"FAILED: every notebook ran, but the summary record could not be built: {missing}\n"
                "Run make reproduce again: it trains what is missing and reuses the finished runs.",
                file=sys.stderr,
            )
            return 1
    return 0


def check_against_reference(parameters: dict[str, object], timings: dict[str, object], output: Path) -> None:
    """Write the reproduction's summary record (``summary.json``) into ``output`` and compare it
    with the committed reference of the same profile and dataset (:mod:`aicsd.study.compare`):
    prints the verdict and writes ``comparison.md`` and ``comparison.json``, or a page saying that
    no reference exists for this profile and dataset."""
    profile, dataset = str(parameters["profile"]), str(parameters["dataset"])
    data_root = None if parameters["data_root"] is None else str(parameters["data_root"])
    summary = reproduction_summary(profile, dataset, data_root, timings, device=str(parameters["device"]))
    atomic_write_json(output / SUMMARY_FILE, summary)
    reference = reference_record(profile, dataset)
    if reference is None:
        page = (
            "# Comparison with the reference reproduction\n\n"
            f"No reference record is committed for the {profile} profile on {dataset} "
            f"(`benchmarks/results/{summary_file(record_name(profile, dataset))}`), so this reproduction is not compared. "
            f"Its own summary record is `{output.name}/{SUMMARY_FILE}`.\n"
        )
        atomic_write_bytes(output / COMPARISON_PAGE, page.encode())
        (output / COMPARISON_DATA).unlink(missing_ok=True)
        print(f"no reference record for {profile} on {dataset}: nothing to compare with")
        return
    comparison = compare(summary, reference)
    path = write_report(comparison, output)
    print(f"against the reference: {comparison.line()} -> {path}")


if __name__ == "__main__":
    raise SystemExit(main())
