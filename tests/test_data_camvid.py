"""CamVid in the SegNet layout: tiny files here, and the real copy in ../shared/data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aicsd.data import available_splits, build_dataset, dataset_info, labelled_test_split

SHARED_CAMVID = Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid"


def _write_pair(root: Path, split: str, name: str, labels: np.ndarray) -> None:
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(labels.shape + (3,), dtype=np.uint8)).save(root / split / name)
    Image.fromarray(labels).save(root / f"{split}annot" / name)


@pytest.fixture
def camvid_root(tmp_path: Path) -> Path:
    lines = []
    for i, name in enumerate(["0001TP_006690.png", "Seq05VD_f00000.png"]):
        labels = (np.arange(6 * 8).reshape(6, 8) + i) % 12
        _write_pair(tmp_path, "train", name, labels.astype(np.uint8))
        lines.append(f"/SegNet/CamVid/train/{name} /SegNet/CamVid/trainannot/{name}")
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n\n")
    return tmp_path


def test_info() -> None:
    info = dataset_info("camvid")
    assert info.num_classes == 11 and info.class_names[0] == "sky" and info.class_names[10] == "bicyclist"


def test_foreign_paths_resolve_and_void_is_ignored(camvid_root: Path) -> None:
    dataset = build_dataset("camvid", camvid_root, "train")
    assert len(dataset) == 2
    assert dataset.samples[1] == (
        camvid_root / "train/Seq05VD_f00000.png",
        camvid_root / "trainannot/Seq05VD_f00000.png",
    )
    _, mask = dataset[1]
    raw = (np.arange(48).reshape(6, 8) + 1) % 12
    assert np.array_equal(mask.numpy(), np.where(raw == 11, 255, raw))


def test_invalid_label(camvid_root: Path) -> None:
    labels = np.zeros((6, 8), dtype=np.uint8)
    labels[0, 0] = 12
    _write_pair(camvid_root, "train", "0001TP_006690.png", labels)
    with pytest.raises(ValueError, match=r"0001TP_006690\.png.*\[12\]"):
        build_dataset("camvid", camvid_root, "train")[0]


def test_malformed_list_line(camvid_root: Path) -> None:
    (camvid_root / "train.txt").write_text("/SegNet/CamVid/train/a.png\n")
    with pytest.raises(ValueError, match=r"train\.txt:1"):
        build_dataset("camvid", camvid_root, "train")


def test_missing_list_names_layout(camvid_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"(?s)val\.txt not found.*trainannot"):
        build_dataset("camvid", camvid_root, "val")


@pytest.mark.skipif(not SHARED_CAMVID.is_dir(), reason=f"real CamVid not available at {SHARED_CAMVID}")
def test_real_camvid_counts_sizes_and_labels() -> None:
    train = build_dataset("camvid", SHARED_CAMVID, "train")
    val = build_dataset("camvid", SHARED_CAMVID, "val")
    assert (len(train), len(val)) == (367, 101)
    assert all(image.exists() and mask.exists() for image, mask in train.samples + val.samples)
    seen: set[int] = set()
    for dataset in (train, val):
        for index in range(0, len(dataset), 10):
            image, mask = dataset[index]
            assert image.shape == (3, 360, 480) and image.dtype == torch.uint8
            assert mask.shape == (360, 480) and mask.dtype == torch.int64
            seen |= set(np.unique(mask.numpy()).tolist())
    assert seen <= set(range(11)) | {255}
    assert set(range(11)) <= seen and 255 in seen


def write_camvid(root: Path, counts: dict[str, int], size: tuple[int, int] = (24, 32), seed: int = 0) -> Path:
    """A tiny CamVid copy in the SegNet layout: ``counts[split]`` random (image, label) pairs per split,
    labels 0..11 (11 = void), lists with the tutorial's foreign absolute paths."""
    generator = np.random.default_rng(seed)
    for split, count in counts.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
        lines = []
        for index in range(count):
            name = f"{split}_{index:04d}.png"
            Image.fromarray(generator.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / split / name)
            Image.fromarray(generator.integers(0, 12, size, dtype=np.uint8)).save(root / f"{split}annot" / name)
            lines.append(f"/SegNet/CamVid/{split}/{name} /SegNet/CamVid/{split}annot/{name}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_the_test_split_is_reported_where_it_is_on_disk(tmp_path: Path) -> None:
    full = write_camvid(tmp_path / "full", {"train": 2, "val": 1, "test": 1})
    without = write_camvid(tmp_path / "without", {"train": 2, "val": 1})
    assert available_splits("camvid", full) == ("train", "val", "test")
    assert available_splits("camvid", without) == ("train", "val")
    assert labelled_test_split("camvid", full) == "test"
    assert labelled_test_split("camvid", without) is None
    assert labelled_test_split("voc", full) is None and labelled_test_split("cityscapes", full) is None
    assert labelled_test_split("synthetic", tmp_path / "not-generated-yet") == "test"
    with pytest.raises(ValueError, match="unknown dataset"):
        labelled_test_split("ade20k", full)


@pytest.mark.skipif(not SHARED_CAMVID.is_dir(), reason=f"real CamVid not available at {SHARED_CAMVID}")
def test_real_camvid_without_test_split_reports_val() -> None:
    expected = ("train", "val", "test") if (SHARED_CAMVID / "test.txt").is_file() else ("train", "val")
    assert available_splits("camvid", SHARED_CAMVID) == expected
    assert labelled_test_split("camvid", SHARED_CAMVID) == ("test" if "test" in expected else None)
