"""Cityscapes fine annotations on tiny files in the exact on-disk layout; label ids -> train ids."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aicsd.data import build_dataset, dataset_info
from aicsd.data.cityscapes import cityscapes_label_map

FRAMES = {
    "train": [("aachen", "000000_000019"), ("bochum", "000000_000313")],
    "val": [("lindau", "000000_000019")],
}
# label id -> expected train id (road, sidewalk, car, bicycle; void, parking, guard rail, license plate)
ID_TO_TRAIN = {7: 0, 8: 1, 26: 13, 33: 18, 0: 255, 9: 255, 14: 255}


def _label_ids(seed: int) -> np.ndarray:
    ids = np.array(list(ID_TO_TRAIN), dtype=np.uint8)
    return np.random.default_rng(seed).choice(ids, (8, 16)).astype(np.uint8)


@pytest.fixture
def cs_root(tmp_path: Path) -> Path:
    for split, frames in FRAMES.items():
        for i, (city, frame) in enumerate(frames):
            stem = f"{city}_{frame}"
            image_dir = tmp_path / "leftImg8bit" / split / city
            label_dir = tmp_path / "gtFine" / split / city
            image_dir.mkdir(parents=True)
            label_dir.mkdir(parents=True)
            Image.fromarray(np.zeros((8, 16, 3), dtype=np.uint8)).save(image_dir / f"{stem}_leftImg8bit.png")
            Image.fromarray(_label_ids(i)).save(label_dir / f"{stem}_gtFine_labelIds.png")
            instances = np.zeros((8, 16), dtype=np.uint16)
            Image.fromarray(instances).save(label_dir / f"{stem}_gtFine_instanceIds.png")
    return tmp_path


def test_info_has_19_train_classes() -> None:
    info = dataset_info("cityscapes")
    assert info.num_classes == 19 and info.ignore_index == 255
    assert (info.class_names[0], info.class_names[13], info.class_names[18]) == ("road", "car", "bicycle")
    assert info.palette[0] == (128, 64, 128)


def test_label_map_matches_cityscapesscripts() -> None:
    label_map = cityscapes_label_map()
    for label_id, train_id in ID_TO_TRAIN.items():
        assert label_map[label_id] == train_id
    assert sorted(set(label_map[:34].tolist())) == list(range(19)) + [255]
    assert (label_map[34:] == -1).all()


def test_items_are_mapped_and_sorted(cs_root: Path) -> None:
    train = build_dataset("cityscapes", cs_root, "train")
    assert len(train) == 2 and len(build_dataset("cityscapes", cs_root, "val")) == 1
    assert [image.parent.name for image, _ in train.samples] == ["aachen", "bochum"]
    image, mask = train[1]
    assert image.shape == (3, 8, 16) and image.dtype == torch.uint8
    expected = np.vectorize(ID_TO_TRAIN.get)(_label_ids(1))
    assert mask.dtype == torch.int64 and np.array_equal(mask.numpy(), expected)


def test_unknown_label_id(cs_root: Path) -> None:
    ids = _label_ids(0)
    ids[1, 1] = 40
    Image.fromarray(ids).save(cs_root / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png")
    with pytest.raises(ValueError, match=r"aachen_000000_000019_gtFine_labelIds\.png.*\[40\]"):
        build_dataset("cityscapes", cs_root, "train")[0]


def test_missing_root_names_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"(?s)leftImg8bit/val not found.*Expected layout.*gtFine"):
        build_dataset("cityscapes", tmp_path / "nowhere", "val")


def test_missing_gtfine_split(cs_root: Path) -> None:
    shutil.rmtree(cs_root / "gtFine" / "val")
    with pytest.raises(FileNotFoundError, match=r"gtFine/val not found"):
        build_dataset("cityscapes", cs_root, "val")


def test_missing_label_file(cs_root: Path) -> None:
    (cs_root / "gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(FileNotFoundError, match="lindau_000000_000019_gtFine_labelIds.png"):
        build_dataset("cityscapes", cs_root, "val")[0]


def test_unknown_split(cs_root: Path) -> None:
    with pytest.raises(ValueError, match="valid splits"):
        build_dataset("cityscapes", cs_root, "train_extra")
