"""Where and how a reproduction ran: one record, shown on every chapter of the book, gathered on its
status page, and carried by the summary record that another machine compares with.

The fields that decide whether two machines can agree bit for bit are all here: the commit, the
CPU model and the instruction-set level torch's kernels were chosen for
(``torch.backends.cpu.get_cpu_capability()``; ``ATEN_CPU_CAPABILITY`` forces another) and the
limit oneDNN's convolutions were held to (``ONEDNN_MAX_CPU_ISA``; None: the CPU's best), threads,
the GPU, the versions of the packages that compute (torch, torchvision) or shape the data (numpy,
Pillow), and the data itself: its run fingerprint (:mod:`aicsd.data.identity`) and the digest of
its bytes (:func:`aicsd.data.digest.content_digest`).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from aicsd.data.digest import content_digest
from aicsd.engine import load_profile
from aicsd.engine.environment import environment_info
from aicsd.engine.identity import run_data
from aicsd.errors import DataError
from aicsd.paths import REPO_ROOT

__all__ = ["cpu_model", "data_record", "provenance"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def data_record(profile: str, dataset: str, data_root: object) -> dict[str, str | None]:
    """The data folder the profile reads (relative to the checkout when inside it), the fingerprint
    of the splits its runs use and the digest of the folder's bytes; ``None`` for what cannot be
    read (no data on disk yet, an empty split)."""
    overrides = {"dataset": dataset} if data_root is None else {"dataset": dataset, "data_root": str(data_root)}
    try:
        cfg = load_profile(profile, **overrides)
    except (ValueError, OSError):
        return {"data_root": None if data_root is None else str(data_root), "data_fingerprint": None, "data_digest": None}
    root = Path(cfg.data_root).resolve()
    shown = str(root.relative_to(REPO_ROOT)) if root.is_relative_to(REPO_ROOT) else str(root)
    try:
        fingerprint: str | None = run_data(cfg).digest
    except (OSError, DataError, ValueError):
        fingerprint = None
    try:
        digest: str | None = content_digest(root)
    except OSError:
        digest = None
    return {"data_root": shown, "data_fingerprint": fingerprint, "data_digest": digest}


def provenance(parameters: dict[str, object]) -> dict[str, object]:
    """Where and how a chapter (or a whole reproduction) ran, for ``parameters`` (``profile``,
    ``dataset``, ``data_root``, ``device``): the commit (and whether the tree had changes), CPU
    model, torch's CPU capability, oneDNN's instruction-set limit and threads, the GPU's name when one was used, Python and package
    versions, profile, dataset and :func:`data_record`."""
    environment = environment_info()
    profile, dataset = str(parameters.get("profile", "cpu")), str(parameters.get("dataset", "synthetic"))
    gpu = None
    if parameters.get("device", "auto") != "cpu" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {
        "commit": environment.get("git_commit"),
        "dirty": environment.get("git_dirty"),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
        "python": environment.get("python"),
        "packages": environment.get("packages", {}),
        "profile": profile,
        "dataset": dataset,
        **data_record(profile, dataset, parameters.get("data_root")),
    }
