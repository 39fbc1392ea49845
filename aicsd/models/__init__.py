"""DeepLabV3+ segmenters (teacher ResNet-101, students ResNet-18 / MobileNetV2) with named feature taps."""

from aicsd.models.backbones import BACKBONES, STAGES, Backbone, build_backbone
from aicsd.models.deeplabv3plus import ASPP, FEATURE_KEYS, DeepLabV3Plus, Decoder
from aicsd.models.dilation import configure_basic_block, dilate_basic_layer, dilate_mobilenet_v2
from aicsd.models.pretrained import imagenet_weights, pretrained_weights_path
from aicsd.models.resnet import ScaledResNet
from aicsd.models.segmenter import build_segmenter
from aicsd.models.widths import scale_channels

__all__ = [
    "ASPP",
    "BACKBONES",
    "FEATURE_KEYS",
    "STAGES",
    "Backbone",
    "Decoder",
    "DeepLabV3Plus",
    "ScaledResNet",
    "build_backbone",
    "build_segmenter",
    "configure_basic_block",
    "dilate_basic_layer",
    "dilate_mobilenet_v2",
    "imagenet_weights",
    "pretrained_weights_path",
    "scale_channels",
]
