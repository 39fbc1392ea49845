"""Public entry points: ``train_teacher(cfg)`` and ``distill(cfg)`` (evaluation: :mod:`aicsd.engine.runstore`).

A run lives in its run directory (:mod:`aicsd.engine.runstore`). A finished run (``result.json``
present) is not trained again: its stored result is returned. An unfinished run resumes from its
last checkpoint, restoring model, optimizer, scheduler, scaler, distiller and RNG states, so that
it ends with the same weights as an uninterrupted run.

``result.json`` reports both the ``final`` epoch's metrics and the ``best`` epoch's (by val mIoU);
the book's tables use ``final``, so that nothing is tuned on the validation set.

A process trains a run holding its lock (:func:`aicsd.engine.runstore.run_lock`): a second process
on the same run waits, then returns the stored result. Each epoch appends its metrics line, then
replaces the checkpoint; a resumed run first cuts ``metrics.jsonl`` back to the checkpoint's epochs
(to nothing without one), so a kill at any point leaves each epoch once in the file. A run that
fails before its first checkpoint leaves no folder behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from aicsd.data.decoded import DecodedImages
from aicsd.engine import runstore
from aicsd.engine.checkpoint import evaluated_weights, load_checkpoint, restore_rng_state, save_checkpoint
from aicsd.engine.config import RunConfig
from aicsd.engine.ema import WeightAverage
from aicsd.engine.identity import config_hash, run_id
from aicsd.engine.environment import environment_info
from aicsd.engine.distributed import (
    DistContext,
    barrier,
    broadcast_object,
    distributed_context,
    resolve_device,
)
from aicsd.engine.loaders import build_datasets, build_eval_dataset, seed_everything, train_loader, val_loader
from aicsd.engine.loops import FeatureTaps, NonFiniteLossError, Precision, evaluate, progress_bar, select_precision, train_one_epoch
from aicsd.engine.networks import build_student
from aicsd.engine.setup import load_teacher, make_optimizer, poly_factor
from aicsd.engine.teacher_cache import TeacherOutputCache
from aicsd.errors import ConfigError, TrainingDiverged
from aicsd.losses import Distiller, build_distiller

__all__ = ["distill", "fit", "train_teacher"]


@contextmanager
def _deterministic_algorithms(enabled: bool, device: torch.device) -> Iterator[None]:
    """``torch.use_deterministic_algorithms`` on the CPU (restored afterwards); CUDA is left alone."""
    if not enabled or device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn_only)


@contextmanager
def _intra_op_threads(threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` for the block (restored afterwards); ``None`` leaves it."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _sync_buffers(model: nn.Module, context: DistContext) -> None:
    """Give every process rank 0's buffers (BatchNorm running statistics).

    DDP broadcasts them at the start of each forward, so after an epoch's last step each process
    holds the statistics of its own last batch; evaluation and checkpoint use rank 0's.
    """
    if context.enabled:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def _epoch_record(epoch: int, stats: dict[str, Any], val: dict[str, Any] | None) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": epoch, "lr": stats["lr"], "alpha": stats["alpha"]}
    record.update({f"train_{name}": value for name, value in stats.items() if name not in ("lr", "images", "alpha")})
    if val is not None:
        record.update({f"val_{name}": value for name, value in val.items()})
    return record


def fit(
    cfg: RunConfig,
    teacher_cache: TeacherOutputCache | None = None,
    decoded: DecodedImages | None = None,
    *,
    evaluate_test: bool = True,
) -> dict[str, Any]:
    """Train the run of ``cfg`` (teacher or student) to the end, or return its stored result.

    ``teacher_cache`` shares a frozen teacher's taps between the runs of this process (used on the
    CPU only, where the teacher's forward is a large part of a step; see
    :mod:`aicsd.engine.teacher_cache`). ``decoded`` keeps the dataset's decoded images for this and
    later runs of this process (used without DataLoader worker processes; see
    :mod:`aicsd.data.decoded`).

    ``evaluate_test=False`` leaves the held-out ``cfg.test_split`` unevaluated (``result.json`` then
    has no ``"test"``; :func:`aicsd.engine.runstore.lacks_test_metrics`): a run whose only use is a
    choice on ``val`` (the weight sweep) skips it. A later call with ``evaluate_test=True``
    evaluates the stored final weights and adds it, the same numbers the run would have written."""
    with distributed_context(cfg.device) as context:
        directory = runstore.run_dir(cfg)
        result = runstore.read_result(directory)
        if result is not None and not (evaluate_test and runstore.lacks_test_metrics(cfg, result)):
            return result
        device = resolve_device(cfg.device, context)
        with runstore.run_lock(directory) if context.is_main else nullcontext():
            barrier(context)
            result = runstore.read_result(directory)  # finished by a process this one waited for
            with _deterministic_algorithms(cfg.deterministic, device), _intra_op_threads(cfg.threads):
                if result is None:
                    result = _fit(cfg, directory, context, device, teacher_cache, decoded, evaluate_test)
                elif evaluate_test and runstore.lacks_test_metrics(cfg, result):
                    result = _add_test_evaluation(cfg, directory, result, context, device, decoded)
        return broadcast_object(result, context)


@dataclass
class _Parts:
    """The objects of one training run."""

    model: nn.Module
    distiller: Distiller
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None
    precision: Precision
    steps_per_epoch: int
    train_set: Dataset
    val_set: Dataset
    teacher: nn.Module | None
    teacher_path: Path | None
    average: WeightAverage | None

    @property
    def evaluated(self) -> nn.Module:
        """The network the run is evaluated with: the weights' moving average when the run keeps one."""
        return self.model if self.average is None else self.average.network


def _build(cfg: RunConfig, context: DistContext, device: torch.device, decoded: DecodedImages | None) -> _Parts:
    """Datasets, student (and teacher), distiller, SGD, poly schedule and grad scaler of ``cfg``."""
    seed_everything(cfg.seed if cfg.init_seed is None else cfg.init_seed)
    train_set, val_set = build_datasets(cfg, context, decoded)
    model = build_student(cfg, pretrained=cfg.pretrained_backbone).to(device)
    teacher, teacher_path = load_teacher(cfg, device) if cfg.uses_teacher else (None, None)
    distiller = build_distiller(
        cfg.distillation,
        student_channels=model.feature_channels,
        teacher_channels=None if teacher is None else teacher.feature_channels,
        detach_teacher=not cfg.teacher_train_mode,
    ).to(device)
    if cfg.init_seed is not None:
        seed_everything(cfg.seed)  # the initial weights came from init_seed; augmentation follows the run's seed
    precision = select_precision(device, amp=cfg.amp, channels_last=cfg.channels_last)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
        if teacher is not None:
            teacher = teacher.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(cfg, model, distiller)
    steps_per_epoch = len(train_loader(train_set, cfg, context, 0, device))
    if steps_per_epoch == 0:
        raise ConfigError(
            f"train set of {len(train_set)} images is smaller than one batch ({cfg.batch_size}); "
            "lower batch_size or raise train_limit"
        )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, poly_factor(cfg.epochs * steps_per_epoch, cfg.poly_power, cfg.warmup_steps))
    scaler = torch.amp.GradScaler(device.type) if precision.needs_grad_scaler else None
    average = WeightAverage(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    return _Parts(model, distiller, optimizer, scheduler, scaler, precision, steps_per_epoch, train_set, val_set, teacher, teacher_path, average)


def _resume(parts: _Parts, cfg: RunConfig, directory: Path, context: DistContext, device: torch.device) -> dict[str, Any]:
    """Load the run's checkpoint into ``parts`` when there is one; returns the run's progress record."""
    checkpoint_path = directory / runstore.CHECKPOINT
    if not checkpoint_path.is_file():
        if context.is_main:
            runstore.truncate_metrics(directory, 0)  # lines of epochs trained before a kill, never checkpointed
        if context.enabled:
            seed_everything(cfg.seed + context.rank)
        return {"epoch": -1, "best": None, "last_val": None, "elapsed_s": 0.0, "train_s": 0.0, "images_seen": 0}
    state = runstore.read_store_file(checkpoint_path, lambda path: _restore(parts, path, device))
    progress = state["progress"]
    if context.is_main:
        restore_rng_state(state["rng"])
        runstore.truncate_metrics(directory, progress["epoch"] + 1)
    else:
        seed_everything(cfg.seed + 1000 * (progress["epoch"] + 1) + context.rank)
    return progress


def _restore(parts: _Parts, path: Path, device: torch.device) -> dict[str, Any]:
    """Load the training state at ``path`` into ``parts``; returns the checkpoint."""
    state = load_checkpoint(path, map_location=device)
    parts.model.load_state_dict(state["model"])
    parts.distiller.load_state_dict(state["distiller"])
    parts.optimizer.load_state_dict(state["optimizer"])
    parts.scheduler.load_state_dict(state["scheduler"])
    if parts.scaler is not None and state["scaler"] is not None:
        parts.scaler.load_state_dict(state["scaler"])
    if parts.average is not None:
        parts.average.load_state_dict(state["ema"], state["ema_updates"])
    if not isinstance(state.get("progress"), dict) or "epoch" not in state["progress"]:
        raise ValueError("no progress record")
    return state


def _training_modules(parts: _Parts, cfg: RunConfig, context: DistContext, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """The student taps and the distiller as trained: DDP-wrapped under torch.distributed, compiled if asked."""
    student: nn.Module = FeatureTaps(parts.model)
    distiller = parts.distiller
    if context.enabled:
        device_ids = [device.index] if device.type == "cuda" else None
        if cfg.sync_bn:
            if device.type != "cuda":
                raise ConfigError("sync_bn needs CUDA (SyncBatchNorm has no CPU kernel); set sync_bn=false")
            student = nn.SyncBatchNorm.convert_sync_batchnorm(student)
        student = DistributedDataParallel(student, device_ids=device_ids)
        if any(p.requires_grad for p in distiller.parameters()):
            distiller = DistributedDataParallel(distiller, device_ids=device_ids)
    if cfg.compile:
        student = torch.compile(student)
    return student, distiller


def _fit(
    cfg: RunConfig,
    directory: Path,
    context: DistContext,
    device: torch.device,
    teacher_cache: TeacherOutputCache | None,
    decoded: DecodedImages | None,
    evaluate_test: bool,
) -> dict[str, Any]:
    try:
        return _train(cfg, directory, context, device, teacher_cache, decoded, evaluate_test)
    except BaseException:
        if context.is_main:
            runstore.discard_unstarted(directory)
        raise


def _teacher_key(path: Path, precision: Precision) -> str:
    """The identity of a teacher's outputs: its checkpoint (path and modification time) and precision."""
    return f"{path}|{path.stat().st_mtime_ns}|{precision.amp_dtype}|{precision.channels_last}"


def _train(
    cfg: RunConfig,
    directory: Path,
    context: DistContext,
    device: torch.device,
    teacher_cache: TeacherOutputCache | None,
    decoded: DecodedImages | None,
    evaluate_test: bool,
) -> dict[str, Any]:
    if context.is_main:
        runstore.write_config(directory, cfg)
    parts = _build(cfg, context, device, decoded)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    barrier(context)
    progress = _resume(parts, cfg, directory, context, device)
    student, train_distiller = _training_modules(parts, cfg, context, device)
    teacher = FeatureTaps(parts.teacher) if parts.teacher is not None else None
    shared = teacher_cache if teacher is not None and device.type == "cpu" and not cfg.teacher_train_mode else None
    teacher_key = _teacher_key(parts.teacher_path, parts.precision) if shared is not None else ""
    val_batches = val_loader(parts.val_set, cfg, context, device)
    checkpoint_path = directory / runstore.CHECKPOINT
    show = context.is_main and not cfg.quiet
    name = run_id(cfg)
    start_epoch = progress["epoch"] + 1
    epochs = progress_bar(range(start_epoch, cfg.epochs), desc=name, enabled=show, initial=start_epoch, total=cfg.epochs)
    for epoch in epochs:
        started = time.perf_counter()
        try:
            stats = train_one_epoch(
                student,
                train_distiller,
                parts.optimizer,
                parts.scheduler,
                train_loader(parts.train_set, cfg, context, epoch, device),
                epoch=epoch,
                total_epochs=cfg.epochs,
                steps_per_epoch=parts.steps_per_epoch,
                precision=parts.precision,
                taps=parts.distiller.required_taps,
                teacher=teacher,
                teacher_train_mode=cfg.teacher_train_mode,
                scaler=parts.scaler,
                progress=show,
                teacher_cache=shared,
                teacher_key=teacher_key,
                after_step=None if parts.average is None else lambda: parts.average.update(parts.model),
            )
        except NonFiniteLossError as error:
            last_good = f"{checkpoint_path} (after epoch {epoch - 1})" if checkpoint_path.is_file() else "none yet"
            raise TrainingDiverged(f"{error}; run {name}; last good checkpoint: {last_good}") from error
        train_s = time.perf_counter() - started
        _sync_buffers(parts.model, context)
        val = None
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            val = evaluate(parts.evaluated, val_batches, cfg.num_classes, device, precision=parts.precision)
            progress["last_val"] = {"epoch": epoch, **val}
            if progress["best"] is None or val["miou"] > progress["best"]["miou"]:
                progress["best"] = {"epoch": epoch, **val}
            epochs.set_postfix(miou=f"{val['miou']:.4f}", loss=f"{stats['loss']:.4g}")
        epoch_s = time.perf_counter() - started
        progress.update(
            epoch=epoch,
            elapsed_s=progress["elapsed_s"] + epoch_s,
            train_s=progress["train_s"] + train_s,
            images_seen=progress["images_seen"] + stats["images"] * context.world_size,
        )
        record = _epoch_record(epoch, stats, val)
        record.update(epoch_time_s=epoch_s, train_time_s=train_s, wall_time_s=progress["elapsed_s"])
        if context.is_main:
            runstore.append_metrics(directory, record)
            _save(checkpoint_path, parts, epoch, progress)
        barrier(context)

    result = _result(cfg, parts.model, progress, device, context, parts.teacher_path)
    if evaluate_test or cfg.test_split is None:
        result["test"] = _test_metrics(cfg, parts.evaluated, parts.precision, context, device, decoded)
    if context.is_main:
        runstore.write_result(directory, result)
    barrier(context)
    return result


def _test_metrics(
    cfg: RunConfig, model: nn.Module, precision: Precision, context: DistContext, device: torch.device, decoded: DecodedImages | None
) -> dict[str, Any] | None:
    """``model`` (the final weights) on the held-out ``cfg.test_split`` (None when the config has none)."""
    if cfg.test_split is None:
        return None
    test_set = build_eval_dataset(cfg, cfg.test_split, decoded)
    metrics = evaluate(model, val_loader(test_set, cfg, context, device), cfg.num_classes, device, precision=precision)
    return {"split": cfg.test_split, **metrics}


def _add_test_evaluation(
    cfg: RunConfig, directory: Path, result: dict[str, Any], context: DistContext, device: torch.device, decoded: DecodedImages | None
) -> dict[str, Any]:
    """``result`` with the test metrics of the run's final checkpoint, written back to its store."""
    model = build_student(cfg, pretrained=False)
    model.load_state_dict(evaluated_weights(runstore.read_checkpoint(directory, map_location="cpu")))
    precision = select_precision(device, amp=cfg.amp, channels_last=cfg.channels_last)
    model = model.to(device, memory_format=torch.channels_last if precision.channels_last else torch.contiguous_format)
    result = {**result, "test": _test_metrics(cfg, model, precision, context, device, decoded)}
    if context.is_main:
        runstore.write_result(directory, result)
    barrier(context)
    return result


def _save(path: Path, parts: _Parts, epoch: int, progress: dict[str, Any]) -> None:
    save_checkpoint(
        path,
        model=parts.model.state_dict(),
        distiller=parts.distiller.state_dict(),
        optimizer=parts.optimizer.state_dict(),
        scheduler=parts.scheduler.state_dict(),
        scaler=None if parts.scaler is None else parts.scaler.state_dict(),
        ema=None if parts.average is None else parts.average.weights(),
        ema_updates=None if parts.average is None else parts.average.updates,
        epoch=epoch,
        progress=progress,
    )


def _result(
    cfg: RunConfig,
    model: nn.Module,
    progress: dict[str, Any],
    device: torch.device,
    context: DistContext,
    teacher_path: Path | None,
) -> dict[str, Any]:
    """The content of ``result.json``."""
    train_s = progress["train_s"]
    return {
        "run_id": run_id(cfg),
        "config_hash": config_hash(cfg),
        "kind": cfg.kind,
        "method": cfg.method,
        "distillation": cfg.distillation.to_dict(),
        "backbone": cfg.backbone,
        "dataset": cfg.dataset,
        "seed": cfg.seed,
        "final": progress["last_val"],
        "best": progress["best"],
        "tables_use": "final",
        "epochs_done": progress["epoch"] + 1,
        "wall_time_s": progress["elapsed_s"],
        "train_images_per_s": progress["images_seen"] / train_s if train_s > 0 else float("nan"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        "world_size": context.world_size,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "teacher_checkpoint": None if teacher_path is None else str(teacher_path),
        "environment": environment_info(),
    }


def train_teacher(config: RunConfig, decoded: DecodedImages | None = None) -> dict[str, Any]:
    """Train (or resume, or fetch the finished result of) a teacher run: cross entropy only.

    Returns the run's ``result.json`` content: ``final`` and ``best`` metrics, wall time, images/s,
    device, peak CUDA memory of the process that finished the run (``torch.cuda.max_memory_allocated``:
    weights, gradients, optimizer state and activations; None on the CPU), environment. Raises
    ValueError when ``config.kind`` is not ``"teacher"``. ``decoded`` as in :func:`fit`.
    """
    if config.kind != "teacher":
        raise ValueError(f"train_teacher needs a config with kind='teacher', got kind={config.kind!r}")
    return fit(config, decoded=decoded)


def distill(
    config: RunConfig,
    teacher_cache: TeacherOutputCache | None = None,
    decoded: DecodedImages | None = None,
    *,
    evaluate_test: bool = True,
) -> dict[str, Any]:
    """Train (or resume, or fetch the finished result of) a student run with ``config.method``.

    The teacher is ``config.teacher_checkpoint`` or, when that is ``None``, the finished run of
    :func:`~aicsd.engine.profiles.teacher_config` (FileNotFoundError naming it when absent).
    ``teacher_cache`` (CPU only) reads the frozen teacher's taps of batches another run of this
    process has seen instead of recomputing them: the same numbers, less time; ``decoded`` likewise
    keeps the decoded images, and ``evaluate_test=False`` skips the held-out split (:func:`fit`).
    """
    if config.kind != "student":
        raise ValueError(f"distill needs a config with kind='student', got kind={config.kind!r}")
    return fit(config, teacher_cache, decoded, evaluate_test=evaluate_test)
