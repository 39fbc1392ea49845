"""What identifies a dataset on disk: the files that define each split, and a cheap fingerprint.

A run's identity (:mod:`aicsd.engine.identity`) includes :func:`dataset_fingerprint` of the splits
it uses, never the folder they lie in: a dataset moved elsewhere keeps its runs, another dataset at
the same path gets new ones.

- the generated set: the generator's parameters (``SYNTHETIC.json``) and each split list's names
  (those of the default set when the folder holds none yet: training generates it there);
- real datasets: per split, every image and mask path relative to the root with its size in
  bytes. That is a ``stat`` per file, no image is read: Cityscapes' 3,475 pairs take milliseconds.

Fingerprints are cached per process and recomputed when a split's defining files change
(:func:`aicsd.data.splits.split_sources`: their inode, size and modification time).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aicsd.data.registry import build_dataset
from aicsd.data.splits import require_nonempty, split_sources
from aicsd.data.synthetic import synthetic_description

__all__ = ["DataFingerprint", "dataset_fingerprint"]


@dataclass(frozen=True)
class DataFingerprint:
    """``digest``: hex SHA-256 over what identifies the splits; ``counts``: images per split."""

    digest: str
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.digest, "images": dict(self.counts)}


_CACHE: dict[tuple[Any, ...], DataFingerprint] = {}


def _signature(paths: list[Path]) -> tuple[Any, ...]:
    signature = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            signature.append((str(path), None))
        else:
            signature.append((str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def _synthetic(root: Path, splits: tuple[str, ...]) -> tuple[Any, dict[str, int]]:

    description = synthetic_description(root, splits)
    for split, names in description["splits"].items():
        if not names:
            require_nonempty([], "synthetic", root, split)
    return description, {split: len(names) for split, names in description["splits"].items()}


def _files(name: str, root: Path, splits: tuple[str, ...]) -> tuple[Any, dict[str, int]]:
    description: dict[str, list[Any]] = {}
    for split in splits:
        samples = build_dataset(name, root, split).samples
        description[split] = [
            [str(path.relative_to(root)) if path.is_relative_to(root) else path.name, os.stat(path).st_size]
            for pair in samples
            for path in pair
        ]
    return description, {split: len(entries) // 2 for split, entries in description.items()}


def dataset_fingerprint(name: str, root: str | Path, splits: tuple[str, ...]) -> DataFingerprint:
    """The fingerprint of ``splits`` of dataset ``name`` under ``root`` (see the module docstring).

    Raises what reading the dataset raises: FileNotFoundError for a missing list or folder,
    DataError for an empty split.
    """
    root = Path(root)
    splits = tuple(dict.fromkeys(splits))
    markers = [path for split in splits for path in split_sources(name, root, split)]
    markers += [root / "VOCdevkit", root / "VOCdevkit" / "VOC2012" / "SYNTHETIC.json"]
    key = (name, str(root.resolve()), splits, _signature(markers))
    if key not in _CACHE:
        description, counts = _synthetic(root, splits) if name == "synthetic" else _files(name, root, splits)
        text = json.dumps({"dataset": name, "splits": description}, sort_keys=True, separators=(",", ":"))
        _CACHE[key] = DataFingerprint(hashlib.sha256(text.encode()).hexdigest(), counts)
    return _CACHE[key]
