"""Segmentation datasets (generated, Pascal VOC 2012 + SBD, Cityscapes, CamVid) and transforms.

``build_dataset(name, root, split, transforms=None)`` returns items ``(image, mask)``;
``dataset_info(name)`` gives classes and palette; ``make_synthetic`` / ``ensure_synthetic`` write
the generated default dataset; ``aicsd.data.transforms`` holds the joint image + mask transforms.
"""

from aicsd.data.files import SegmentationFiles
from aicsd.data.info import IGNORE_INDEX, DatasetInfo
from aicsd.data.registry import (
    DATASETS,
    available_splits,
    build_dataset,
    dataset_info,
    dataset_splits,
    labelled_test_split,
    split_on_disk,
)
from aicsd.data.synthetic import (
    DEFAULT_SYNTHETIC_ROOT,
    ensure_synthetic,
    generate_if_absent,
    make_synthetic,
    synthetic_is_complete,
)
from aicsd.data.transforms import eval_transforms, pad_collate, train_transforms
from aicsd.data.visualize import colorize_mask, save_sample_grid

__all__ = [
    "DATASETS",
    "DEFAULT_SYNTHETIC_ROOT",
    "IGNORE_INDEX",
    "DatasetInfo",
    "SegmentationFiles",
    "available_splits",
    "build_dataset",
    "colorize_mask",
    "dataset_info",
    "dataset_splits",
    "ensure_synthetic",
    "eval_transforms",
    "generate_if_absent",
    "labelled_test_split",
    "make_synthetic",
    "pad_collate",
    "save_sample_grid",
    "split_on_disk",
    "synthetic_is_complete",
    "train_transforms",
]
