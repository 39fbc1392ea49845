"""DeepLabV3+ (Chen et al., ECCV 2018) as in the released AICSD code: ASPP, decoder, named taps."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.segmentation.deeplabv3 import ASPPPooling
from torchvision.ops import Conv2dNormActivation

from aicsd.taps import ASPP as ASPP_TAP
from aicsd.taps import DECODER, DECODER_LOGITS, FEATURE_KEYS, LOGITS
from aicsd.models.backbones import Backbone
from aicsd.models.widths import check_width_multiplier, scale_channels

ASPP_RATES = MappingProxyType({16: (6, 12, 18), 8: (12, 24, 36)})
HEAD_CHANNELS = 256
LOW_LEVEL_CHANNELS = 48


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: (B, C_in, h, w) -> (B, C_out, h, w).

    Five branches (1x1 conv, three 3x3 convs dilated by ``rates``, image pooling), each conv + BN
    + ReLU with ``out_channels``, concatenated and projected by 1x1 conv + BN + ReLU. The released
    code's dropout 0.5 after the projection is applied by :class:`DeepLabV3Plus`, so this output
    (the ``"aspp"`` tap) is the same tensor in train and eval mode.
    """

    def __init__(self, in_channels: int, rates: Sequence[int], out_channels: int) -> None:
        super().__init__()
        branches: list[nn.Module] = [Conv2dNormActivation(in_channels, out_channels, kernel_size=1)]
        branches += [Conv2dNormActivation(in_channels, out_channels, kernel_size=3, dilation=r) for r in rates]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.branches = nn.ModuleList(branches)
        self.project = Conv2dNormActivation(len(branches) * out_channels, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))


class Decoder(nn.Module):
    """DeepLabV3+ decoder: ASPP (B, A, h, w) + low-level (B, L, H4, W4) -> (B, out_channels, H4, W4).

    The low-level feature is reduced to ``reduced_channels`` (1x1 conv + BN + ReLU); the ASPP
    feature is upsampled bilinearly to its size and put first in the concatenation; then two 3x3
    conv + BN + ReLU with dropout 0.5 between them. The released code's dropout 0.1 after the
    second conv is the first layer of :attr:`DeepLabV3Plus.classifier`, so this output (the
    ``"decoder"`` tap) is the same tensor in train and eval mode.
    """

    def __init__(self, low_level_channels: int, aspp_channels: int, reduced_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = Conv2dNormActivation(low_level_channels, reduced_channels, kernel_size=1)
        self.fuse = nn.Sequential(
            Conv2dNormActivation(aspp_channels + reduced_channels, out_channels, kernel_size=3),
            nn.Dropout(0.5),
            Conv2dNormActivation(out_channels, out_channels, kernel_size=3),
        )

    def forward(self, aspp: Tensor, low_level: Tensor) -> Tensor:
        low_level = self.reduce(low_level)
        aspp = F.interpolate(aspp, size=low_level.shape[-2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([aspp, low_level], dim=1))


class DeepLabV3Plus(nn.Module):
    """DeepLabV3+ segmenter: images (B, 3, H, W) float -> logits (B, num_classes, H, W).

    backbone (stage1 stride 4 ... stage4 stride OS) -> ASPP on stage4 (rates 6/12/18 at OS 16,
    12/24/36 at OS 8) -> dropout 0.5 -> decoder with stage1 -> dropout 0.1 + 1x1 classifier ->
    bilinear upsampling (align_corners=False) to the input size. Head widths: ASPP and decoder
    ``scale_channels(256, w)``, low-level reduction ``scale_channels(48, w)``. Head convs are
    initialised as in the released code (Kaiming-normal weights, BN weight 1 and bias 0).
    """

    def __init__(self, backbone: Backbone, num_classes: int, *, width_multiplier: float = 1.0) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if backbone.output_stride not in ASPP_RATES:
            raise ValueError(
                f"DeepLabV3Plus needs a backbone with output stride in {tuple(ASPP_RATES)}, "
                f"got {backbone.output_stride}"
            )
        width_multiplier = check_width_multiplier(width_multiplier)
        head_channels = scale_channels(HEAD_CHANNELS, width_multiplier)
        stage_channels = backbone.channels
        self.backbone = backbone
        self.num_classes = num_classes
        self.output_stride = backbone.output_stride
        self.aspp = ASPP(stage_channels["stage4"], ASPP_RATES[backbone.output_stride], head_channels)
        self.aspp_dropout = nn.Dropout(0.5)
        self.decoder = Decoder(
            stage_channels["stage1"],
            head_channels,
            scale_channels(LOW_LEVEL_CHANNELS, width_multiplier),
            head_channels,
        )
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Conv2d(head_channels, num_classes, kernel_size=1))
        self._feature_channels = {
            **stage_channels,
            ASPP_TAP: head_channels,
            DECODER: head_channels,
            DECODER_LOGITS: num_classes,
            LOGITS: num_classes,
        }
        for module in (self.aspp, self.decoder, self.classifier):
            _init_head(module)

    @property
    def feature_channels(self) -> dict[str, int]:
        """Channels of every tap of :meth:`forward_features` (``"logits"`` = num_classes); a copy."""
        return dict(self._feature_channels)

    def forward_features(self, x: Tensor) -> dict[str, Tensor]:
        """All taps for images ``x`` (B, 3, H, W).

        Returns ``"stage1"`` .. ``"stage4"`` (backbone stages, strides 4, 8, min(16, OS), OS),
        ``"aspp"`` (B, A, H/OS, W/OS) and ``"decoder"`` (B, D, H/4, W/4), both taken before the
        dropout that follows them, ``"decoder_logits"`` (B, num_classes, H/4, W/4), the classifier's
        output before upsampling, and ``"logits"`` (B, num_classes, H, W), the output of
        ``forward``. Spatial sizes are rounded up. The keys are :data:`aicsd.taps.FEATURE_KEYS`.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
        if self.training and x.shape[0] < 2:
            raise ValueError(
                "a batch of 1 cannot be used in train mode: the ASPP image-pooling branch applies "
                "BatchNorm to a 1x1 map, which needs B >= 2; use drop_last=True in the training "
                "DataLoader, or call model.eval()"
            )
        features = self.backbone(x)
        aspp = self.aspp(features["stage4"])
        decoder = self.decoder(self.aspp_dropout(aspp), features["stage1"])
        decoder_logits = self.classifier(decoder)
        logits = F.interpolate(decoder_logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {**features, ASPP_TAP: aspp, DECODER: decoder, DECODER_LOGITS: decoder_logits, LOGITS: logits}

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, num_classes, H, W) at the input size for images ``x`` (B, 3, H, W)."""
        return self.forward_features(x)["logits"]

    def param_groups(self, lr: float, head_lr_multiplier: float = 10.0) -> list[dict]:
        """Parameter groups for ``torch.optim``: backbone at ``lr``; ASPP, decoder and classifier at
        ``lr * head_lr_multiplier`` (10x in the released code). Each group also has a ``"name"``."""
        if lr <= 0 or head_lr_multiplier <= 0:
            raise ValueError(f"lr and head_lr_multiplier must be positive, got {lr} and {head_lr_multiplier}")
        backbone = list(self.backbone.parameters())
        backbone_ids = {id(p) for p in backbone}
        head = [p for p in self.parameters() if id(p) not in backbone_ids]
        return [
            {"name": "backbone", "params": backbone, "lr": lr},
            {"name": "head", "params": head, "lr": lr * head_lr_multiplier},
        ]


def _init_head(module: nn.Module) -> None:
    """Kaiming-normal conv weights (fan-in), BN weight 1 and bias 0, as the released head."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
