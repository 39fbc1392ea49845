"""The networks of a run: DeepLabV3+ for the run's dataset, with given backbone and width."""

from __future__ import annotations

from torch import nn

from aicsd.engine.config import RunConfig
from aicsd.models import build_segmenter

__all__ = ["build_network", "build_student"]


def build_network(cfg: RunConfig, backbone: str, width: float, *, pretrained: bool) -> nn.Module:
    """DeepLabV3+ with ``backbone`` and ``width`` for ``cfg``'s dataset and output stride."""
    return build_segmenter(
        backbone,
        cfg.num_classes,
        output_stride=cfg.output_stride,
        pretrained_backbone=pretrained,
        width_multiplier=width,
    )


def build_student(cfg: RunConfig, *, pretrained: bool) -> nn.Module:
    """The network the run ``cfg`` trains (the teacher itself for a teacher run)."""
    return build_network(cfg, cfg.backbone, cfg.width_multiplier, pretrained=pretrained)
