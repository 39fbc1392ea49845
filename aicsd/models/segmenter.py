"""``build_segmenter``: the one entry point that turns a backbone name into a DeepLabV3+ model."""

from __future__ import annotations

from aicsd.models.backbones import build_backbone
from aicsd.models.deeplabv3plus import ASPP_RATES, DeepLabV3Plus

SEGMENTER_OUTPUT_STRIDES = tuple(sorted(ASPP_RATES))


def build_segmenter(
    backbone: str,
    num_classes: int,
    *,
    output_stride: int = 16,
    pretrained_backbone: bool = False,
    width_multiplier: float = 1.0,
) -> DeepLabV3Plus:
    """DeepLabV3+ with ``backbone`` (one of ``BACKBONES``) for ``num_classes`` classes.

    ``output_stride`` 16 (released default) or 8. ``pretrained_backbone=True`` loads torchvision's
    ImageNet weights from ``torch.hub.get_dir()/checkpoints`` only, never downloading
    (FileNotFoundError naming the file if missing). ``width_multiplier`` in (0, 1] narrows every
    backbone and head width (rounded to multiples of 8, at least 8); 1.0 is the paper's model.
    With 21 classes at OS 16 and width 1.0: resnet101 59.34 M, resnet18 16.61 M,
    mobilenet_v2 5.82 M parameters, as the released models.
    """
    if output_stride not in SEGMENTER_OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {SEGMENTER_OUTPUT_STRIDES}, got {output_stride!r}")
    trunk = build_backbone(
        backbone,
        output_stride=output_stride,
        pretrained=pretrained_backbone,
        width_multiplier=width_multiplier,
    )
    return DeepLabV3Plus(trunk, num_classes, width_multiplier=width_multiplier)
