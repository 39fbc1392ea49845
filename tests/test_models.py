"""DeepLabV3+ family: shapes, taps, strides, parameter counts, dilation, pretrained loading."""

import copy
import math

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.resnet import BasicBlock, Bottleneck

from aicsd.models import (
    BACKBONES,
    FEATURE_KEYS,
    ScaledResNet,
    build_backbone,
    build_segmenter,
    configure_basic_block,
    dilate_basic_layer,
    pretrained_weights_path,
)

NUM_CLASSES = 10
SMALL_WIDTH = 0.25
SIZES = [(32, 32), (33, 45)]

# Released models with 21 classes at OS 16, width 1.0 (DIGEST.md), in millions.
RELEASED_PARAMS_M = {"resnet101": 59.34, "resnet18": 16.61, "mobilenet_v2": 5.82}

# Stage channels at width 1.0 and 0.25; head (ASPP, decoder) 256 and 64.
STAGE_CHANNELS = {
    ("resnet101", 1.0): (256, 512, 1024, 2048),
    ("resnet50", 1.0): (256, 512, 1024, 2048),
    ("resnet18", 1.0): (64, 128, 256, 512),
    ("mobilenet_v2", 1.0): (24, 32, 96, 320),
    ("resnet101", SMALL_WIDTH): (64, 128, 256, 512),
    ("resnet50", SMALL_WIDTH): (64, 128, 256, 512),
    ("resnet18", SMALL_WIDTH): (16, 32, 64, 128),
    ("mobilenet_v2", SMALL_WIDTH): (8, 8, 24, 80),
}
HEAD_CHANNELS = {1.0: 256, SMALL_WIDTH: 64}


def _strides(output_stride: int) -> dict[str, int]:
    return {
        "stage1": 4,
        "stage2": 8,
        "stage3": min(16, output_stride),
        "stage4": output_stride,
        "aspp": output_stride,
        "decoder": 4,
        "decoder_logits": 4,
        "logits": 1,
    }


def _randomise_batchnorm(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BN non-trivial running statistics and affine parameters (eval-mode tests)."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=generator) * 0.1)


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("width", [1.0, SMALL_WIDTH])
@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_shapes_taps_and_strides(backbone, width, output_stride):
    torch.manual_seed(0)
    model = build_segmenter(backbone, NUM_CLASSES, output_stride=output_stride, width_multiplier=width).eval()
    stages = STAGE_CHANNELS[(backbone, width)]
    expected_channels = {
        **{f"stage{i}": c for i, c in enumerate(stages, start=1)},
        "aspp": HEAD_CHANNELS[width],
        "decoder": HEAD_CHANNELS[width],
        "decoder_logits": NUM_CLASSES,
        "logits": NUM_CLASSES,
    }
    assert model.feature_channels == expected_channels
    assert tuple(model.feature_channels) == FEATURE_KEYS
    for height, width_px in SIZES:
        x = torch.randn(2, 3, height, width_px)
        with torch.no_grad():
            features = model.forward_features(x)
            logits = model(x)
        assert set(features) == set(FEATURE_KEYS)
        assert logits.shape == (2, NUM_CLASSES, height, width_px)
        assert torch.equal(features["logits"], logits)
        for key, stride in _strides(output_stride).items():
            expected = (2, expected_channels[key], math.ceil(height / stride), math.ceil(width_px / stride))
            assert features[key].shape == expected, key


@pytest.mark.parametrize("backbone", BACKBONES)
def test_train_step_reaches_every_parameter(backbone):
    torch.manual_seed(0)
    model = build_segmenter(backbone, NUM_CLASSES, width_multiplier=SMALL_WIDTH).train()
    x = torch.randn(2, 3, 33, 45)
    target = torch.randint(0, NUM_CLASSES, (2, 33, 45))
    nn.functional.cross_entropy(model(x), target).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_taps_skip_dropout_and_match_eval_logits():
    torch.manual_seed(0)
    model = build_segmenter("resnet18", NUM_CLASSES, width_multiplier=SMALL_WIDTH)
    x = torch.randn(2, 3, 32, 32)
    model.train()
    torch.manual_seed(1)
    first = model.forward_features(x)
    torch.manual_seed(2)
    second = model.forward_features(x)
    # BN in train mode is deterministic for the same batch; only the dropouts differ.
    assert torch.equal(first["aspp"], second["aspp"])
    assert not torch.equal(first["decoder"], second["decoder"])
    assert not torch.equal(first["logits"], second["logits"])
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("backbone", sorted(RELEASED_PARAMS_M))
def test_parameter_counts_match_released_models(backbone):
    model = build_segmenter(backbone, 21)
    count = sum(p.numel() for p in model.parameters())
    assert count / 1e6 == pytest.approx(RELEASED_PARAMS_M[backbone], rel=0.02)


def test_width_multiplier_shrinks_models():
    counts = [
        sum(p.numel() for p in build_segmenter("resnet18", 21, width_multiplier=w).parameters())
        for w in (1.0, 0.5, 0.25)
    ]
    assert counts[0] > 3 * counts[1] > 9 * counts[2]


@pytest.mark.parametrize(
    ("block", "layers", "builder"),
    [(BasicBlock, [2, 2, 2, 2], torchvision.models.resnet18), (Bottleneck, [3, 4, 6, 3], torchvision.models.resnet50)],
)
def test_scaled_resnet_at_full_width_is_torchvision_resnet(block, layers, builder):
    ours = ScaledResNet(block, layers, width_multiplier=1.0).state_dict()
    reference = builder(weights=None).state_dict()
    assert list(ours) == list(reference)
    assert all(ours[key].shape == reference[key].shape for key in reference)


def test_scaled_resnet_halves_widths():
    net = ScaledResNet(Bottleneck, [3, 4, 6, 3], width_multiplier=0.5)
    assert net.conv1.out_channels == 32
    assert [getattr(net, f"layer{i}")[-1].bn3.num_features for i in range(1, 5)] == [128, 256, 512, 1024]
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 1000)


@pytest.mark.parametrize("multiplier", [10.0, 2.5])
def test_param_groups_cover_every_parameter_once(multiplier):
    model = build_segmenter("mobilenet_v2", NUM_CLASSES, width_multiplier=SMALL_WIDTH)
    groups = model.param_groups(0.01, head_lr_multiplier=multiplier)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.backbone.parameters()}
    head_ids = {id(p) for p in groups[1]["params"]}
    for module in (model.aspp, model.decoder, model.classifier):
        assert {id(p) for p in module.parameters()} <= head_ids
    assert groups[0]["lr"] == 0.01
    assert groups[1]["lr"] == pytest.approx(0.01 * multiplier)
    torch.optim.SGD(groups, lr=0.01, momentum=0.9)


def test_param_groups_reject_non_positive_lr():
    model = build_segmenter("resnet18", NUM_CLASSES, width_multiplier=SMALL_WIDTH)
    with pytest.raises(ValueError, match="lr"):
        model.param_groups(0.0)


def test_configure_basic_block_with_unit_dilation_keeps_the_block():
    torch.manual_seed(0)
    downsample = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
    block = BasicBlock(16, 32, stride=2, downsample=downsample)
    _randomise_batchnorm(block, torch.Generator().manual_seed(0))
    block.eval()
    configured = configure_basic_block(copy.deepcopy(block), stride=2, dilation=1, previous_dilation=1)
    x = torch.randn(2, 16, 15, 12)
    with torch.no_grad():
        assert torch.allclose(configured(x), block(x), atol=1e-6)
    assert configured.conv1.stride == (2, 2) and configured.conv2.padding == (1, 1)


def test_configure_basic_block_rejects_zero_stride():
    block = BasicBlock(8, 8)
    with pytest.raises(ValueError, match="stride"):
        configure_basic_block(block, stride=0, dilation=1, previous_dilation=1)


def test_dilated_basic_layer_equals_strided_layer_subsampled():
    torch.manual_seed(0)
    layer = torchvision.models.resnet18().layer3
    _randomise_batchnorm(layer, torch.Generator().manual_seed(0))
    layer.eval()
    dilated = copy.deepcopy(layer)
    new_dilation = dilate_basic_layer(dilated, previous_dilation=1)
    assert new_dilation == 2
    x = torch.randn(2, 128, 13, 10)
    with torch.no_grad():
        expected = layer(x)
        dense = dilated(x)
    assert dense.shape[-2:] == x.shape[-2:]
    assert torch.allclose(dense[..., ::2, ::2], expected, atol=1e-5)
    assert dilated[1].conv1.dilation == (2, 2) and dilated[0].conv1.dilation == (1, 1)
    assert dilate_basic_layer(copy.deepcopy(layer), previous_dilation=2) == 4


def test_dilate_basic_layer_rejects_bottlenecks():
    with pytest.raises(ValueError, match="BasicBlock"):
        dilate_basic_layer(torchvision.models.resnet50().layer4, previous_dilation=1)


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("backbone", BACKBONES)
def test_dilated_backbone_equals_undilated_backbone_subsampled(backbone, output_stride):
    torch.manual_seed(0)
    width = 1.0 if backbone == "resnet18" else SMALL_WIDTH
    dilated = build_backbone(backbone, output_stride=output_stride, width_multiplier=width)
    plain = build_backbone(backbone, output_stride=32, width_multiplier=width)
    _randomise_batchnorm(dilated, torch.Generator().manual_seed(0))
    plain.load_state_dict(dilated.state_dict())
    dilated.eval()
    plain.eval()
    x = torch.randn(2, 3, 70, 45)
    with torch.no_grad():
        dense, strided = dilated(x), plain(x)
    for stage, plain_stride in zip(("stage1", "stage2", "stage3", "stage4"), (4, 8, 16, 32)):
        step = plain_stride // min(plain_stride, output_stride)
        assert dense[stage].shape[-2] == math.ceil(70 / min(plain_stride, output_stride))
        scale = strided[stage].abs().max().item()
        assert torch.allclose(dense[stage][..., ::step, ::step], strided[stage], rtol=1e-4, atol=1e-5 * scale), stage


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ValueError, match="unknown backbone") as error:
        build_segmenter("vgg16", NUM_CLASSES)
    assert all(name in str(error.value) for name in BACKBONES)


@pytest.mark.parametrize("output_stride", [4, 32, 12])
def test_output_stride_other_than_8_or_16_is_rejected(output_stride):
    with pytest.raises(ValueError, match="output_stride"):
        build_segmenter("resnet18", NUM_CLASSES, output_stride=output_stride)


@pytest.mark.parametrize("width", [0.0, -0.5, 1.5])
def test_width_multiplier_out_of_range_is_rejected(width):
    with pytest.raises(ValueError, match="width_multiplier"):
        build_segmenter("resnet18", NUM_CLASSES, width_multiplier=width)


@pytest.mark.parametrize("num_classes", [0, -3, 2.5, True])
def test_bad_num_classes_is_rejected(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        build_segmenter("resnet18", num_classes, width_multiplier=SMALL_WIDTH)


def test_wrong_input_shape_is_rejected():
    model = build_segmenter("mobilenet_v2", NUM_CLASSES, width_multiplier=SMALL_WIDTH).eval()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(2, 1, 32, 32))


def test_single_image_batch_needs_eval_mode():
    model = build_segmenter("resnet18", NUM_CLASSES, width_multiplier=SMALL_WIDTH)
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="drop_last"):
        model.train()(x)
    with torch.no_grad():
        assert model.eval()(x).shape == (1, NUM_CLASSES, 32, 32)


def test_pretrained_with_narrow_width_is_rejected():
    with pytest.raises(ValueError, match="width_multiplier"):
        build_segmenter("resnet18", NUM_CLASSES, pretrained_backbone=True, width_multiplier=0.5)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_pretrained_without_cache_names_the_missing_file(backbone, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints"
    path = pretrained_weights_path(backbone)
    assert path.parent == expected and path.suffix == ".pth"
    with pytest.raises(FileNotFoundError) as error:
        build_segmenter(backbone, NUM_CLASSES, pretrained_backbone=True)
    message = str(error.value)
    assert path.name in message and str(path) in message and "https://" in message


@pytest.mark.parametrize(
    ("backbone", "builder", "prefix"),
    [("resnet18", torchvision.models.resnet18, ""), ("mobilenet_v2", torchvision.models.mobilenet_v2, "features.")],
)
def test_pretrained_loads_the_cached_file(backbone, builder, prefix, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(123)
    reference = builder(weights=None).state_dict()
    path = pretrained_weights_path(backbone)
    path.parent.mkdir(parents=True)
    torch.save(reference, path)
    torch.manual_seed(0)
    model = build_segmenter(backbone, NUM_CLASSES, pretrained_backbone=True)
    loaded = model.backbone.body.state_dict()
    assert loaded
    for key, value in loaded.items():
        assert torch.equal(value, reference[prefix + key]), key


def test_pretrained_file_with_wrong_content_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = pretrained_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save({"not_a_resnet": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=path.name):
        build_segmenter("resnet18", NUM_CLASSES, pretrained_backbone=True)


def test_backbone_taps_are_the_torchvision_stages():
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", output_stride=32)
    reference = torchvision.models.resnet18()
    reference.load_state_dict(backbone.body.state_dict(), strict=False)
    getter = IntermediateLayerGetter(reference, {"layer1": "a", "layer4": "b"}).eval()
    backbone.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours, theirs = backbone(x), getter(x)
    assert torch.equal(ours["stage1"], theirs["a"]) and torch.equal(ours["stage4"], theirs["b"])
