"""Trade a backbone's last strides for dilation (the "atrous" conversion of DeepLab).

The conversion keeps the computation exact: a stride-s convolution equals its stride-1 version
sampled every s pixels, and a convolution dilated by d*s on the dense grid, sampled every s
pixels, equals the convolution dilated by d on the sampled grid. So the convolution that used to
downsample keeps the dilation it had (its stride becomes 1), and every 3x3 convolution after it
gets the dilation multiplied by the removed stride. With zero padding equal to the dilation, the
dilated network's output sampled every s pixels is exactly the strided network's output.
This is the convention of torchvision's ``replace_stride_with_dilation`` for Bottleneck ResNets;
the helpers below apply it where torchvision does not (BasicBlock ResNets, MobileNetV2).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock


def set_conv_geometry(conv: nn.Conv2d, *, stride: int, dilation: int) -> None:
    """Set a square conv's stride and dilation in place, with "same" padding ``dilation * (k - 1) // 2``."""
    kernel = conv.kernel_size[0]
    conv.stride = (stride, stride)
    conv.dilation = (dilation, dilation)
    conv.padding = (dilation * (kernel - 1) // 2,) * 2


def configure_basic_block(block: BasicBlock, *, stride: int, dilation: int, previous_dilation: int) -> BasicBlock:
    """Set the stride and dilations of a torchvision ``BasicBlock`` in place and return it.

    ``conv1`` reads the block's input grid: it gets ``stride`` and ``previous_dilation``.
    ``conv2`` runs on the output grid: it gets ``dilation``. The 1x1 ``downsample`` conv (if any)
    gets ``stride``. ``stride=s, dilation=previous_dilation=1`` is the block as torchvision builds
    it; ``stride=1, dilation=2, previous_dilation=1`` is its atrous version.
    Shapes: (B, C_in, H, W) -> (B, C_out, ceil(H / stride), ceil(W / stride)).
    """
    for name, value in (("stride", stride), ("dilation", dilation), ("previous_dilation", previous_dilation)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    set_conv_geometry(block.conv1, stride=stride, dilation=previous_dilation)
    set_conv_geometry(block.conv2, stride=1, dilation=dilation)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)
    block.stride = stride
    return block


def dilate_basic_layer(layer: nn.Sequential, *, previous_dilation: int) -> int:
    """Replace the stride of a ResNet stage made of ``BasicBlock``s by dilation, in place.

    ``layer`` is e.g. ``resnet18().layer4``; ``previous_dilation`` is the dilation the network had
    reached before it (1, or 2 after an already dilated stage). Returns the stage's new dilation,
    ``previous_dilation * stride``. Shapes: the stage maps (B, C_in, H, W) to (B, C_out, H, W)
    instead of (B, C_out, ceil(H / stride), ceil(W / stride)).
    """
    blocks = list(layer)
    if not blocks or not all(isinstance(block, BasicBlock) for block in blocks):
        raise ValueError("dilate_basic_layer expects an nn.Sequential of torchvision BasicBlocks")
    stride = blocks[0].conv1.stride[0]
    dilation = previous_dilation * stride
    configure_basic_block(blocks[0], stride=1, dilation=dilation, previous_dilation=previous_dilation)
    for block in blocks[1:]:
        configure_basic_block(block, stride=1, dilation=dilation, previous_dilation=dilation)
    return dilation


def _depthwise_conv(block: InvertedResidual) -> nn.Conv2d:
    """The 3x3 depthwise conv of a torchvision MobileNetV2 inverted-residual block."""
    (conv,) = (m for m in block.conv.modules() if isinstance(m, nn.Conv2d) and m.groups > 1)
    return conv


def dilate_mobilenet_v2(features: nn.Sequential, output_stride: int) -> None:
    """Dilate torchvision MobileNetV2 ``features`` in place so they stop downsampling at ``output_stride``.

    ``features[0]`` is the stride-2 stem; the inverted-residual blocks follow. Once the running
    stride equals ``output_stride``, each block's depthwise conv gets stride 1: the block that
    used to downsample keeps the current dilation, and the dilation is multiplied by its removed
    stride for the blocks after it. A block whose stride is removed keeps
    ``use_res_connect=False``, so the module graph (and the state dict) is unchanged.
    """
    current_stride, dilation = features[0][0].stride[0], 1
    for block in features:
        if not isinstance(block, InvertedResidual):
            continue
        conv = _depthwise_conv(block)
        stride = conv.stride[0]
        if current_stride == output_stride:
            set_conv_geometry(conv, stride=1, dilation=dilation)
            block.stride = 1
            dilation *= stride
        else:
            current_stride *= stride
