"""Execute every notebook in reading order with papermill: ``make reproduce`` calls this.

    python -m aicsd.study.reproduce [--profile cpu] [--dataset synthetic] [--data-root DIR] [--device auto]

Each ``notebooks/NN_*.ipynb`` runs with the given parameters into ``book/_executed/`` (written to a
temporary file first, moved into place only when the whole notebook succeeded). Training runs are
cached in the run store, so after an interruption a second call re-executes the notebooks but not
the finished runs. On failure the partial notebook is kept as ``<name>.failed.ipynb`` and the
failing notebook, cell and error are printed. Timings go to ``book/_executed/timings.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from aicsd.paths import EXECUTED, NOTEBOOKS, REPO_ROOT



def notebooks_in_order(folder: Path = NOTEBOOKS) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` of ``folder``, in reading order."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks named NN_*.ipynb in {folder}")
    return found


def execute(notebook: Path, output_dir: Path, parameters: dict[str, object]) -> float:
    """Run one notebook into ``output_dir``; returns its wall time in seconds."""
    target = output_dir / notebook.name
    partial = output_dir / f"{notebook.stem}.partial.ipynb"
    failed = output_dir / f"{notebook.stem}.failed.ipynb"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook), str(partial), parameters=parameters, progress_bar=False, cwd=str(notebook.parent)
        )
    except PapermillExecutionError as error:
        os.replace(partial, failed)
        raise NotebookFailed(notebook, failed, error) from None
    hide_default_parameters(partial)
    os.replace(partial, target)
    failed.unlink(missing_ok=True)
    return time.perf_counter() - start


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


class NotebookFailed(RuntimeError):
    """A notebook raised: names the notebook, the cell and the error, and where the partial copy is."""

    def __init__(self, notebook: Path, partial: Path, error: PapermillExecutionError) -> None:
        source = error.source.strip().splitlines()
        first_line = source[0] if source else ""
        super().__init__(
            f"{notebook.name} failed in cell {error.cell_index} (execution count {error.exec_count}):\n"
            f"  {first_line}\n  {error.ename}: {error.evalue}\n"
            f"The executed part is in {partial}; fix the cause and run again: finished training runs are kept."
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
        print(f"    done in {timings[notebook.name]:.0f} s", flush=True)
    record = {
        **parameters,
        "notebooks_s": timings,
        "total_s": time.perf_counter() - total_start,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    partial_record = args.output / "timings.json.partial"
    partial_record.write_text(json.dumps(record, indent=2))
    os.replace(partial_record, args.output / "timings.json")
    print(f"all {len(notebooks)} notebooks executed in {record['total_s']:.0f} s -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
