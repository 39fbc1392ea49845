"""Backbones cut into four stages with named taps: torchvision ResNet-18/50/101 and MobileNetV2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from torch import Tensor, nn
from torchvision.models import mobilenet_v2, resnet18, resnet50, resnet101
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from aicsd.taps import STAGES
from aicsd.models.dilation import dilate_basic_layer, dilate_mobilenet_v2
from aicsd.models.pretrained import load_pretrained, require_pretrained_file
from aicsd.models.resnet import STAGE_PLANES, ScaledResNet
from aicsd.models.widths import check_width_multiplier, scale_channels

BACKBONES = ("resnet101", "resnet50", "resnet18", "mobilenet_v2")
BACKBONE_OUTPUT_STRIDES = (8, 16, 32)

# Which of ResNet's layer2/3/4 trade their stride for dilation, per output stride.
_DILATED_STAGES = MappingProxyType({8: (False, True, True), 16: (False, False, True), 32: (False, False, False)})

# MobileNetV2 ``features`` indices ending each stage: stride 4 (24 ch, the released code's
# low-level feature ``features[:4]``), 8 (32 ch), 16 (96 ch), 32 (320 ch). ``features[18]``, the
# final 1x1 conv to 1280 channels, is dropped as in the released code.
_MOBILENET_V2_TAPS = MappingProxyType({"3": "stage1", "6": "stage2", "13": "stage3", "17": "stage4"})


@dataclass(frozen=True)
class _ResNetSpec:
    block: type[BasicBlock | Bottleneck]
    layers: tuple[int, int, int, int]
    builder: Callable[..., ResNet]


_RESNETS = MappingProxyType(
    {
        "resnet101": _ResNetSpec(Bottleneck, (3, 4, 23, 3), resnet101),
        "resnet50": _ResNetSpec(Bottleneck, (3, 4, 6, 3), resnet50),
        "resnet18": _ResNetSpec(BasicBlock, (2, 2, 2, 2), resnet18),
    }
)


class Backbone(nn.Module):
    """A classification trunk returning its four stages by name.

    ``forward``: (B, 3, H, W) -> ``{"stage1": (B, C1, H/4, W/4), "stage2": (B, C2, H/8, W/8),
    "stage3": (B, C3, H/min(16, OS), .), "stage4": (B, C4, H/OS, W/OS)}`` (sizes rounded up),
    with ``C_k = channels["stage<k>"]`` and OS = ``output_stride``.
    """

    def __init__(self, body: IntermediateLayerGetter, channels: dict[str, int], output_stride: int) -> None:
        super().__init__()
        if tuple(channels) != STAGES:
            raise ValueError(f"channels must name exactly {STAGES}, got {tuple(channels)}")
        self.body = body
        self._channels = dict(channels)
        self.output_stride = output_stride

    @property
    def channels(self) -> dict[str, int]:
        """Channels of each stage tap, ``{"stage1": C1, ..., "stage4": C4}`` (a copy)."""
        return dict(self._channels)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return dict(self.body(x))


def build_backbone(
    name: str, *, output_stride: int = 16, pretrained: bool = False, width_multiplier: float = 1.0
) -> Backbone:
    """Build backbone ``name`` (one of :data:`BACKBONES`) dilated to ``output_stride`` (8, 16 or 32).

    ``width_multiplier`` < 1 narrows every layer (see :class:`ScaledResNet`; MobileNetV2 uses
    torchvision's ``width_mult``). ``pretrained=True`` loads torchvision's ImageNet weights from
    the local torch hub cache only (FileNotFoundError if absent; width 1.0 only).
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; valid backbones: {', '.join(BACKBONES)}")
    if output_stride not in BACKBONE_OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {BACKBONE_OUTPUT_STRIDES}, got {output_stride!r}")
    width_multiplier = check_width_multiplier(width_multiplier)
    if pretrained:
        if width_multiplier != 1.0:
            raise ValueError(
                f"pretrained_backbone=True needs width_multiplier=1.0 (ImageNet weights exist only at full "
                f"width), got {width_multiplier}"
            )
        require_pretrained_file(name)
    if name == "mobilenet_v2":
        return _build_mobilenet_v2(output_stride, pretrained, width_multiplier)
    return _build_resnet(name, output_stride, pretrained, width_multiplier)


def _build_resnet(name: str, output_stride: int, pretrained: bool, width_multiplier: float) -> Backbone:
    """ResNet taps layer1..layer4; Bottleneck stages dilated by torchvision, BasicBlock ones by us."""
    spec = _RESNETS[name]
    dilated = _DILATED_STAGES[output_stride]
    torchvision_dilated = list(dilated) if spec.block is Bottleneck else [False, False, False]
    if width_multiplier == 1.0:
        net = spec.builder(weights=None, replace_stride_with_dilation=torchvision_dilated)
        if pretrained:
            load_pretrained(net, name)
    else:
        net = ScaledResNet(
            spec.block,
            spec.layers,
            width_multiplier=width_multiplier,
            replace_stride_with_dilation=torchvision_dilated,
        )
    if spec.block is BasicBlock:
        dilation = 1
        for layer, dilate in zip((net.layer2, net.layer3, net.layer4), dilated):
            if dilate:
                dilation = dilate_basic_layer(layer, previous_dilation=dilation)
    channels = {
        stage: scale_channels(planes, width_multiplier) * spec.block.expansion
        for stage, planes in zip(STAGES, STAGE_PLANES)
    }
    body = IntermediateLayerGetter(net, {f"layer{i}": stage for i, stage in enumerate(STAGES, start=1)})
    return Backbone(body, channels, output_stride)


def _build_mobilenet_v2(output_stride: int, pretrained: bool, width_multiplier: float) -> Backbone:
    """MobileNetV2 ``features[:18]`` (no final 1280-channel conv), depthwise convs dilated past ``output_stride``."""
    net = mobilenet_v2(weights=None, width_mult=width_multiplier)
    if pretrained:
        load_pretrained(net, "mobilenet_v2")
    features = net.features[:-1]
    dilate_mobilenet_v2(features, output_stride)
    channels = {stage: features[int(index)].out_channels for index, stage in _MOBILENET_V2_TAPS.items()}
    body = IntermediateLayerGetter(features, dict(_MOBILENET_V2_TAPS))
    return Backbone(body, channels, output_stride)
