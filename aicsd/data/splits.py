"""Which files define a split of a dataset on disk, and the error of a split that lists no images.

Both the registry (:func:`aicsd.data.registry.build_dataset` refuses an empty split) and the
fingerprint (:mod:`aicsd.data.identity`, over these files) read them from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aicsd.errors import DataError

__all__ = ["require_nonempty", "split_sources"]


def split_sources(name: str, root: str | Path, split: str) -> tuple[Path, ...]:
    """The files or folders that list the images of ``split`` of dataset ``name`` under ``root``."""
    root = Path(root)
    lists = root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation"
    if name == "synthetic":
        return (lists / f"{split}.txt",)
    if name == "voc":
        if split == "train_aug":
            return (lists / "train.txt", lists / "val.txt", root / "SBD" / "train.txt", root / "SBD" / "val.txt")
        return (lists / f"{split}.txt",)
    if name == "cityscapes":
        return (root / "leftImg8bit" / split, root / "gtFine" / split)
    if name == "camvid":
        return (root / f"{split}.txt",)
    return (root,)


def require_nonempty(dataset: Any, name: str, root: str | Path, split: str) -> None:
    """Raise DataError naming the split's list when ``dataset`` has no items."""
    if len(dataset) > 0:
        return
    sources = " and ".join(str(path) for path in split_sources(name, root, split))
    raise DataError(
        f"{name}: split {split!r} under {root} has no images ({sources} lists none); "
        "fill it, or choose another split (train_split / val_split / test_split)"
    )
