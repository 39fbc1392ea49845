"""The environment a run or a reproduction ran in: git commit, Python, platform, package versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

from aicsd.paths import REPO_ROOT

__all__ = ["environment_info"]

_PACKAGES = ("torch", "torchvision", "numpy", "pandas", "pillow", "torchmetrics")


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
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
