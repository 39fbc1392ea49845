"""Look inside finished runs: reload a trained network, predict, and average its ICS matrices.

Used by the derivation and qualitative notebooks; everything reads a run's own ``config.json`` and
``checkpoint.pt`` (loaded with ``weights_only=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn
from torchvision.transforms.v2.functional import center_crop

from aicsd.data import build_dataset
from aicsd.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transforms
from aicsd.engine import RunConfig, load_network, read_config, seed_everything
from aicsd.engine.distributed import DistContext
from aicsd.engine.loaders import build_datasets, train_loader
from aicsd.engine.networks import build_student
from aicsd.engine.setup import load_teacher
from aicsd.losses import ICSDLoss, build_distiller, ics_matrix
from aicsd.taps import STAGES


def eval_images(run: RunConfig | str | Path, split: str, indices: list[int]) -> tuple[list[Tensor], list[Tensor]]:
    """Images of ``split`` under the run's eval transforms, one at a time: lists of (3, H, W) and (H, W).

    Returned as Python lists because sizes differ between images.
    """
    cfg = read_config(run)
    dataset = build_dataset(cfg.dataset, cfg.data_root, split, transforms=eval_transforms(cfg.eval_mode, size=cfg.eval_size))
    if max(indices, default=0) >= len(dataset):
        raise IndexError(f"{split} of {cfg.dataset} has {len(dataset)} images; asked for index {max(indices)}")
    pairs = [dataset[i] for i in indices]
    return [image for image, _ in pairs], [mask for _, mask in pairs]


def denormalize(image: Tensor) -> Tensor:
    """An ImageNet-normalised image (3, H, W) back to RGB in [0, 1], as (H, W, 3) for display."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image.cpu() * std + mean).clamp(0, 1).permute(1, 2, 0)


@torch.inference_mode()
def predict_logits(model: nn.Module, image: Tensor) -> Tensor:
    """Logits (C, H, W) of one normalised image (3, H, W), on the model's device, returned on the CPU."""
    device = next(model.parameters()).device
    return model(image.unsqueeze(0).to(device))[0].float().cpu()


def predictions(networks: Mapping[str, RunConfig], images: Sequence[Tensor]) -> dict[str, list[Tensor]]:
    """Each network's predicted label map (H, W) for each normalised image (3, H, W), loaded once from
    its finished run, keyed as ``networks``."""
    out = {}
    for name, config in networks.items():
        model = load_network(config)
        out[name] = [predict_logits(model, image).argmax(0) for image in images]
    return out


def network_logits(networks: dict[str, RunConfig], image: Tensor) -> dict[str, Tensor]:
    """Each finished run's logits (C, H, W) for one normalised image (3, H, W), keyed as ``networks``."""
    return {label: predict_logits(load_network(config), image) for label, config in networks.items()}


def present_classes(mask: Tensor, limit: int = 4) -> list[int]:
    """The ``limit`` classes that cover most pixels of a label map (H, W), largest first (the ignore
    label 255 left out; ties: the smaller class id)."""
    labels, counts = mask[mask != 255].unique(return_counts=True)
    order = sorted(zip(counts.tolist(), labels.tolist()), key=lambda pair: (-pair[0], pair[1]))
    return [int(label) for _, label in order[:limit]]


@torch.inference_mode()
def mean_ics_matrix(model: nn.Module, images: list[Tensor], temperature: float = 1.0) -> Tensor:
    """The ICS matrix (C, C) averaged over ``images`` (each (3, H, W), processed alone: no padding)."""
    matrices = [ics_matrix(predict_logits(model, image).unsqueeze(0), temperature)[0] for image in images]
    return torch.stack(matrices).mean(dim=0)


@torch.inference_mode()
def icsd_to_teacher(student: nn.Module, teacher: nn.Module, images: list[Tensor], temperature: float = 1.0) -> float:
    """Mean over ``images`` of the ICSD loss (paper variant) between a student's and the teacher's
    logits: how far the student's class relations are from the teacher's (0 = identical)."""
    loss = ICSDLoss(temperature)
    values = [
        loss(predict_logits(student, image).unsqueeze(0), predict_logits(teacher, image).unsqueeze(0)).item()
        for image in images
    ]
    return sum(values) / len(values)


def with_ics_distance(runs: pd.DataFrame, teacher: RunConfig, split: str, count: int = 16) -> pd.DataFrame:
    """``runs`` (a collected frame) with an ``ics_distance`` column: :func:`icsd_to_teacher` of each
    run's network on the first ``count`` images of ``split`` (lower = class relations nearer the
    teacher's). Each run's network is loaded once."""
    teacher_model = load_network(teacher)
    images, _ = eval_images(teacher, split, list(range(count)))
    distances = {run_dir_: icsd_to_teacher(load_network(run_dir_), teacher_model, images) for run_dir_ in runs["run_dir"].unique()}
    return runs.assign(ics_distance=runs["run_dir"].map(distances))


def fixed_size_batch(run: RunConfig | str | Path, split: str, count: int, size: int) -> Tensor:
    """The first ``count`` images of ``split`` (eval transforms), centre-cropped or padded to
    ``size`` x ``size`` and stacked: (count, 3, size, size), for measurements that need one batch."""
    images, _ = eval_images(run, split, list(range(count)))
    return torch.stack([center_crop(image, [size, size]) for image in images])


def _mean_pairwise_cosine(features: Tensor) -> float:
    """Mean cosine similarity between the flattened features of two different images: (B, ...) -> float."""
    unit = torch.nn.functional.normalize(features.float().flatten(1).cpu(), dim=1)
    cosine = unit @ unit.T
    return float(cosine[~torch.eye(len(unit), dtype=torch.bool)].mean())


@torch.inference_mode()
def feature_collapse(model: nn.Module, images: Tensor, tap: str = "stage4") -> dict[str, float]:
    """How image-independent a network's ``tap`` features are on one batch ``images`` (B, 3, H, W), B >= 2.

    Returns ``pairwise_cosine`` (mean cosine similarity of the flattened features of two different
    images: 1 when every image gives the same features), ``first_stage_cosine`` (the same at the
    first backbone stage: near 1 when the whole backbone, not only its end, ignores the image),
    ``shared_energy`` (the share of the features' energy in their mean over the batch,
    ||mean_b f_b||^2 / mean_b ||f_b||^2: 1 for identical features, about 1/B for unrelated zero-mean
    ones) and ``bn_shift_ratio`` (``mean |beta| / mean |gamma|`` of the backbone's last BatchNorm: a
    large value means its output is mostly the per-channel constant beta, the same for every image).
    """
    model.eval()
    device = next(model.parameters()).device
    features = model.forward_features(images.to(device))
    flat = features[tap].float().flatten(1).cpu()
    shared = flat.mean(0).pow(2).sum() / flat.pow(2).sum(1).mean()
    last_norm = [m for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d)][-1]
    return {
        "pairwise_cosine": _mean_pairwise_cosine(flat),
        "first_stage_cosine": _mean_pairwise_cosine(features[STAGES[0]]),
        "shared_energy": float(shared),
        "bn_shift_ratio": float(last_norm.bias.abs().mean() / last_norm.weight.abs().mean()),
    }


def with_feature_collapse(runs: pd.DataFrame, images: Tensor, tap: str = "stage4") -> pd.DataFrame:
    """``runs`` (a collected frame) with the columns of :func:`feature_collapse` for each run's network
    on the batch ``images`` (B, 3, H, W)."""
    rows = [feature_collapse(load_network(run), images, tap) for run in runs["run_dir"]]
    return runs.join(pd.DataFrame(rows, index=runs.index))


def first_step_gradients(config: RunConfig) -> dict[str, float]:
    """How hard each loss term of student run ``config`` pulls at its first optimiser step: the L2
    norm, over all the student's parameters, of the gradient of each weighted term.

    Follows the run's own first step on the CPU: the student initialised for ``config.seed``, the
    first training batch of epoch 0, the teacher's taps in eval mode, ALW's alpha at step 0. Returns
    ``{"ce": ..., <term>: ...}``: cross entropy and every distillation term of the run's method (at
    the run's weights). The teacher run must have finished.
    """
    device = torch.device("cpu")
    context = DistContext()
    seed_everything(config.seed)
    train_set, _ = build_datasets(config, context)
    student = build_student(config, pretrained=config.pretrained_backbone)
    teacher, _ = load_teacher(config, device)
    distiller = build_distiller(
        config.distillation, student_channels=student.feature_channels, teacher_channels=teacher.feature_channels
    )
    loader = train_loader(train_set, config, context, 0, device)
    images, target = next(iter(loader))
    student.train()
    teacher.eval()
    with torch.inference_mode():
        teacher_taps = {tap: value.clone() for tap, value in teacher.forward_features(images).items()}
    total_steps = config.epochs * len(loader)
    alpha = distiller.alpha(epoch=0, total_epochs=config.epochs, step=0, total_steps=total_steps)
    terms = distiller(student.forward_features(images), teacher_taps, target, alpha=alpha)
    parameters = [p for p in student.parameters() if p.requires_grad]
    norms = {}
    for name, value in terms.items():
        if name == "loss":
            continue
        grads = torch.autograd.grad(value, parameters, retain_graph=True, allow_unused=True)
        norms[name] = float(torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None)))
    return norms
