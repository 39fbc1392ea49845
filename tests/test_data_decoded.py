"""Decoded images kept in memory: the same items as the files give, invalidated by a rewritten file,
bounded in memory, and never handed to DataLoader worker processes."""

import dataclasses
import os

import pytest
import torch
from torchvision import tv_tensors

from aicsd.data import build_dataset, make_synthetic
from aicsd.data.decoded import DecodedImages, with_decoded
from aicsd.data.transforms import train_transforms
from aicsd.engine import load_profile
from aicsd.engine.loaders import build_eval_dataset, decoded_images_of


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("decoded") / "data", num_train=6, num_val=2, num_test=2, image_size=(32, 32))


def _items(dataset, seed):
    torch.manual_seed(seed)
    return [dataset[index] for index in range(len(dataset))]


def test_items_through_the_decoded_images_equal_the_files_over_two_epochs(data_root):
    files = build_dataset("synthetic", data_root, "train", transforms=train_transforms(16, scale_range=(0.75, 1.25)))
    decoded = DecodedImages()
    kept = with_decoded(files, decoded)
    for epoch in range(2):
        for (image_a, mask_a), (image_b, mask_b) in zip(_items(files, epoch), _items(kept, epoch), strict=True):
            assert torch.equal(image_a, image_b) and torch.equal(mask_a, mask_b)
            assert mask_b.dtype == torch.int64
    assert (decoded.misses, decoded.hits, len(decoded)) == (6, 6, 6)
    raw = with_decoded(build_dataset("synthetic", data_root, "train"), decoded)[0]
    assert isinstance(raw[0], tv_tensors.Image) and isinstance(raw[1], tv_tensors.Mask)
    assert decoded.hits == 7  # the same files and label map, without transforms, hit too


def test_a_transform_changing_its_input_cannot_change_the_kept_item(data_root):
    def scribble(image, mask):
        image.zero_()
        mask.fill_(255)
        return image, mask

    kept = with_decoded(build_dataset("synthetic", data_root, "val", transforms=scribble), DecodedImages())
    kept[0]
    plain = build_dataset("synthetic", data_root, "val")[0]
    again = with_decoded(build_dataset("synthetic", data_root, "val"), kept.decoded)[0]
    assert torch.equal(again[0], plain[0]) and torch.equal(again[1], plain[1])


def test_a_rewritten_file_is_decoded_anew(data_root):
    dataset = build_dataset("synthetic", data_root, "test")
    decoded = DecodedImages()
    decoded.load(dataset, 0)
    image_path, _ = dataset.samples[0]
    stat = image_path.stat()
    os.utime(image_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    decoded.load(dataset, 0)
    assert (decoded.misses, decoded.hits) == (2, 0)


def test_the_decoded_images_hold_at_most_max_bytes_dropping_the_least_recently_used(data_root):
    dataset = build_dataset("synthetic", data_root, "train")
    item = 3 * 32 * 32 + 32 * 32  # uint8 image and mask
    decoded = DecodedImages(max_bytes=2 * item)
    decoded.load(dataset, 0)
    decoded.load(dataset, 1)
    decoded.load(dataset, 0)  # item 0 is now the most recent
    decoded.load(dataset, 2)  # drops item 1
    assert decoded.bytes == 2 * item and len(decoded) == 2
    decoded.load(dataset, 1)
    assert (decoded.hits, decoded.misses) == (1, 4)
    too_small = DecodedImages(max_bytes=item - 1)
    too_small.load(dataset, 0)
    assert len(too_small) == 0 and too_small.bytes == 0
    with pytest.raises(ValueError, match="max_bytes"):
        DecodedImages(max_bytes=-1)


def test_runs_with_dataloader_workers_read_their_files(data_root):
    cfg = load_profile("smoke", data_root=str(data_root), device="cpu")
    decoded = DecodedImages()
    assert decoded_images_of(cfg, decoded) is decoded
    with_workers = dataclasses.replace(cfg, num_workers=2)
    assert decoded_images_of(with_workers, decoded) is None
    assert not hasattr(build_eval_dataset(with_workers, "val", decoded), "decoded")
    assert build_eval_dataset(cfg, "val", decoded).decoded is decoded
