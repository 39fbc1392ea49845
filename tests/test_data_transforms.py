"""Joint image + mask transforms: label set kept, 255 padding, joint flips, output sizes."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors

from aicsd.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_size_of, eval_transforms, pad_collate, train_transforms

LABELS = torch.tensor([0, 3, 7, 20, 255])


def _sample(height: int = 40, width: int = 60, seed: int = 0) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    generator = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)
    mask = LABELS[torch.randint(0, len(LABELS), (height, width), generator=generator)]
    return tv_tensors.Image(image), tv_tensors.Mask(mask)


def _normalize(image: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image.float() / 255 - mean) / std


@pytest.mark.parametrize("crop_size", [32, (24, 48), 100])
def test_train_output_shapes_dtypes_and_label_set(crop_size: int | tuple[int, int]) -> None:
    transform = train_transforms(crop_size)
    expected = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    torch.manual_seed(0)
    for seed in range(8):
        image, mask = transform(*_sample(seed=seed))
        assert type(image) is torch.Tensor and image.dtype == torch.float32
        assert type(mask) is torch.Tensor and mask.dtype == torch.int64
        assert image.shape == (3, *expected) and mask.shape == expected
        assert set(mask.unique().tolist()) <= set(LABELS.tolist())


def test_train_pads_mask_with_ignore_and_image_with_zero() -> None:
    image, mask = _sample(20, 30)
    transform = train_transforms((32, 48), (1.0, 1.0), base_size=20, hflip_p=0.0, blur_p=0.0)
    out_image, out_mask = transform(image, mask)
    assert torch.equal(out_mask[:20, :30], mask)
    assert (out_mask[20:] == 255).all() and (out_mask[:, 30:] == 255).all()
    assert torch.allclose(out_image[:, :20, :30], _normalize(image), atol=1e-5)
    assert torch.allclose(out_image[:, 20:], _normalize(torch.zeros(3, 12, 48)), atol=1e-5)


def test_train_flip_flips_image_and_mask_together() -> None:
    image, mask = _sample(20, 30)
    transform = train_transforms((20, 30), (1.0, 1.0), base_size=20, hflip_p=1.0, blur_p=0.0)
    out_image, out_mask = transform(image, mask)
    assert torch.equal(out_mask, mask.flip(-1))
    assert torch.allclose(out_image, _normalize(image.flip(-1)), atol=1e-5)


def test_train_scale_uses_nearest_for_masks_and_blur_spares_them() -> None:
    image, mask = _sample(20, 30)
    transform = train_transforms((40, 60), (2.0, 2.0), base_size=20, hflip_p=0.0, blur_p=1.0)
    _, out_mask = transform(image, mask)
    assert torch.equal(out_mask, mask.repeat_interleave(2, 0).repeat_interleave(2, 1))


def test_train_scale_range_sets_short_side() -> None:
    transform = train_transforms(16, (0.5, 0.5), base_size=30, hflip_p=0.0, blur_p=0.0)
    image, _ = _sample(60, 90)
    _, out_mask = transform(image, tv_tensors.Mask(torch.full((60, 90), 3)))
    assert out_mask.shape == (16, 16)
    assert (out_mask[:15] == 3).all() and (out_mask[15] == 255).all()


def test_train_is_reproducible_under_torch_seed() -> None:
    transform = train_transforms(24)
    torch.manual_seed(3)
    first = transform(*_sample())
    torch.manual_seed(3)
    second = transform(*_sample())
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_train_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="crop_size"):
        train_transforms(0)
    with pytest.raises(ValueError, match="crop_size"):
        train_transforms((10, 10, 10))
    with pytest.raises(ValueError, match="scale_range"):
        train_transforms(32, (2.0, 0.5))


def test_eval_released_resizes_short_side() -> None:
    image, mask = _sample(50, 80)
    out_image, out_mask = eval_transforms("released", size=100)(image, mask)
    assert out_image.shape == (3, 100, 160) and out_mask.shape == (100, 160)
    assert out_image.dtype == torch.float32 and out_mask.dtype == torch.int64
    assert set(out_mask.unique().tolist()) <= set(LABELS.tolist())
    _, tall = eval_transforms("released", size=64)(*_sample(80, 50))
    assert tall.shape == (102, 64)


def test_eval_full_keeps_native_resolution() -> None:
    image, mask = _sample(50, 80)
    out_image, out_mask = eval_transforms("full")(image, mask)
    assert torch.equal(out_mask, mask)
    assert torch.allclose(out_image, _normalize(image), atol=1e-5)


def test_eval_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="released"):
        eval_transforms("native")


def test_pad_collate_pads_to_largest() -> None:
    small = (torch.ones(3, 4, 5), torch.full((4, 5), 7))
    large = (torch.ones(3, 6, 3) * 2, torch.full((6, 3), 9))
    images, masks = pad_collate([small, large])
    assert images.shape == (2, 3, 6, 5) and masks.shape == (2, 6, 5)
    assert (images[0, :, :4, :5] == 1).all() and (images[0, :, 4:] == 0).all()
    assert (masks[0, :4, :5] == 7).all() and (masks[0, 4:] == 255).all()
    assert (images[1, :, :, :3] == 2).all() and (images[1, :, :, 3:] == 0).all()
    assert (masks[1, :, :3] == 9).all() and (masks[1, :, 3:] == 255).all()
    assert masks.dtype == small[1].dtype


def test_pad_collate_rejects_bad_batches() -> None:
    with pytest.raises(ValueError, match="empty"):
        pad_collate([])
    with pytest.raises(ValueError, match="item 0"):
        pad_collate([(torch.zeros(3, 4, 4), torch.zeros(4, 5))])


def test_train_scale_is_relative_to_the_image_shorter_side_without_base_size() -> None:
    transform = train_transforms(100, (0.5, 0.5), hflip_p=0.0, blur_p=0.0)
    for height, width in ((60, 90), (90, 40)):
        image, _ = _sample(height, width)
        _, out_mask = transform(image, tv_tensors.Mask(torch.full((height, width), 3)))
        scaled = (30, 45) if height == 60 else (45, 20)
        assert (out_mask[: scaled[0], : scaled[1]] == 3).all()
        assert (out_mask[scaled[0]:] == 255).all() and (out_mask[:, scaled[1]:] == 255).all()


def test_train_scale_with_base_size_draws_as_random_resize() -> None:
    """With a base size the numbers are those of ``v2.RandomResize`` (the generated dataset's runs are unchanged)."""
    from torchvision.transforms import v2

    image, mask = _sample(70, 90)
    reference = v2.RandomResize(32, 2 * 64 + 1)
    ours = train_transforms(64, (0.5, 2.0), base_size=64, hflip_p=0.0, blur_p=0.0).transforms[0]
    for seed in range(10):
        torch.manual_seed(seed)
        expected = reference(image, mask)
        torch.manual_seed(seed)
        assert all(torch.equal(a, b) for a, b in zip(ours(image, mask), expected, strict=True))


@pytest.mark.parametrize(("height", "width"), [(360, 480), (480, 360), (375, 500), (50, 80)])
@pytest.mark.parametrize("mode", ["released", "full"])
def test_eval_size_of_names_the_scored_label_size(height: int, width: int, mode: str) -> None:
    _, mask = eval_transforms(mode, size=160)(*_sample(height, width))
    assert eval_size_of(height, width, mode, 160) == tuple(mask.shape)
    assert eval_size_of(360, 480, "released", 160) == (160, 213)
