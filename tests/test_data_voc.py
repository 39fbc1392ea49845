"""Pascal VOC 2012 and the SBD-augmented train_aug split, on tiny files in the exact on-disk formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat
from torchvision import tv_tensors
from torchvision.datasets import SBDataset

from aicsd.data import build_dataset, dataset_info
from aicsd.data.info import voc_colormap

VOC_TRAIN, VOC_VAL = ["2007_000001", "2007_000002"], ["2007_000003", "2007_000004"]
SBD_TRAIN = ["2007_000002", "2007_000003", "2008_000005"]
SBD_VAL = ["2008_000006", "2007_000004", "2008_000007"]


def _mask(seed: int, height: int = 12, width: int = 16) -> np.ndarray:
    mask = np.random.default_rng(seed).integers(0, 21, (height, width)).astype(np.uint8)
    mask[0, :] = 255
    return mask


def _write_jpg(path: Path, height: int = 12, width: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 128, dtype=np.uint8)).save(path)


def _write_voc_png(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(mask)
    image.putpalette(voc_colormap().reshape(-1).tolist())
    image.save(path)


def _write_sbd_mat(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    boundaries = np.empty((20, 1), dtype=object)
    for i in range(20):
        boundaries[i, 0] = np.zeros(mask.shape, dtype=bool)
    gtcls = {"Segmentation": mask, "Boundaries": boundaries, "CategoriesPresent": np.unique(mask[mask > 0])}
    savemat(path, {"GTcls": gtcls})


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    lists = voc / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    for i, name in enumerate(VOC_TRAIN + VOC_VAL):
        _write_jpg(voc / "JPEGImages" / f"{name}.jpg")
        _write_voc_png(voc / "SegmentationClass" / f"{name}.png", _mask(i))
    (lists / "train.txt").write_text("\n".join(VOC_TRAIN) + "\n")
    (lists / "val.txt").write_text("\n".join(VOC_VAL) + "\n")
    sbd = tmp_path / "SBD"
    for i, name in enumerate(SBD_TRAIN + SBD_VAL):
        _write_jpg(sbd / "img" / f"{name}.jpg")
        sbd_mask = _mask(100 + i)
        sbd_mask[sbd_mask == 255] = 0
        _write_sbd_mat(sbd / "cls" / f"{name}.mat", sbd_mask)
    (sbd / "train.txt").write_text("\n".join(SBD_TRAIN) + "\n")
    (sbd / "val.txt").write_text("\n".join(SBD_VAL) + "\n")
    return tmp_path


def test_info() -> None:
    info = dataset_info("voc")
    assert info.num_classes == 21 and info.ignore_index == 255
    assert info.class_names[0] == "background" and info.class_names[15] == "person"
    assert info.palette[1] == (128, 0, 0) and len(info.palette) == 21


def test_train_and_val_items(voc_root: Path) -> None:
    train, val = build_dataset("voc", voc_root, "train"), build_dataset("voc", voc_root, "val")
    assert (len(train), len(val)) == (2, 2)
    image, mask = val[1]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8 and image.shape == (3, 12, 16)
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64
    assert np.array_equal(mask.numpy(), _mask(3))
    assert (mask[0] == 255).all()


def test_sbd_mat_fixture_matches_torchvision_reader(voc_root: Path) -> None:
    _, target = SBDataset(str(voc_root / "SBD"), image_set="train", mode="segmentation")[2]
    expected = _mask(102)
    expected[expected == 255] = 0
    assert np.array_equal(np.asarray(target), expected)


def test_train_aug_is_sbd_plus_voc_train_minus_voc_val(voc_root: Path) -> None:
    dataset = build_dataset("voc", voc_root, "train_aug")
    names = [image.stem for image, _ in dataset.samples]
    assert names == ["2007_000001", "2007_000002", "2008_000005", "2008_000006", "2008_000007"]
    suffixes = {image.stem: mask.suffix for image, mask in dataset.samples}
    assert suffixes["2007_000002"] == ".png" and suffixes["2008_000005"] == ".mat"
    _, mask = dataset[names.index("2008_000006")]
    expected = _mask(100 + 3)
    expected[expected == 255] = 0
    assert np.array_equal(mask.numpy(), expected)


def test_transforms_are_applied(voc_root: Path) -> None:
    def swap(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return mask, image

    mask, image = build_dataset("voc", voc_root, "train", transforms=swap)[0]
    assert image.shape == (3, 12, 16) and mask.shape == (12, 16)


def test_missing_root_names_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"(?s)JPEGImages.*Expected layout.*SegmentationClass"):
        build_dataset("voc", tmp_path / "nowhere", "train")


def test_missing_split_file(voc_root: Path) -> None:
    (voc_root / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"val\.txt not found"):
        build_dataset("voc", voc_root, "val")


def test_train_aug_without_sbd(voc_root: Path) -> None:
    (voc_root / "SBD" / "train.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"(?s)SBD.*train\.txt not found.*cls/<id>\.mat"):
        build_dataset("voc", voc_root, "train_aug")


def test_unknown_split(voc_root: Path) -> None:
    with pytest.raises(ValueError, match="valid splits"):
        build_dataset("voc", voc_root, "test")


def test_corrupt_image_names_file(voc_root: Path) -> None:
    path = voc_root / "VOCdevkit/VOC2012/JPEGImages/2007_000001.jpg"
    path.write_bytes(b"not a jpeg")
    with pytest.raises(OSError, match="2007_000001.jpg"):
        build_dataset("voc", voc_root, "train")[0]


def test_truncated_image_names_file(voc_root: Path) -> None:
    path = voc_root / "VOCdevkit/VOC2012/JPEGImages/2007_000002.jpg"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(OSError, match="2007_000002.jpg"):
        build_dataset("voc", voc_root, "train")[1]


def test_listed_image_missing(voc_root: Path) -> None:
    (voc_root / "VOCdevkit/VOC2012/JPEGImages/2007_000003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="2007_000003.jpg"):
        build_dataset("voc", voc_root, "val")[0]


def test_out_of_range_label_names_file_and_values(voc_root: Path) -> None:
    mask = _mask(0)
    mask[3, 3], mask[4, 4] = 30, 254
    _write_voc_png(voc_root / "VOCdevkit/VOC2012/SegmentationClass/2007_000001.png", mask)
    with pytest.raises(ValueError, match=r"2007_000001\.png.*\[30, 254\]"):
        build_dataset("voc", voc_root, "train")[0]


def test_out_of_range_sbd_label(voc_root: Path) -> None:
    mask = _mask(1)
    mask[mask == 255] = 0
    mask[2, 2] = 21
    _write_sbd_mat(voc_root / "SBD/cls/2008_000005.mat", mask)
    dataset = build_dataset("voc", voc_root, "train_aug")
    with pytest.raises(ValueError, match=r"2008_000005\.mat.*\[21\]"):
        dataset[2]


def test_mat_without_gtcls(voc_root: Path) -> None:
    savemat(voc_root / "SBD/cls/2008_000005.mat", {"other": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"2008_000005\.mat.*GTcls"):
        build_dataset("voc", voc_root, "train_aug")[2]


def test_size_mismatch_names_pair(voc_root: Path) -> None:
    _write_voc_png(voc_root / "VOCdevkit/VOC2012/SegmentationClass/2007_000002.png", _mask(1, 10, 16))
    with pytest.raises(ValueError, match=r"(?s)2007_000002\.jpg.*16x12.*2007_000002\.png.*16x10"):
        build_dataset("voc", voc_root, "train")[1]


def test_colour_mask_is_rejected(voc_root: Path) -> None:
    path = voc_root / "VOCdevkit/VOC2012/SegmentationClass/2007_000001.png"
    Image.open(path).convert("RGB").save(path)
    with pytest.raises(ValueError, match=r"2007_000001\.png.*'RGB'"):
        build_dataset("voc", voc_root, "train")[0]
