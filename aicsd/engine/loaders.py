"""Datasets and loaders of a run: seeded, sharded over DDP processes, resumable per epoch."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from aicsd.data import build_dataset
from aicsd.data.decoded import DecodedImages, with_decoded
from aicsd.data.synthetic import generate_for_training
from aicsd.data.transforms import eval_transforms, pad_collate, train_transforms
from aicsd.engine.config import RunConfig
from aicsd.engine.distributed import DistContext, barrier

__all__ = ["build_datasets", "build_eval_dataset", "decoded_images_of", "seed_everything", "seed_worker", "take_first", "train_loader", "val_loader"]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed python and numpy from the worker's torch seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def take_first(dataset: Dataset, count: int | None) -> Dataset:
    """The first ``count`` items of ``dataset`` (all of them for ``None``)."""
    return dataset if count is None or count >= len(dataset) else Subset(dataset, range(count))


def build_datasets(cfg: RunConfig, context: DistContext, decoded: DecodedImages | None = None) -> tuple[Dataset, Dataset]:
    """Train (random scale crop + flip) and val (eval transforms) datasets of ``cfg``.

    The synthetic dataset is generated (default size) when ``data_root`` holds none; an existing
    one is never regenerated here (a missing split list is reported, nothing is deleted). Both read
    through ``decoded`` (:func:`decoded_images_of`).
    """
    decoded = decoded_images_of(cfg, decoded)

    def build() -> tuple[Dataset, Dataset]:
        # Scale relative to the shorter side each image has at evaluation (its own one in "full").
        base_size = cfg.eval_size if cfg.eval_mode == "released" else None
        train_tf = train_transforms(cfg.crop_size, scale_range=cfg.scale_range, base_size=base_size)
        eval_tf = eval_transforms(cfg.eval_mode, size=cfg.eval_size)
        train = with_decoded(build_dataset(cfg.dataset, cfg.data_root, cfg.train_split, transforms=train_tf), decoded)
        val = with_decoded(build_dataset(cfg.dataset, cfg.data_root, cfg.val_split, transforms=eval_tf), decoded)
        if cfg.test_split is not None:
            build_dataset(cfg.dataset, cfg.data_root, cfg.test_split)
        return take_first(train, cfg.train_limit), take_first(val, cfg.val_limit)

    if cfg.dataset == "synthetic":
        if context.is_main:
            generate_for_training(cfg.data_root)
        barrier(context)
    return build()


def build_eval_dataset(cfg: RunConfig, split: str, decoded: DecodedImages | None = None) -> Dataset:
    """``split`` of the run's dataset under the eval transforms (every image, no limit), read
    through ``decoded`` (:func:`decoded_images_of`)."""
    dataset = build_dataset(cfg.dataset, cfg.data_root, split, transforms=eval_transforms(cfg.eval_mode, size=cfg.eval_size))
    return with_decoded(dataset, decoded_images_of(cfg, decoded))


def decoded_images_of(cfg: RunConfig, decoded: DecodedImages | None) -> DecodedImages | None:
    """``decoded`` when the run loads in its own process (``num_workers == 0``), else None: each
    DataLoader worker would decode into a copy of its own, which dies with the epoch."""
    return decoded if cfg.num_workers == 0 else None


def train_loader(dataset: Dataset, cfg: RunConfig, context: DistContext, epoch: int, device: torch.device) -> DataLoader:
    """The loader of one epoch: its shuffle order and worker seeds depend only on (seed, epoch)."""
    if cfg.batch_size % context.world_size:
        raise ValueError(
            f"batch_size={cfg.batch_size} is the global batch and must be divisible by the "
            f"{context.world_size} processes"
        )
    sampler = DistributedSampler(
        dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=cfg.seed
    )
    sampler.set_epoch(epoch)
    generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size // context.world_size,
        sampler=sampler,
        drop_last=True,
        num_workers=cfg.num_workers,
        worker_init_fn=seed_worker,
        generator=generator,
        pin_memory=device.type == "cuda",
    )


def val_loader(dataset: Dataset, cfg: RunConfig, context: DistContext, device: torch.device) -> DataLoader:
    """Each process takes every ``world_size``-th image (no padding, so no image counts twice)."""
    shard = Subset(dataset, range(context.rank, len(dataset), context.world_size)) if context.enabled else dataset
    return DataLoader(
        shard,
        batch_size=cfg.eval_batch_size,
        shuffle=False,
        num_workers=cfg.num_workers,
        collate_fn=pad_collate,
        pin_memory=device.type == "cuda",
    )
