"""Dataset metadata: class names, colour palettes and the ignore label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = 255

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and a metric need to know about a segmentation dataset.

    Attributes:
        name: registry name (``"voc"``, ``"cityscapes"``, ...).
        num_classes: number of evaluated classes C; mask values are ``0..C-1`` or ``ignore_index``.
        class_names: C names, index = train id.
        palette: C RGB colours for drawing masks, index = train id.
        ignore_index: mask value that losses and metrics skip.
        attribution: how a figure showing the dataset's images credits them (its sources and terms
            of use), or None (the generated dataset).
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    palette: tuple[RGB, ...]
    ignore_index: int = IGNORE_INDEX
    attribution: str | None = None

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes or len(self.palette) != self.num_classes:
            raise ValueError(
                f"DatasetInfo {self.name!r}: num_classes={self.num_classes} but got "
                f"{len(self.class_names)} class names and {len(self.palette)} palette colours"
            )
        if 0 <= self.ignore_index < self.num_classes:
            raise ValueError(
                f"DatasetInfo {self.name!r}: ignore_index={self.ignore_index} collides with a class id"
            )


def voc_colormap(n: int = 256) -> np.ndarray:
    """The Pascal VOC colour map (bit-interleaved label id -> RGB), as a (n, 3) uint8 array.

    Index 0 is black, 1 is (128, 0, 0), ..., 255 (the boundary/ignore label) is (224, 224, 192).
    """
    ids = np.arange(n)
    cmap = np.zeros((n, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            cmap[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return cmap.astype(np.uint8)


def voc_palette(num_classes: int) -> tuple[RGB, ...]:
    """The first ``num_classes`` VOC colours as RGB tuples."""
    return tuple((int(r), int(g), int(b)) for r, g, b in voc_colormap(num_classes))
