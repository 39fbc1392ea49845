"""The run store: one API for a run's folder, ``<output_dir>/<kind>-<method>-<backbone>-<hash12>/``.

A run folder holds

- ``config.json``: the :class:`~aicsd.engine.config.RunConfig` fields (the resolved distillation
  with its effective weights included), written when the run starts;
- ``metrics.jsonl``: one JSON line per epoch (mean loss terms, lr, alpha, val metrics, wall time);
- ``checkpoint.pt``: the latest epoch's training state, replaced atomically every epoch;
- ``result.json``: written atomically at the end. Its presence marks the run as finished;
- ``evaluations/<split>-<mode>-<size>-<data fingerprint>.json``: later evaluations
  (``python -m aicsd evaluate``, :func:`aicsd.engine.evaluation.record_evaluation`), one per protocol and set of files.

Everything that reads a run goes through this module: the trainer, ``python -m aicsd runs`` and
``evaluate`` (:mod:`aicsd.engine.evaluation` scores a run's weights), :mod:`aicsd.results` and the book. Each file is parsed by :func:`read_store_file`,
which turns a torn or garbled file into a CorruptFileError naming it and saying what to do.
``config.json`` also records the data the run used (:func:`aicsd.engine.identity.run_data`).

The JSON files are strict JSON: a NaN metric (the IoU of a class absent from a split) is written
as ``null`` (:func:`aicsd.engine.checkpoint.strict_json`) and read back as NaN
(:func:`metrics_with_nan`); files written before, with a bare ``NaN``, read the same.

A process trains a run while holding :func:`run_lock` (``fcntl.flock`` on ``<run>/.lock``): a
second process on the same run waits, then finds the run finished. The OS releases the lock of a
process that dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch

from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json, load_checkpoint, strict_json
from aicsd.engine.config import RunConfig
from aicsd.engine.identity import run_data, run_id
from aicsd.errors import CorruptFileError
from aicsd.losses import MethodConfig

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "EVALUATIONS",
    "LOCK",
    "METRICS",
    "RESULT",
    "append_metrics",
    "discard_unstarted",
    "evaluation_name",
    "find_run",
    "finished_runs",
    "metrics_with_nan",
    "read_checkpoint",
    "read_config",
    "read_evaluations",
    "read_metrics",
    "read_result",
    "read_run_data",
    "read_store_file",
    "run_dir",
    "run_lock",
    "truncate_metrics",
    "write_config",
    "write_result",
]

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
EVALUATIONS = "evaluations"
LOCK = ".lock"

Run = RunConfig | str | Path


_METRIC_NAMES = ("pixel_accuracy", "mean_class_accuracy", "miou", "fwiou", "train_images_per_s")


def _is_metric(key: str) -> bool:
    return any(key == name or key.endswith(f"_{name}") for name in _METRIC_NAMES)


def metrics_with_nan(obj: Any) -> Any:
    """``obj`` as read from a strict JSON file of the store, with the NaNs its writer turned into
    ``null`` back as ``float("nan")``: the metrics (``miou``, ``val_miou`` ...) and every entry of a
    ``per_class_iou`` (list, or dict keyed by class name), in nested dicts and lists."""
    if isinstance(obj, list):
        return [metrics_with_nan(value) for value in obj]
    if not isinstance(obj, dict):
        return obj
    restored = {}
    for key, value in obj.items():
        if key.endswith("per_class_iou") and isinstance(value, list):
            value = [float("nan") if item is None else item for item in value]
        elif key.endswith("per_class_iou") and isinstance(value, dict):
            value = {name: float("nan") if item is None else item for name, item in value.items()}
        elif value is None and _is_metric(key):
            value = float("nan")
        else:
            value = metrics_with_nan(value)
        restored[key] = value
    return restored


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(strict_json(record), sort_keys=True, allow_nan=False) + "\n"


def run_dir(run: Run) -> Path:
    """Folder of a run: ``run`` is its config (the folder need not exist yet) or the folder itself."""
    return Path(run.output_dir) / run_id(run) if isinstance(run, RunConfig) else Path(run)


T = TypeVar("T")

_REMEDY = {
    CHECKPOINT: "delete it to train the run again from its first epoch, or delete the run folder {folder}",
    METRICS: "delete the run folder {folder} to train the run again",
    RESULT: "delete it and rerun: the result is computed again from the last checkpoint (or delete the run folder {folder})",
}
_DEFAULT_REMEDY = "delete the run folder {folder} to train the run again"


def read_store_file(path: Path, parse: Callable[[Path], T]) -> T:
    """``parse(path)`` for a file of a run folder: every reader of the store goes through here.

    Anything ``parse`` raises other than an OSError (a missing or unreadable file) means the file
    is corrupt: it becomes a CorruptFileError naming ``path``, the reason and what to do.
    """
    try:
        return parse(path)
    except OSError:
        raise
    except Exception as error:  # a torn or garbled file fails in whatever way its parser does
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if not isinstance(error, CorruptFileError):
            reason = f"{path} is corrupt ({type(error).__name__}: {reason})"
        finished = path.name != RESULT and (path.parent / RESULT).exists()
        remedy = (_DEFAULT_REMEDY if finished else _REMEDY.get(path.name, _DEFAULT_REMEDY)).format(folder=path.parent)
        raise CorruptFileError(path, f"{reason}; {remedy}") from None


def write_config(directory: Path, cfg: RunConfig) -> None:
    """Write ``config.json``: all fields (the execution-only ones too) and ``data``, the dataset's
    fingerprint and image counts (:func:`aicsd.engine.identity.run_data`)."""
    atomic_write_json(directory / CONFIG, {**dataclasses.asdict(cfg), "data": run_data(cfg).to_dict()})


def _parse_config(path: Path) -> RunConfig:
    fields = json.loads(path.read_text())
    fields.pop("data", None)
    fields["scale_range"] = tuple(fields["scale_range"])
    fields["distillation"] = MethodConfig.from_dict(fields["distillation"])
    return RunConfig(**fields)


def read_config(run: Run) -> RunConfig:
    """The :class:`RunConfig` stored in the run's ``config.json``."""
    path = run_dir(run) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {path.parent} is not a run directory")
    return read_store_file(path, _parse_config)


def append_metrics(directory: Path, record: dict[str, Any]) -> None:
    """Append one epoch's ``record`` as a JSON line to ``metrics.jsonl`` (one write, fsync'ed)."""
    line = _json_line(record).encode()
    fd = os.open(directory / METRICS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_metrics(path: Path) -> list[dict[str, Any]]:
    """The complete lines of ``metrics.jsonl``; a last line without its newline is torn (a write
    cut short by a kill) and left out; a complete line that is not an epoch record is corrupt."""
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1]: "" or the torn tail
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
                raise ValueError("not an epoch record")
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
        records.append(metrics_with_nan(record))
    return records


def read_metrics(run: Run) -> list[dict[str, Any]]:
    """All epoch records of ``metrics.jsonl`` (empty when the file does not exist).

    A torn last line (no newline: the process was killed while writing it) is left out; resuming
    the run removes it. Raises CorruptFileError naming the file and line for any other bad line.
    """
    path = run_dir(run) / METRICS
    if not path.is_file():
        return []
    return read_store_file(path, _parse_metrics)


def truncate_metrics(directory: Path, epochs_done: int) -> None:
    """Keep only the records of epochs ``< epochs_done`` (and drop a torn last line).

    The trainer calls it when it resumes, with the checkpoint's epochs or 0 without a checkpoint,
    so that every epoch it trains again appears once.
    """
    if not (directory / METRICS).exists():
        return
    kept = [record for record in read_metrics(directory) if record["epoch"] < epochs_done]
    text = "".join(_json_line(record) for record in kept)
    atomic_write_bytes(directory / METRICS, text.encode())


def _parse_result(path: Path) -> dict[str, Any]:
    result = json.loads(path.read_text())
    if not isinstance(result, dict) or "final" not in result:
        raise ValueError("not a run result")
    return metrics_with_nan(result)


def read_result(run: Run) -> dict[str, Any] | None:
    """The finished run's ``result.json``, or ``None`` when the run has not finished.

    The run's ``config.json`` is read too: a finished run whose config is corrupt raises the
    CorruptFileError naming it (a rerun of its training command must not report the run as done
    and leave the file broken for ``runs`` and the book to fail on).
    """
    directory = run_dir(run)
    path = directory / RESULT
    if not path.is_file():
        return None
    result = read_store_file(path, _parse_result)
    if (directory / CONFIG).is_file():
        read_store_file(directory / CONFIG, _parse_config)
    return result


def lacks_test_metrics(cfg: RunConfig, result: dict[str, Any]) -> bool:
    """Whether a finished run has a held-out ``test_split`` it has not been evaluated on yet
    (trained with ``evaluate_test=False``; :func:`aicsd.engine.fit.fit` adds it on request)."""
    return cfg.test_split is not None and "test" not in result


def _parse_checkpoint(path: Path, map_location: torch.device | str | None = "cpu") -> dict[str, Any]:
    state = load_checkpoint(path, map_location=map_location)
    missing = [key for key in ("model", "epoch") if key not in state]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint: no {', '.join(missing)}")
    return state


def read_checkpoint(run: Run, map_location: torch.device | str | None = "cpu") -> dict[str, Any]:
    """The training state in the run's ``checkpoint.pt`` (FileNotFoundError when there is none)."""
    path = run_dir(run) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train the run first")
    return read_store_file(path, lambda file: _parse_checkpoint(file, map_location))


def _announce(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _lock_holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


def _make_folder(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise PermissionError(
            f"cannot create the run folder {directory}: permission denied; choose a writable run store "
            "(--output-dir / output_dir)"
        ) from None


@contextmanager
def run_lock(directory: Path, *, announce: Callable[[str], None] = _announce) -> Iterator[None]:
    """Hold the lock of the run in ``directory`` (created if needed) for the block.

    When another process holds it, ``announce`` says which one, once, and the call waits until it
    ends (Ctrl-C stops waiting). The lock file holds the holder's process id.
    """
    path = directory / LOCK
    while True:
        _make_folder(directory)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:
            raise PermissionError(f"cannot write {path}: permission denied; choose a writable run store (--output-dir)") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                announce(f"run {directory.name} is being trained by {_lock_holder(path)}; waiting for it to finish")
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # the holder may have discarded the folder (a failed start) while this one waited
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if current:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def discard_unstarted(directory: Path) -> bool:
    """Remove the folder of a run that failed before its first checkpoint (call it holding :func:`run_lock`).

    A folder holding a checkpoint or a result, or files this module does not write, is kept.
    Returns whether the folder was removed.
    """
    if (directory / CHECKPOINT).exists() or (directory / RESULT).exists():
        return False
    for name in (CONFIG, METRICS, LOCK):
        (directory / name).unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        return False
    return True


def write_result(directory: Path, result: dict[str, Any]) -> None:
    """Write ``result.json`` atomically (marks the run finished)."""
    atomic_write_json(directory / RESULT, result)


def finished_runs(root: str | Path) -> list[Path]:
    """The folders of ``root`` holding a finished run, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"run store {root} does not exist; train some runs first (python -m aicsd ...)")
    return sorted(path.parent for path in root.glob(f"*/{RESULT}"))


def find_run(run: str | Path, root: str | Path) -> Path:
    """The folder of a run given as its folder (a path) or as its id in the run store ``root``.

    Raises FileNotFoundError naming both places when neither holds a ``config.json``.
    """
    path = Path(run)
    if (path / CONFIG).is_file():
        return path
    stored = Path(root) / str(run)
    if (stored / CONFIG).is_file():
        return stored
    raise FileNotFoundError(f"no run {run}: neither {path} nor {stored} holds a {CONFIG} (list runs: python -m aicsd runs --root {root})")


def evaluation_name(record: dict[str, Any]) -> str:
    """``<split>-<mode>-<size or "native">-<data fingerprint>.json``: one file per protocol and files."""
    size = record["eval_size"] if record["eval_mode"] == "released" else "native"
    return f"{record['split']}-{record['eval_mode']}-{size}-{record['data_fingerprint']}.json"


def read_evaluations(run: Run) -> list[dict[str, Any]]:
    """The stored evaluations of a run (:func:`aicsd.engine.evaluation.record_evaluation`), sorted by file name; empty if none."""
    folder = run_dir(run) / EVALUATIONS
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [read_store_file(path, lambda p: metrics_with_nan(json.loads(p.read_text()))) for path in paths]


def read_run_data(run: Run) -> dict[str, Any] | None:
    """The data a run used as its ``config.json`` records it (``fingerprint``, ``images`` per
    split), without reading the dataset; None for a run stored before the record existed."""
    return read_store_file(run_dir(run) / CONFIG, lambda path: json.loads(path.read_text()).get("data"))
