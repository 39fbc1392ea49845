"""One training epoch and one evaluation pass, as flat functions taking objects.

The networks are called through :class:`FeatureTaps`, whose ``forward`` is the segmenter's
``forward_features``: that way DDP (which only hooks ``__call__``) and ``torch.compile`` see the
call that computes the loss.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm.auto import tqdm

from aicsd.engine.teacher_cache import TeacherOutputCache
from aicsd.metrics import SegmentationMetrics

__all__ = ["FeatureTaps", "NonFiniteLossError", "Precision", "evaluate", "progress_bar", "select_precision", "train_one_epoch"]

LOG_INTERVAL_S = 60.0
"""Seconds between two updates of a progress bar written to a log (stderr not a terminal)."""


def progress_bar(iterable: Iterable, *, desc: str, enabled: bool, nested: bool = False, **kwargs: object) -> tqdm:
    """A tqdm bar over ``iterable``: live on a terminal or in Jupyter; in a log (stderr redirected to
    a file or pipe) nested bars (steps, evaluation) are off and outer ones update at most every
    :data:`LOG_INTERVAL_S` seconds, so that a run writes a few lines instead of thousands of ``\\r`` updates."""
    interactive = sys.stderr.isatty() or "ipykernel" in sys.modules
    interval = {} if interactive else {"mininterval": LOG_INTERVAL_S, "maxinterval": LOG_INTERVAL_S}
    disable = not enabled or (nested and not interactive)
    return tqdm(iterable, desc=desc, leave=not nested, disable=disable, **interval, **kwargs)


class NonFiniteLossError(RuntimeError):
    """The total loss became NaN or infinite; the message names the step and the loss terms."""


@dataclass(frozen=True)
class Precision:
    """How forward passes run: autocast dtype (``None`` = plain float32) and memory format."""

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    def autocast(self) -> torch.autocast | nullcontext[None]:
        """Autocast context for the forward passes (a no-op without ``amp_dtype``)."""
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def images(self, images: Tensor) -> Tensor:
        """Move (B, 3, H, W) images to the device, channels_last when asked."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    @property
    def needs_grad_scaler(self) -> bool:
        """float16 autocast needs loss scaling; bfloat16 and float32 do not."""
        return self.amp_dtype == torch.float16


def select_precision(device: torch.device, *, amp: bool, channels_last: bool) -> Precision:
    """Mixed precision and channels_last on CUDA only: bf16 where supported, else fp16; fp32 on CPU."""
    if device.type != "cuda":
        return Precision(device)
    amp_dtype = None
    if amp:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return Precision(device, amp_dtype, channels_last)


class FeatureTaps(nn.Module):
    """Wraps a segmenter so that ``forward(x)`` returns ``segmenter.forward_features(x)``.

    x: (B, 3, H, W) -> dict of taps (``"stage1"``..``"stage4"``, ``"aspp"``, ``"decoder"``,
    ``"logits"`` (B, C, H, W)).
    """

    def __init__(self, segmenter: nn.Module) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.segmenter.forward_features(x)


def _teacher_features(
    teacher: nn.Module, images: Tensor, taps: frozenset[str] | None, precision: Precision, train_mode: bool
) -> dict[str, Tensor]:
    """The teacher taps the distiller reads (every tap for ``taps=None``).

    Default: eval mode under ``torch.inference_mode()``; the taps are cloned into normal tensors so
    that losses may save them for the backward pass. ``train_mode`` reproduces the released code:
    BatchNorm in train mode and autograd on.
    """
    if train_mode:
        with precision.autocast():
            features = teacher(images)
        return {tap: features[tap] for tap in (features if taps is None else taps)}
    with torch.inference_mode(), precision.autocast():
        features = teacher(images)
    return {tap: features[tap].clone() for tap in (features if taps is None else taps)}


def train_one_epoch(
    student: nn.Module,
    distiller: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: Iterable[tuple[Tensor, Tensor]],
    *,
    epoch: int,
    total_epochs: int,
    steps_per_epoch: int,
    precision: Precision,
    taps: frozenset[str],
    teacher: nn.Module | None = None,
    teacher_train_mode: bool = False,
    scaler: torch.amp.GradScaler | None = None,
    progress: bool = False,
    teacher_cache: TeacherOutputCache | None = None,
    teacher_key: str = "",
    after_step: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Train ``student`` for one pass over ``loader`` with the loss of ``distiller``.

    Args:
        student: a :class:`FeatureTaps` (possibly DDP-wrapped or compiled): images -> taps dict.
        distiller: an :class:`aicsd.losses.Distiller` (possibly DDP-wrapped):
            ``distiller(student_taps, teacher_taps, target, alpha=)`` -> dict of scalar terms with
            the total under ``"loss"``.
        optimizer, scheduler: stepped once per batch (the poly LR is per iteration).
        loader: batches of images (B, 3, H, W) float and targets (B, H, W) int64 (255 = ignore).
        epoch, total_epochs, steps_per_epoch: where the epoch lies in the run; ALW's alpha at each
            step comes from them (``Distiller.alpha``).
        precision: device, autocast dtype and memory format (:func:`select_precision`).
        taps: the teacher taps the distiller reads (``distiller.required_taps``).
        teacher: a :class:`FeatureTaps` of the teacher, or ``None`` for cross entropy only.
        teacher_train_mode: run the teacher in train mode with autograd (the released code).
        scaler: a GradScaler for float16 autocast.
        progress: show a tqdm bar with the running loss terms.
        teacher_cache: where the frozen teacher's taps of each batch are read from or stored
            (:class:`~aicsd.engine.teacher_cache.TeacherOutputCache`; ignored with
            ``teacher_train_mode``), under ``teacher_key`` (the teacher's identity and precision).
        after_step: called after every optimiser step (the weights' moving average,
            :class:`aicsd.engine.ema.WeightAverage`).

    Returns:
        The mean of every loss term over the epoch's batches (averaged over processes under
        torch.distributed), plus ``"lr"`` (first parameter group, at the epoch's start),
        ``"alpha"`` (ALW's mean alpha over the epoch's steps, None when ALW is off) and
        ``"images"`` (images seen by this process).

    Raises:
        NonFiniteLossError: the total loss is NaN or infinite at some step.
    """
    schedule = distiller.module if isinstance(distiller, nn.parallel.DistributedDataParallel) else distiller
    total_steps = total_epochs * steps_per_epoch
    student.train()
    if teacher is not None:
        teacher.train(teacher_train_mode)
    lr = optimizer.param_groups[0]["lr"]
    sums: dict[str, Tensor] = {}
    steps = 0
    images_seen = 0
    alphas: list[float] = []
    bar = progress_bar(loader, desc=f"epoch {epoch + 1}/{total_epochs}", enabled=progress, nested=True)
    for step, (images, target) in enumerate(bar):
        images = precision.images(images)
        target = target.to(precision.device, non_blocking=True)
        teacher_taps = None
        if teacher is not None and teacher_cache is not None and not teacher_train_mode:
            every = teacher_cache.taps(teacher_key, images, lambda: _teacher_features(teacher, images, None, precision, False))
            teacher_taps = {tap: every[tap] for tap in taps}
        elif teacher is not None:
            teacher_taps = _teacher_features(teacher, images, taps, precision, teacher_train_mode)
        with precision.autocast():
            student_taps = student(images)
        alpha = schedule.alpha(
            epoch=epoch, total_epochs=total_epochs, step=epoch * steps_per_epoch + step, total_steps=total_steps
        )
        if alpha is not None:
            alphas.append(alpha)
        terms = distiller(student_taps, teacher_taps, target, alpha=alpha)
        loss = terms["loss"]
        if not bool(torch.isfinite(loss)):
            values = {name: float(value.detach()) for name, value in terms.items()}
            raise NonFiniteLossError(f"non-finite loss at epoch {epoch} step {step}: terms {values}")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        if after_step is not None:
            after_step()
        if teacher is not None and teacher_train_mode:
            teacher.zero_grad(set_to_none=True)
        for name, value in terms.items():
            sums[name] = sums.get(name, torch.zeros((), device=precision.device)) + value.detach().float()
        steps += 1
        images_seen += images.shape[0]
        if progress and (step % 10 == 0):
            bar.set_postfix({name: f"{float(value) / steps:.4g}" for name, value in sums.items()})
    if steps == 0:
        raise ValueError("the training loader yielded no batch: the train set is smaller than one batch")
    names = sorted(sums)
    means = torch.stack([sums[name] for name in names]) / steps
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(means, op=dist.ReduceOp.SUM)
        means /= dist.get_world_size()
    stats = {name: float(value) for name, value in zip(names, means.tolist(), strict=True)}
    alpha_mean = sum(alphas) / len(alphas) if alphas else None
    return {**stats, "lr": lr, "alpha": alpha_mean, "images": images_seen}


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[Tensor, Tensor]],
    num_classes: int,
    device: torch.device | str,
    *,
    ignore_index: int = 255,
    precision: Precision | None = None,
    progress: bool = False,
) -> dict[str, float | list[float]]:
    """Metrics of ``model`` (images (B, 3, H, W) -> logits (B, C, H, W)) over ``loader``.

    Targets are (B, H, W) at the images' size; padded pixels carry ``ignore_index``. Under
    torch.distributed each process evaluates its shard and the confusion matrices are summed.
    Returns :meth:`SegmentationMetrics.compute`'s dict.
    """
    device = torch.device(device)
    precision = precision or Precision(device)
    model.eval()
    metrics = SegmentationMetrics(num_classes, ignore_index=ignore_index, device=device)
    for images, target in progress_bar(loader, desc="eval", enabled=progress, nested=True):
        with precision.autocast():
            logits = model(precision.images(images))
        metrics.update(logits, target.to(device, non_blocking=True))
    metrics.all_reduce()
    return metrics.compute()

