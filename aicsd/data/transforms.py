"""Joint image + mask transforms (torchvision.transforms.v2 on tv_tensors.Image / tv_tensors.Mask).

Inputs are an Image (3, H, W) uint8 and a Mask (H, W) int64; outputs after the presets are a plain
float32 image tensor (3, h, w), ImageNet-normalised, and an int64 mask (h, w). Masks are always
resized with nearest neighbour and padded with 255 (ignore), so their values stay in the label set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from aicsd.data.info import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EVAL_MODES = ("released", "full")


def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or any(not isinstance(s, int) or s < 1 for s in pair):
        raise ValueError(f"{name} must be a positive int or (height, width), got {size!r}")
    return pair[0], pair[1]


class PadIfSmaller(v2.Transform):
    """Pad right and bottom up to ``size`` (h, w): images with ``fill``, masks with ``mask_fill``.

    Unlike ``v2.RandomCrop(pad_if_needed=True)``, which pads both sides by the whole deficit, this
    pads only what is missing, as the released code and torchvision's segmentation references do.
    """

    def __init__(self, size: int | Sequence[int], fill: float = 0, mask_fill: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.size = _pair(size, "size")
        self.fill = fill
        self.mask_fill = mask_fill

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        return {"padding": [0, 0, max(self.size[1] - width, 0), max(self.size[0] - height, 0)]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not any(params["padding"]):
            return inpt
        fill = self.mask_fill if isinstance(inpt, tv_tensors.Mask) else self.fill
        return self._call_kernel(v2.functional.pad, inpt, padding=params["padding"], fill=fill)


def _to_normalized(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    dtypes = {tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}
    return [v2.ToDtype(dtypes, scale=True), v2.Normalize(mean=list(mean), std=list(std)), v2.ToPureTensor()]


class RandomShortSideScale(v2.Transform):
    """Resize so that the shorter side becomes an integer drawn uniformly from ``scale_range x base``.

    ``base`` is ``base_size`` or, when that is ``None``, the input's own shorter side (a scale
    relative to the image). Aspect ratio kept; images bilinear (antialiased), masks nearest. With a
    ``base_size`` it draws the same numbers as ``v2.RandomResize(low * base, high * base + 1)``.
    """

    def __init__(self, scale_range: tuple[float, float], base_size: int | None = None) -> None:
        super().__init__()
        low, high = scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        if base_size is not None and base_size < 1:
            raise ValueError(f"base_size must be None (the image's shorter side) or >= 1, got {base_size}")
        self.scale_range = (low, high)
        self.base_size = base_size

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        base = min(height, width) if self.base_size is None else self.base_size
        low, high = (max(1, round(factor * base)) for factor in self.scale_range)
        return {"size": int(torch.randint(low, high + 1, ()))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(
            v2.functional.resize, inpt, size=[params["size"]], interpolation=v2.InterpolationMode.BILINEAR, antialias=True
        )


def train_transforms(
    crop_size: int | Sequence[int],
    scale_range: tuple[float, float] = (0.5, 2.0),
    *,
    base_size: int | None = None,
    hflip_p: float = 0.5,
    blur_p: float = 0.5,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """The released code's training augmentation, for (Image, Mask) -> (float (3, h, w), int64 (h, w)).

    1. Random scale (:class:`RandomShortSideScale`): the shorter side becomes an integer drawn
       uniformly from ``scale_range x base``, where ``base`` is the image's own shorter side
       (``base_size=None``) or ``base_size``: the shorter side the image has at evaluation. The
       released code drew from 0.5-2.0 x ``base_size`` 513, its evaluation size, with 513 crops; the
       engine passes the run's ``eval_size`` in ``released`` evaluation and ``None`` (native
       resolution) in ``full``. Image bilinear (antialiased), mask nearest.
    2. Random horizontal flip (``hflip_p``), of image and mask together.
    3. Pad right/bottom to the crop size, image with 0 and mask with 255 (ignore). The released
       code padded VOC masks with 0, i.e. labelled the padding as background: a bug not copied here.
    4. Random crop to ``crop_size`` (int or (h, w)).
    5. Gaussian blur with probability ``blur_p``, sigma in 0.1-1.0 (the released code: PIL
       radius uniform in 0-1), image only.
    6. To float in [0, 1] and normalise with ``mean``/``std`` (ImageNet by default), image only.
    """
    crop = _pair(crop_size, "crop_size")
    return v2.Compose(
        [
            RandomShortSideScale(scale_range, base_size),
            v2.RandomHorizontalFlip(hflip_p),
            PadIfSmaller(crop),
            v2.RandomCrop(crop),
            v2.RandomApply([v2.GaussianBlur(kernel_size=7, sigma=(0.1, 1.0))], p=blur_p),
            *_to_normalized(mean, std),
        ]
    )


def eval_size_of(height: int, width: int, mode: str, size: int) -> tuple[int, int]:
    """(h, w) at which :func:`eval_transforms` scores an (height, width) image and its labels.

    ``"released"``: shorter side ``size``, longer side ``int(size * long / short)`` (torchvision's
    ``Resize`` rule; labels resized nearest); ``"full"``: the original (height, width).
    """
    if mode not in EVAL_MODES:
        raise ValueError(f"eval mode must be one of {EVAL_MODES}, got {mode!r}")
    if mode == "full":
        return height, width
    short, long = sorted((height, width))
    resized = (size, int(size * long / short))
    return resized if height <= width else resized[::-1]


def eval_transforms(
    mode: str = "released",
    size: int = 513,
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """Validation transforms, (Image, Mask) -> (float (3, h, w), int64 (h, w)).

    ``"released"``: shorter side resized to ``size`` with the aspect ratio kept, as the released code
    evaluated (513 for VOC); the labels are resized with it (nearest), so the metrics score
    downsampled labels (CamVid 360 x 480 at ``size`` 160: 160 x 213). ``"full"``: native resolution,
    labels as annotated, the standard protocol. :func:`eval_size_of` gives the scored size. Both
    normalise the image with ``mean``/``std``.
    """
    if mode not in EVAL_MODES:
        raise ValueError(f"eval mode must be one of {EVAL_MODES}, got {mode!r}")
    resize = [v2.Resize(size)] if mode == "released" else []
    return v2.Compose([*resize, *_to_normalized(mean, std)])


def pad_collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack items of different sizes, padding right/bottom to the largest H and W of the batch.

    Args:
        batch: ``(image (3, H_i, W_i), mask (H_i, W_i))`` pairs.

    Returns:
        images (B, 3, H, W), padded with 0; masks (B, H, W), padded with 255 (ignore).
    """
    if not batch:
        raise ValueError("pad_collate got an empty batch")
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    first_image, first_mask = batch[0]
    images = first_image.new_zeros((len(batch), first_image.shape[0], height, width))
    masks = first_mask.new_full((len(batch), height, width), IGNORE_INDEX)
    for i, (image, mask) in enumerate(batch):
        if image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                f"pad_collate: item {i} has image {tuple(image.shape)} but mask {tuple(mask.shape)}"
            )
        images[i, :, : image.shape[-2], : image.shape[-1]] = image
        masks[i, : mask.shape[-2], : mask.shape[-1]] = mask
    return images.as_subclass(torch.Tensor), masks.as_subclass(torch.Tensor)
