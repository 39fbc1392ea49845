"""Dataset registry, metadata and mask colouring."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from aicsd.data import DATASETS, DatasetInfo, build_dataset, colorize_mask, dataset_info, dataset_splits
from aicsd.data.files import identity_label_map, map_labels
from aicsd.data.info import voc_colormap


def test_registry_names_and_class_counts() -> None:
    assert DATASETS == ("synthetic", "voc", "cityscapes", "camvid")
    counts = {name: dataset_info(name).num_classes for name in DATASETS}
    assert counts == {"synthetic": 21, "voc": 21, "cityscapes": 19, "camvid": 11}
    for name in DATASETS:
        info = dataset_info(name)
        assert info.name == name and info.ignore_index == 255
        assert len(info.class_names) == len(set(info.class_names)) == info.num_classes
        assert all(len(colour) == 3 and all(0 <= c <= 255 for c in colour) for colour in info.palette)
    assert dataset_splits("voc") == ("train", "val", "train_aug")


def test_unknown_name_and_split_list_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="camvid"):
        dataset_info("imagenet")
    with pytest.raises(ValueError, match="synthetic"):
        build_dataset("ade20k", tmp_path, "train")
    with pytest.raises(ValueError, match=r"camvid: unknown split 'train_aug'"):
        build_dataset("camvid", tmp_path, "train_aug")


def test_dataset_info_is_frozen_and_validated() -> None:
    info = dataset_info("voc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.num_classes = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="num_classes=3"):
        DatasetInfo("x", 3, ("a", "b"), ((0, 0, 0),) * 3)
    with pytest.raises(ValueError, match="ignore_index"):
        DatasetInfo("x", 2, ("a", "b"), ((0, 0, 0),) * 2, ignore_index=1)


def test_voc_colormap_known_entries() -> None:
    cmap = voc_colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    assert cmap[0].tolist() == [0, 0, 0] and cmap[1].tolist() == [128, 0, 0]
    assert cmap[15].tolist() == [192, 128, 128] and cmap[255].tolist() == [224, 224, 192]


def test_map_labels_reports_invalid_values() -> None:
    label_map = identity_label_map(4)
    raw = np.array([[0, 3, 255], [1, 2, 0]])
    assert np.array_equal(map_labels(raw, label_map, Path("m.png")), raw)
    with pytest.raises(ValueError, match=r"m\.png.*\[4, 300\].*0\.\.3, 255"):
        map_labels(np.array([[0, 4], [300, 1]]), label_map, Path("m.png"))
    with pytest.raises(ValueError, match="2-D"):
        map_labels(np.zeros((2, 2, 3), dtype=np.uint8), label_map, Path("m.png"))


def test_colorize_mask() -> None:
    palette = ((0, 0, 0), (10, 20, 30), (200, 100, 50))
    picture = colorize_mask(torch.tensor([[0, 1], [2, 255]]), palette)
    assert picture.shape == (3, 2, 2) and picture.dtype == torch.uint8
    assert picture[:, 0, 1].tolist() == [10, 20, 30] and picture[:, 1, 0].tolist() == [200, 100, 50]
    assert picture[:, 1, 1].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match=r"\[3\]"):
        colorize_mask(torch.tensor([[3]]), palette)
