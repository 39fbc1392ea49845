"""ImageNet backbone weights, read from the local torch hub cache only (never downloaded)."""

from __future__ import annotations

import pickle
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import (
    MobileNet_V2_Weights,
    ResNet18_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    Weights,
)


def imagenet_weights(backbone: str) -> Weights:
    """torchvision's original ImageNet weights (``IMAGENET1K_V1``, as the released code used) for ``backbone``."""
    weights = {
        "resnet101": ResNet101_Weights.IMAGENET1K_V1,
        "resnet50": ResNet50_Weights.IMAGENET1K_V1,
        "resnet18": ResNet18_Weights.IMAGENET1K_V1,
        "mobilenet_v2": MobileNet_V2_Weights.IMAGENET1K_V1,
    }
    if backbone not in weights:
        raise ValueError(f"no ImageNet weights known for backbone {backbone!r}; choose from {sorted(weights)}")
    return weights[backbone]


def pretrained_weights_path(backbone: str) -> Path:
    """Where the weights file must be: ``torch.hub.get_dir()/checkpoints/<file name of the weights URL>``.

    ``torch.hub.get_dir()`` follows ``$TORCH_HOME`` (default ``~/.cache/torch``) + ``/hub``.
    """
    file_name = Path(urlparse(imagenet_weights(backbone).url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def require_pretrained_file(backbone: str) -> Path:
    """Return the cached weights path of ``backbone``; FileNotFoundError saying how to get it if absent."""
    path = pretrained_weights_path(backbone)
    if not path.is_file():
        url = imagenet_weights(backbone).url
        raise FileNotFoundError(
            f"pretrained_backbone=True needs the ImageNet weights file {path.name!r} for {backbone}, "
            f"expected at {path}, which does not exist. Nothing is downloaded at run time: on a machine "
            f"with network access download {url} and copy it to {path} (the directory follows "
            f"$TORCH_HOME/hub/checkpoints), or use pretrained_backbone=False."
        )
    return path


def load_pretrained(model: nn.Module, backbone: str) -> None:
    """Load the cached ImageNet weights of ``backbone`` into the full torchvision ``model`` (strict keys)."""
    path = require_pretrained_file(backbone)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, TypeError, pickle.UnpicklingError) as error:
        raise ValueError(
            f"{path} does not hold torchvision's {backbone} ImageNet weights; "
            f"replace it with the file from {imagenet_weights(backbone).url}: {error}"
        ) from error
