"""Name -> dataset builder and metadata: ``build_dataset``, ``dataset_info``, and which splits a root holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

from torch.utils.data import Dataset

from aicsd.data.camvid import CAMVID_INFO, CAMVID_SPLITS, build_camvid
from aicsd.data.cityscapes import CITYSCAPES_INFO, CITYSCAPES_SPLITS, build_cityscapes
from aicsd.data.files import SegmentationFiles, Transforms
from aicsd.data.info import DatasetInfo
from aicsd.data.splits import require_nonempty
from aicsd.data.synthetic import SYNTHETIC_SPLITS, build_synthetic
from aicsd.data.synthetic_classes import SYNTHETIC_INFO
from aicsd.data.voc import VOC_INFO, VOC_SPLITS, build_voc
from aicsd.errors import ConfigError

Builder = Callable[[str | Path, str, Transforms | None], SegmentationFiles]

_REGISTRY: MappingProxyType[str, tuple[Builder, DatasetInfo, tuple[str, ...]]] = MappingProxyType(
    {
        "synthetic": (build_synthetic, SYNTHETIC_INFO, SYNTHETIC_SPLITS),
        "voc": (build_voc, VOC_INFO, VOC_SPLITS),
        "cityscapes": (build_cityscapes, CITYSCAPES_INFO, CITYSCAPES_SPLITS),
        "camvid": (build_camvid, CAMVID_INFO, CAMVID_SPLITS),
    }
)
DATASETS = tuple(_REGISTRY)

_LABELLED_TEST_SPLITS: MappingProxyType[str, str | None] = MappingProxyType(
    {"synthetic": "test", "voc": None, "cityscapes": None, "camvid": "test"}
)
"""Per dataset, its test split with public labels. VOC 2012 and Cityscapes have none: their test
labels are not public (both test sets are scored by the benchmarks' evaluation servers)."""


def _entry(name: str) -> tuple[Builder, DatasetInfo, tuple[str, ...]]:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown dataset {name!r}; valid names are {DATASETS}")
    return _REGISTRY[name]


def dataset_info(name: str) -> DatasetInfo:
    """Metadata (classes, palette, ignore index) of dataset ``name``; no files are read."""
    return _entry(name)[1]


def dataset_splits(name: str) -> tuple[str, ...]:
    """The split names ``build_dataset(name, ...)`` accepts."""
    return _entry(name)[2]


def build_dataset(name: str, root: str | Path, split: str, transforms: Transforms | None = None) -> Dataset:
    """Dataset ``name`` ("synthetic", "voc", "cityscapes", "camvid"), ``split``, under ``root``.

    Items are ``(image, mask)``: without ``transforms`` a ``tv_tensors.Image`` uint8 (3, H, W) and a
    ``tv_tensors.Mask`` int64 (H, W) with train ids and 255 = ignore; with them, whatever
    ``transforms(image, mask)`` returns. The result has ``.info`` (DatasetInfo). Raises DataError
    naming the split's list when the split has no images.
    """
    builder, _, splits = _entry(name)
    if split not in splits:
        raise ConfigError(f"{name}: unknown split {split!r}; valid splits are {splits}")
    dataset = builder(root, split, transforms)
    require_nonempty(dataset, name, root, split)
    return dataset


def split_on_disk(name: str, root: str | Path, split: str) -> bool:
    """Whether ``split`` of dataset ``name`` is present under ``root`` (its list and folders; files
    are checked only when read). Raises ValueError for an unknown dataset or split name."""
    try:
        build_dataset(name, root, split)
    except FileNotFoundError:
        return False
    return True


def available_splits(name: str, root: str | Path) -> tuple[str, ...]:
    """The splits of dataset ``name`` present under ``root``, in :func:`dataset_splits` order."""
    return tuple(split for split in dataset_splits(name) if split_on_disk(name, root, split))


def labelled_test_split(name: str, root: str | Path) -> str | None:
    """The held-out test split a run on dataset ``name`` under ``root`` reports, or ``None``.

    The rule: the dataset's test split with public labels when it is on disk under ``root``.
    CamVid: ``test`` when ``root`` holds ``test.txt``, ``test/`` and ``testannot/`` (the full SegNet
    tutorial release has 233 test pairs; copies with train and val only have none). VOC and
    Cityscapes: never (their test labels are not public). The generated dataset: always ``test``
    (it is generated with one when ``root`` holds none).
    """
    _entry(name)  # ValueError naming the valid datasets
    split = _LABELLED_TEST_SPLITS[name]
    if split is None or name == "synthetic":
        return split
    return split if split_on_disk(name, root, split) else None
