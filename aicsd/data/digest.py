"""A content digest of a dataset folder: SHA-256 over every file's bytes, as the shell computes it.

    cd ROOT && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum

prints the same hex digest as :func:`content_digest` (each file's ``sha256sum`` line,
``"<hex>  ./<relative path>\\n"``, in byte order of the paths, hashed once more). Unlike the run
fingerprint (:mod:`aicsd.data.identity`: names and sizes, cheap), it reads every byte, so two
machines can tell whether a difference between their reproductions came from the data (a library
that draws the generated images differently) or from the arithmetic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["content_digest"]

_CHUNK = 1 << 20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_digest(root: str | Path) -> str:
    """Hex SHA-256 over the files under ``root`` (see the module docstring). Raises
    FileNotFoundError naming ``root`` when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no dataset folder {root} to digest")
    files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix().encode())
    listing = "".join(f"{_file_sha256(p)}  ./{p.relative_to(root).as_posix()}\n" for p in files)
    return hashlib.sha256(listing.encode()).hexdigest()
