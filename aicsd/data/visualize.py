"""Pictures of segmentation data: coloured masks and an image/mask sample grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from aicsd.data.info import IGNORE_INDEX, RGB

IGNORE_COLOUR: RGB = (255, 255, 255)


def colorize_mask(
    mask: torch.Tensor, palette: Sequence[RGB], ignore_colour: RGB = IGNORE_COLOUR
) -> torch.Tensor:
    """Label mask (H, W) int -> RGB picture (3, H, W) uint8; 255 drawn in ``ignore_colour``.

    Raises ValueError when a value is neither a palette index nor 255.
    """
    lut = torch.zeros((256, 3), dtype=torch.uint8)
    lut[: len(palette)] = torch.tensor(palette, dtype=torch.uint8)
    lut[IGNORE_INDEX] = torch.tensor(ignore_colour, dtype=torch.uint8)
    bad = ((mask < 0) | (mask >= len(palette))) & (mask != IGNORE_INDEX)
    if bad.any():
        values = sorted(set(mask[bad].tolist()))
        raise ValueError(f"mask values {values[:20]} have no colour in a {len(palette)}-colour palette")
    return lut[mask.long().cpu()].permute(2, 0, 1)


def save_sample_grid(
    dataset: torch.utils.data.Dataset,
    path: str | Path,
    *,
    num_samples: int = 16,
    pairs_per_row: int = 4,
    palette: Sequence[RGB] | None = None,
) -> Path:
    """Save a PNG grid of the first ``num_samples`` items: each image followed by its coloured mask.

    ``dataset`` items are ``(Image uint8 (3, H, W), Mask (H, W))`` (no normalising transforms);
    ``palette`` defaults to ``dataset.info.palette``. Cells are padded to the largest item in white.
    Returns ``path``.
    """
    if palette is None:
        if not hasattr(dataset, "info"):
            raise ValueError("save_sample_grid: pass palette= for a dataset without .info")
        palette = dataset.info.palette
    count = min(num_samples, len(dataset))
    if count == 0:
        raise ValueError("save_sample_grid: the dataset is empty")
    tiles = []
    for index in range(count):
        image, mask = dataset[index]
        if image.dtype != torch.uint8:
            raise ValueError(
                f"save_sample_grid: item {index} image is {image.dtype}; build the dataset without transforms"
            )
        tiles += [image.as_subclass(torch.Tensor), colorize_mask(mask, palette)]
    height = max(t.shape[-2] for t in tiles)
    width = max(t.shape[-1] for t in tiles)
    padded = torch.full((len(tiles), 3, height, width), 255, dtype=torch.uint8)
    for i, tile in enumerate(tiles):
        padded[i, :, : tile.shape[-2], : tile.shape[-1]] = tile
    grid = make_grid(padded, nrow=2 * pairs_per_row, padding=2, pad_value=255)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(grid.permute(1, 2, 0).numpy())).save(path, optimize=True)
    return path
