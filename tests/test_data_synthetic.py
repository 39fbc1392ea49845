"""The generated dataset: determinism, VOC layout, class coverage, atomic (re)generation."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aicsd.errors import DataError
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.datasets import VOCSegmentation

import aicsd.data.synthetic as synthetic
from aicsd.data import (
    build_dataset,
    dataset_info,
    ensure_synthetic,
    make_synthetic,
    save_sample_grid,
    synthetic_is_complete,
)
from aicsd.data.info import voc_colormap
from aicsd.data.synthetic_classes import CO_OCCURRENCE, SYNTHETIC_CLASSES
from aicsd.data.synthetic_render import render_sample

SMALL = dict(num_train=40, num_val=10, num_test=6)


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), seed=0, **SMALL)


def test_same_seed_gives_byte_identical_files(small_root: Path, tmp_path: Path) -> None:
    again = make_synthetic(tmp_path / "again", seed=0, **SMALL)
    first, second = _tree_hashes(small_root), _tree_hashes(again)
    assert len(first) == 2 * (40 + 10 + 6) + 4  # jpg + png per image, three split lists, metadata
    assert first == second


def test_different_seed_gives_different_images(small_root: Path, tmp_path: Path) -> None:
    other = _tree_hashes(make_synthetic(tmp_path / "other", seed=1, **SMALL))
    first = _tree_hashes(small_root)
    images = [name for name in first if name.endswith(".jpg")]
    assert set(first) == set(other)
    assert all(first[name] != other[name] for name in images)


def test_layout_is_readable_by_torchvision_voc(small_root: Path) -> None:
    voc = VOCSegmentation(str(small_root), year="2012", image_set="val", download=False)
    image, mask = voc[0]
    assert len(voc) == 10
    assert image.mode == "RGB" and mask.mode == "P"
    palette = np.array(mask.getpalette(), dtype=np.uint8).reshape(-1, 3)
    assert np.array_equal(palette[:256], voc_colormap())
    metadata = json.loads((small_root / "VOCdevkit/VOC2012/SYNTHETIC.json").read_text())
    assert metadata["seed"] == 0 and metadata["num_train"] == 40 and metadata["num_val"] == 10
    assert metadata["classes"] == list(dataset_info("synthetic").class_names)


def test_items_through_build_dataset(small_root: Path) -> None:
    train = build_dataset("synthetic", small_root, "train")
    val = build_dataset("synthetic", small_root, "val")
    test = build_dataset("synthetic", small_root, "test")
    assert (len(train), len(val), len(test)) == (40, 10, 6)
    assert not {img.name for img, _ in test.samples} & {img.name for img, _ in val.samples}
    present: set[int] = set()
    for image, mask in train:
        assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8
        assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64
        assert image.shape[0] == 3 and image.shape[1:] == mask.shape
        assert 64 <= mask.shape[0] <= 96 and 64 <= mask.shape[1] <= 96
        values = set(np.unique(mask.numpy()).tolist())
        assert values <= set(range(21)) | {255}
        present |= values
    assert present == set(range(21)) | {255}


def test_class_table_has_the_designed_relations() -> None:
    by_label = {c.label: c for c in SYNTHETIC_CLASSES}
    assert sorted(by_label) == list(range(1, 21))
    assert len({(c.shape, c.colour, c.texture) for c in SYNTHETIC_CLASSES}) == 20
    for c in SYNTHETIC_CLASSES:
        family = [m for m in SYNTHETIC_CLASSES if m.family == c.family]
        assert {m.shape for m in family} == {c.shape} and len(family) == 4
        same_look = [m for m in SYNTHETIC_CLASSES if (m.colour, m.texture) == (c.colour, c.texture)]
        if c.role in ("look-alike", "texture twin"):
            assert len({m.shape for m in same_look}) == 2, c
    for a, b, placement in CO_OCCURRENCE:
        assert by_label[a].family != by_label[b].family
        assert placement in ("concentric", "adjacent")


def test_render_sample_draws_anchor_on_top_and_marks_contours() -> None:
    for anchor in range(1, 21):
        image, mask = render_sample(np.random.default_rng(anchor), 80, 72, anchor)
        assert image.shape == (80, 72, 3) and image.dtype == np.uint8
        assert mask.shape == (80, 72) and (mask == anchor).sum() > 0
        changes = (mask[:, 1:] != mask[:, :-1]) & (mask[:, 1:] != 255) & (mask[:, :-1] != 255)
        assert not changes.any()
    with pytest.raises(ValueError, match="anchor"):
        render_sample(np.random.default_rng(0), 64, 64, 21)


def test_ensure_synthetic_reuses_complete_and_regenerates_incomplete(tmp_path: Path) -> None:
    root = ensure_synthetic(tmp_path, seed=3, num_train=4, num_val=2)
    marker = root / "VOCdevkit/VOC2012/JPEGImages/train_00000.jpg"
    stamp = marker.stat().st_mtime_ns
    ensure_synthetic(root, seed=3, num_train=4, num_val=2)
    assert marker.stat().st_mtime_ns == stamp
    (root / "VOCdevkit/VOC2012/SegmentationClass/val_00001.png").unlink()
    assert not synthetic_is_complete(root, seed=3, num_train=4, num_val=2)
    ensure_synthetic(root, seed=3, num_train=4, num_val=2)
    assert synthetic_is_complete(root, seed=3, num_train=4, num_val=2)
    assert not synthetic_is_complete(root, seed=4, num_train=4, num_val=2)
    ensure_synthetic(root, seed=4, num_train=4, num_val=2)
    assert synthetic_is_complete(root, seed=4, num_train=4, num_val=2)


def test_interrupted_generation_keeps_previous_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_synthetic(tmp_path, seed=0, num_train=3, num_val=2)
    before = _tree_hashes(tmp_path / "VOCdevkit")
    calls = []

    def failing(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return render_sample(*args, **kwargs)

    monkeypatch.setattr(synthetic, "render_sample", failing)
    with pytest.raises(KeyboardInterrupt):
        make_synthetic(tmp_path, seed=9, num_train=3, num_val=2)
    assert _tree_hashes(tmp_path / "VOCdevkit") == before
    assert [p.name for p in tmp_path.iterdir()] == ["VOCdevkit"]
    assert synthetic_is_complete(tmp_path, seed=0, num_train=3, num_val=2)


def test_refuses_to_replace_foreign_vocdevkit(tmp_path: Path) -> None:
    (tmp_path / "VOCdevkit/VOC2012").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not a generated dataset"):
        make_synthetic(tmp_path, num_train=2, num_val=1)
    with pytest.raises(FileExistsError):
        ensure_synthetic(tmp_path, num_train=2, num_val=1)


def test_bad_parameters_and_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="num_train"):
        make_synthetic(tmp_path, num_train=0)
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic(tmp_path, image_size=(96, 64))
    with pytest.raises(FileNotFoundError, match="make-synthetic"):
        build_dataset("synthetic", tmp_path / "absent", "train")
    with pytest.raises(ValueError, match="valid splits"):
        build_dataset("synthetic", tmp_path, "train_aug")


def test_sample_grid_png(small_root: Path, tmp_path: Path) -> None:
    val = build_dataset("synthetic", small_root, "val")
    path = save_sample_grid(val, tmp_path / "grid.png", num_samples=4)
    with Image.open(path) as grid:
        assert grid.mode == "RGB"
        assert grid.width >= 8 * 64 and grid.height >= 64
        pixels = np.asarray(grid)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 21


@pytest.mark.slow
def test_default_size_counts_and_coverage() -> None:
    root = ensure_synthetic(synthetic.DEFAULT_SYNTHETIC_ROOT)  # the tests' own default root, shared with the notebooks
    lists = root / "VOCdevkit/VOC2012/ImageSets/Segmentation"
    assert len((lists / "train.txt").read_text().split()) == 1000
    assert len((lists / "val.txt").read_text().split()) == 300
    pixels = np.zeros(256, dtype=np.int64)
    for png in (root / "VOCdevkit/VOC2012/SegmentationClass").glob("train_*.png"):
        pixels += np.bincount(np.asarray(Image.open(png)).ravel(), minlength=256)
    assert set(np.flatnonzero(pixels)) == set(range(21)) | {255}
    assert pixels[1:21].min() > 0.2 * pixels[1:21].mean()


def test_default_parameters_are_those_of_the_generator(tmp_path: Path) -> None:
    make = inspect.signature(make_synthetic).parameters
    assert synthetic.DEFAULT_PARAMETERS == {name: make[name].default for name in synthetic.DEFAULT_PARAMETERS}
    assert set(synthetic.DEFAULT_PARAMETERS) == set(make) - {"root"}


def test_temporary_folders_of_dead_generators_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".synthetic-{int(dead.stdout)}-abc"
    live = tmp_path / f".synthetic-{os.getpid()}-def"
    for folder in (stale, live):
        (folder / "VOCdevkit").mkdir(parents=True)
    assert synthetic.remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and live.exists()


def test_a_dataset_of_another_generator_version_is_refused_with_the_fix(tmp_path: Path) -> None:
    make_synthetic(tmp_path, num_train=2, num_val=1, num_test=1)
    metadata = tmp_path / "VOCdevkit/VOC2012/SYNTHETIC.json"
    metadata.write_text(json.dumps({**json.loads(metadata.read_text()), "generator_version": synthetic.GENERATOR_VERSION - 1}))
    with pytest.raises(DataError, match=rf"generator version {synthetic.GENERATOR_VERSION - 1}.*make-synthetic --root"):
        synthetic.generate_if_absent(tmp_path)
    assert metadata.is_file()


def test_an_existing_dataset_is_never_regenerated_implicitly(tmp_path: Path) -> None:
    make_synthetic(tmp_path, seed=7, num_train=2, num_val=1, num_test=1)
    (tmp_path / "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt").unlink()
    assert not synthetic.generate_if_absent(tmp_path)
    assert json.loads((tmp_path / "VOCdevkit/VOC2012/SYNTHETIC.json").read_text())["seed"] == 7
    with pytest.raises(FileNotFoundError, match=r"train.txt is missing; regenerate .*--seed 7"):
        synthetic.synthetic_description(tmp_path, ("train",))


def test_training_generates_the_default_root_only(tmp_path: Path, monkeypatch) -> None:
    small = dict(seed=0, num_train=2, num_val=1, num_test=1, image_size=(32, 40))
    monkeypatch.setattr(synthetic, "DEFAULT_PARAMETERS", small)
    monkeypatch.setattr(synthetic, "DEFAULT_SYNTHETIC_ROOT", tmp_path / "default")
    typo = tmp_path / "typo" / "synthetic"
    with pytest.raises(FileNotFoundError, match=rf"no generated dataset at {typo}; .*make-synthetic --root {typo}"):
        synthetic.generate_for_training(typo)
    assert not (tmp_path / "typo").exists()
    assert synthetic.generate_for_training(tmp_path / "default")  # the default root is generated on first use
    assert not synthetic.generate_for_training(tmp_path / "default")
    make_synthetic(typo, **small)  # generated when asked
    assert not synthetic.generate_for_training(typo)
