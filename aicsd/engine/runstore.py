"""The run directory: ``<output_dir>/<kind>-<method>-<backbone>-<hash12>/``.

It holds

- ``config.json``: the :class:`~aicsd.engine.config.RunConfig` fields, written when the run starts;
- ``metrics.jsonl``: one JSON line per epoch (mean loss terms, lr, alpha, val metrics, wall time);
- ``checkpoint.pt``: the latest epoch's training state, replaced atomically every epoch;
- ``result.json``: written atomically at the end. Its presence marks the run as finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from aicsd.engine.checkpoint import atomic_write_bytes, atomic_write_json
from aicsd.engine.config import RunConfig, run_id
from aicsd.paths import REPO_ROOT

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "RESULT",
    "append_metrics",
    "environment_info",
    "read_config",
    "read_metrics",
    "read_result",
    "run_dir",
    "truncate_metrics",
    "write_config",
    "write_result",
]

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"

_PACKAGES = ("torch", "torchvision", "numpy", "pandas", "pillow", "torchmetrics")


def run_dir(cfg: RunConfig) -> Path:
    """Directory of the run described by ``cfg`` (not created)."""
    return Path(cfg.output_dir) / run_id(cfg)


def write_config(directory: Path, cfg: RunConfig) -> None:
    """Write ``config.json`` (all fields, including the execution-only ones)."""
    atomic_write_json(directory / CONFIG, dataclasses.asdict(cfg))


def read_config(directory: str | Path) -> RunConfig:
    """The :class:`RunConfig` stored in ``directory/config.json``."""
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {directory} is not a run directory")
    fields = json.loads(path.read_text())
    fields["scale_range"] = tuple(fields["scale_range"])
    return RunConfig(**fields)


def append_metrics(directory: Path, record: dict[str, Any]) -> None:
    """Append one epoch's ``record`` as a JSON line to ``metrics.jsonl`` (flushed and fsync'ed)."""
    with open(directory / METRICS, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_metrics(directory: str | Path) -> list[dict[str, Any]]:
    """All epoch records of ``metrics.jsonl`` (empty when the file does not exist)."""
    path = Path(directory) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_metrics(directory: Path, epochs_done: int) -> None:
    """Keep only the records of epochs ``< epochs_done`` (used when resuming from a checkpoint)."""
    kept = [record for record in read_metrics(directory) if record["epoch"] < epochs_done]
    text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in kept)
    atomic_write_bytes(directory / METRICS, text.encode())


def read_result(directory: str | Path) -> dict[str, Any] | None:
    """The finished run's ``result.json``, or ``None`` when the run has not finished."""
    path = Path(directory) / RESULT
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def write_result(directory: Path, result: dict[str, Any]) -> None:
    """Write ``result.json`` atomically (marks the run finished)."""
    atomic_write_json(directory / RESULT, result)


def _git(*args: str) -> str | None:
    repo = REPO_ROOT
    try:
        completed = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip()


def environment_info() -> dict[str, Any]:
    """Git commit (and whether the tree had uncommitted changes), Python and package versions."""
    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    status = _git("status", "--porcelain")
    return {
        "git_commit": _git("rev-parse", "HEAD") or None,
        "git_dirty": bool(status) if status is not None else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }
