"""Images and masks decoded once and kept in memory for the runs of one process.

Every training step of a ``cpu``-profile run reads 8 small PNG/JPEG pairs and decodes them again,
epoch after epoch and run after run; decoding is about half of loading a batch
(``benchmarks/bench_cpu_options.py``). :class:`DecodedImages` keeps the decoded, checked and
label-mapped items of :class:`~aicsd.data.files.SegmentationFiles` keyed by their files, so that a
second epoch, or a second run of the same process, skips the decoding. The random augmentation still
runs on every load, so a cached item is exactly what the files would give.

:func:`aicsd.study.experiments.run_all` gives one instance to each stream of runs it trains in one
process; a run given none reads its files as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from aicsd.data.files import SegmentationFiles
from aicsd.lru import BoundedLRU

__all__ = ["DEFAULT_DECODED_BYTES", "DecodedImages", "with_decoded"]

DEFAULT_DECODED_BYTES = 2**30
"""Memory the decoded items may hold: the generated dataset's 1,600 images and masks take about
40 MiB; on a larger dataset the least recently used items are dropped."""

_Item = tuple[torch.Tensor, torch.Tensor]


def _file_stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


class DecodedImages(BoundedLRU[_Item]):
    """Decoded items by (files, label map), least recently used first out, in at most ``max_bytes``.

    An entry holds the image as uint8 (3, H, W) and the mask as uint8 (H, W) (train ids and 255);
    the key includes both files' size and modification time, so a rewritten file is decoded anew.
    ``hits`` and ``misses`` count the lookups, ``bytes`` the tensors held.
    """

    def __init__(self, max_bytes: int = DEFAULT_DECODED_BYTES) -> None:
        super().__init__(max_bytes)

    def load(self, dataset: SegmentationFiles, index: int) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        """``dataset.load(index)`` (Image uint8 (3, H, W), Mask int64 (H, W)), decoded at most once."""
        image_path, mask_path = dataset.samples[index]
        digest = hashlib.sha256(dataset.label_map.tobytes()).hexdigest()
        key = f"{_file_stamp(image_path)}|{_file_stamp(mask_path)}|{digest}"
        stored = self.get(key)
        if stored is not None:
            image, mask = stored
            return tv_tensors.Image(image.clone()), tv_tensors.Mask(mask.long())
        image, mask = dataset.load(index)
        item = (image.as_subclass(torch.Tensor).clone(), mask.as_subclass(torch.Tensor).to(torch.uint8))
        self.put(key, item, sum(t.element_size() * t.nelement() for t in item))
        return image, mask


class DecodedFiles(Dataset):
    """``files`` with its items decoded through ``decoded``; the transforms run on every load."""

    def __init__(self, files: SegmentationFiles, decoded: DecodedImages) -> None:
        self.files = files
        self.decoded = decoded

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.decoded.load(self.files, index)
        if self.files.transforms is None:
            return image, mask
        return self.files.transforms(image, mask)


def with_decoded(dataset: Dataset, decoded: DecodedImages | None) -> Dataset:
    """``dataset`` reading through ``decoded`` when both are set and ``dataset`` is a
    :class:`SegmentationFiles`; otherwise ``dataset`` itself."""
    if decoded is None or not isinstance(dataset, SegmentationFiles):
        return dataset
    return DecodedFiles(dataset, decoded)
