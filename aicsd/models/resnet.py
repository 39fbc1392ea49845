"""Narrow ResNets: torchvision's ResNet with every width scaled."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from aicsd.models.widths import check_width_multiplier, scale_channels

STEM_CHANNELS = 64
STAGE_PLANES = (64, 128, 256, 512)


class ScaledResNet(ResNet):
    """torchvision's ``ResNet`` with the stem and every stage ``width_multiplier`` times as wide.

    torchvision fixes the stem at 64 channels and the stages at 64/128/256/512 planes
    (x ``block.expansion`` output channels). This subclass repeats the short body of
    ``ResNet.__init__`` (torchvision 0.29) with those numbers passed through
    :func:`scale_channels`: stem ``s(64)``, stage planes ``s(64), s(128), s(256), s(512)``.
    The stages are built by the inherited ``ResNet._make_layer``, run by the inherited
    ``forward`` and initialised as torchvision does (Kaiming-normal fan-out convs, BN 1/0), so
    module names and state-dict keys are torchvision's, and at width 1.0 every tensor shape is
    torchvision's (a test checks it). ``ResNet.__init__`` itself is not called because it would
    first build the full-width network.

    Example: ``ScaledResNet(BasicBlock, [2, 2, 2, 2], width_multiplier=0.25)`` is a ResNet-18
    with stem 16 and stage outputs 16/32/64/128 channels.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        *,
        width_multiplier: float,
        replace_stride_with_dilation: Sequence[bool] = (False, False, False),
        num_classes: int = 1000,
    ) -> None:
        nn.Module.__init__(self)
        width_multiplier = check_width_multiplier(width_multiplier)
        if len(layers) != 4 or len(replace_stride_with_dilation) != 3:
            raise ValueError(
                f"expected 4 stage depths and 3 dilation flags, got {list(layers)} and "
                f"{list(replace_stride_with_dilation)}"
            )
        planes = [scale_channels(p, width_multiplier) for p in STAGE_PLANES]
        self._norm_layer = nn.BatchNorm2d
        self.groups = 1
        self.base_width = 64
        self.dilation = 1
        self.inplanes = scale_channels(STEM_CHANNELS, width_multiplier)
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, planes[2], layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, planes[3], layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes[3] * block.expansion, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
