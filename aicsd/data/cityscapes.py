"""Cityscapes fine annotations, label ids mapped to the 19 train ids (void -> 255)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import Label
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from torchvision.datasets import Cityscapes

from aicsd.data.files import INVALID_LABEL, SegmentationFiles, Transforms, require_layout
from aicsd.data.info import IGNORE_INDEX, DatasetInfo

CITYSCAPES_SPLITS = ("train", "val")

CITYSCAPES_LAYOUT = """\
  leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
  gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png   (label ids 0..33)
"""


def _train_classes() -> list[Label]:
    return sorted(
        (label for label in CITYSCAPES_LABELS if 0 <= label.trainId < IGNORE_INDEX),
        key=lambda label: label.trainId,
    )


CITYSCAPES_INFO = DatasetInfo(
    "cityscapes",
    len(_train_classes()),
    tuple(label.name for label in _train_classes()),
    tuple(tuple(label.color) for label in _train_classes()),
)


def cityscapes_label_map() -> np.ndarray:
    """(256,) int64 lookup table: Cityscapes label id -> train id, void ids -> 255, unknown -> invalid."""
    label_map = np.full(256, INVALID_LABEL, dtype=np.int64)
    for label in CITYSCAPES_LABELS:
        if 0 <= label.id < 256:
            label_map[label.id] = label.trainId if 0 <= label.trainId < IGNORE_INDEX else IGNORE_INDEX
    return label_map


def cityscapes_samples(root: Path, split: str) -> list[tuple[Path, Path]]:
    """Sorted ``(leftImg8bit, gtFine_labelIds)`` pairs of ``split`` (2975 train / 500 val)."""
    if split not in CITYSCAPES_SPLITS:
        raise ValueError(f"cityscapes: unknown split {split!r}; valid splits are {CITYSCAPES_SPLITS}")
    required = [root / "leftImg8bit" / split, root / "gtFine" / split]
    require_layout("cityscapes", root, required, CITYSCAPES_LAYOUT)
    dataset = Cityscapes(str(root), split=split, mode="fine", target_type="semantic")
    pairs = [(Path(image), Path(targets[0])) for image, targets in zip(dataset.images, dataset.targets)]
    return sorted(pairs)


def build_cityscapes(root: str | Path, split: str, transforms: Transforms | None = None) -> SegmentationFiles:
    """Cityscapes ``split`` under ``root`` (layout: ``CITYSCAPES_LAYOUT``), 19 classes, ignore 255."""
    samples = cityscapes_samples(Path(root), split)
    return SegmentationFiles(CITYSCAPES_INFO, samples, cityscapes_label_map(), transforms)
