"""A segmentation dataset over (image file, mask file) pairs, with per-item checks.

Every reader (VOC, SBD, Cityscapes, CamVid, the generated set) resolves its split to a sorted list
of file pairs and a label map; loading, label mapping and the checks are shared here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.io import loadmat
from torch.utils.data import Dataset
from torchvision import tv_tensors

from aicsd.data.info import IGNORE_INDEX, DatasetInfo
from aicsd.errors import DataError

Transforms = Callable[[tv_tensors.Image, tv_tensors.Mask], tuple[torch.Tensor, torch.Tensor]]

INVALID_LABEL = -1
_MASK_MODES = ("P", "L", "I", "I;16")


def identity_label_map(num_classes: int) -> np.ndarray:
    """Label map (256,) int64 that keeps ``0..num_classes-1`` and 255 and marks all else invalid."""
    label_map = np.full(256, INVALID_LABEL, dtype=np.int64)
    label_map[:num_classes] = np.arange(num_classes)
    label_map[IGNORE_INDEX] = IGNORE_INDEX
    return label_map


def require_layout(dataset: str, root: Path, required: Sequence[Path], layout: str) -> None:
    """Raise FileNotFoundError naming the first missing path and the expected tree under ``root``."""
    for path in required:
        if not path.exists():
            found = sorted(p.name for p in root.iterdir()) if root.is_dir() else "root does not exist"
            raise FileNotFoundError(
                f"{dataset}: {path} not found.\nExpected layout under {root}:\n{layout.rstrip()}\n"
                f"Found in {root}: {found}"
            )


def read_image(path: Path) -> np.ndarray:
    """Read an image file as RGB, (H, W, 3) uint8; errors name the file."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"image file {path} is listed in the split but missing") from err
    except OSError as err:
        raise OSError(f"cannot read image {path} ({err}); the file is corrupt, re-extract it") from err


def _read_png_mask(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as mask:
            if mask.mode not in _MASK_MODES:
                raise DataError(
                    f"mask {path} has PIL mode {mask.mode!r}; expected a single-channel label image "
                    f"(one of {_MASK_MODES}), not a colour rendering"
                )
            return np.asarray(mask)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"mask file {path} is listed in the split but missing") from err
    except OSError as err:
        raise OSError(f"cannot read mask {path} ({err}); the file is corrupt, re-extract it") from err


def _read_sbd_mask(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"mask file {path} is listed in the split but missing")
    try:
        mat = loadmat(str(path))
    except (OSError, ValueError) as err:
        raise OSError(f"cannot read SBD mask {path} ({err}); the file is corrupt, re-extract it") from err
    try:
        return np.asarray(mat["GTcls"][0]["Segmentation"][0])
    except (KeyError, IndexError, ValueError) as err:
        raise DataError(
            f"{path} is not an SBD class annotation: expected a struct GTcls with field Segmentation"
        ) from err


def read_mask(path: Path) -> np.ndarray:
    """Read a label mask, (H, W) integer array of raw label values.

    ``.png``: palette or grayscale image, values taken as they are (no colour conversion).
    ``.mat``: SBD class annotation, ``GTcls.Segmentation``.
    """
    if path.suffix == ".mat":
        return _read_sbd_mask(path)
    return _read_png_mask(path)


def _describe_values(label_map: np.ndarray) -> str:
    valid = np.flatnonzero(label_map != INVALID_LABEL)
    runs = np.split(valid, np.flatnonzero(np.diff(valid) != 1) + 1)
    return ", ".join(f"{run[0]}" if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in runs)


def map_labels(raw: np.ndarray, label_map: np.ndarray, path: Path) -> np.ndarray:
    """Map raw mask values through ``label_map`` (256,), -> (H, W) int64 train ids and 255.

    Raises ValueError naming ``path`` and the offending raw values when any value is invalid.
    """
    if raw.ndim != 2:
        raise DataError(f"mask {path} has shape {raw.shape}; expected a 2-D (H, W) label map")
    raw = raw.astype(np.int64, copy=False)
    in_range = (raw >= 0) & (raw < label_map.shape[0])
    mapped = np.where(in_range, label_map[np.clip(raw, 0, label_map.shape[0] - 1)], INVALID_LABEL)
    bad = mapped == INVALID_LABEL
    if bad.any():
        values = np.unique(raw[bad]).tolist()
        raise DataError(
            f"mask {path} has invalid label values {values[:20]}; valid raw values are "
            f"{_describe_values(label_map)} (255 = ignore)"
        )
    return mapped


class SegmentationFiles(Dataset):
    """Items ``(image, mask)`` read from a list of ``(image_path, mask_path)`` pairs.

    Without ``transforms`` an item is a ``tv_tensors.Image`` uint8 (3, H, W) and a
    ``tv_tensors.Mask`` int64 (H, W) with values in ``0..C-1`` and 255 (ignore). Each item is checked
    as it is loaded: readable files, equal image and mask sizes, valid label values.

    Args:
        info: the dataset's metadata (``info.num_classes`` classes).
        samples: ``(image_path, mask_path)`` pairs, in a fixed order.
        label_map: (256,) int64, raw mask value -> train id, 255 or ``INVALID_LABEL``.
        transforms: optional joint callable ``transforms(image, mask) -> (image, mask)``.
    """

    def __init__(
        self,
        info: DatasetInfo,
        samples: Sequence[tuple[Path, Path]],
        label_map: np.ndarray,
        transforms: Transforms | None = None,
    ) -> None:
        if label_map.shape != (256,):
            raise ValueError(f"label_map must have shape (256,), got {label_map.shape}")
        self.info = info
        self.samples = list(samples)
        self.label_map = label_map
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        """Item ``index`` before transforms: Image uint8 (3, H, W), Mask int64 (H, W)."""
        image_path, mask_path = self.samples[index]
        image = read_image(image_path)
        raw = read_mask(mask_path)
        if image.shape[:2] != raw.shape[:2]:
            raise DataError(
                f"image {image_path} is {image.shape[1]}x{image.shape[0]} (WxH) but its mask "
                f"{mask_path} is {raw.shape[1]}x{raw.shape[0]}; the pair does not match"
            )
        mask = map_labels(raw, self.label_map, mask_path)
        image_t = tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1).contiguous())
        return image_t, tv_tensors.Mask(torch.from_numpy(mask))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.load(index)
        if self.transforms is None:
            return image, mask
        return self.transforms(image, mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.info.name!r}, items={len(self)})"
