"""Figures of the book: ICS matrices, intra-class distributions, the ALW schedule.

Every function takes arrays or run records and returns a matplotlib ``Figure``; none trains or
reads files. Heat maps use seaborn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
import pandas as pd
from matplotlib.figure import Figure

from aicsd.data.visualize import colorize_mask
from aicsd.losses import alw_weights

ArrayLike = np.ndarray | torch.Tensor


def _numpy(x: ArrayLike) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def ics_matrices(
    matrices: Mapping[str, ArrayLike],
    class_names: Sequence[str],
    *,
    shared_scale: bool = False,
    cmap: str = "viridis",
) -> Figure:
    """One heat map per (C, C) matrix, side by side, titled by the mapping's keys.

    ``shared_scale`` uses one colour range for all (for matrices of the same kind, e.g. student vs
    teacher); otherwise each has its own (e.g. the paper's vs the released matrix).
    """
    arrays = {title: _numpy(m) for title, m in matrices.items()}
    for title, m in arrays.items():
        if m.shape != (len(class_names), len(class_names)):
            raise ValueError(f"matrix {title!r} has shape {m.shape}, expected ({len(class_names)},)*2")
    vmin = min(m.min() for m in arrays.values()) if shared_scale else None
    vmax = max(m.max() for m in arrays.values()) if shared_scale else None
    size = 2.2 + 0.22 * len(class_names)
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays), size), squeeze=False)
    for ax, (title, m) in zip(axes[0], arrays.items()):
        sns.heatmap(m, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, square=True,
                    xticklabels=class_names, yticklabels=class_names, cbar_kws={"shrink": 0.7})
        ax.set_title(title)
        ax.set_xlabel("class j")
        ax.set_ylabel("class i")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def intra_class_maps(distributions: ArrayLike, class_names: Sequence[str], *, columns: int = 7) -> Figure:
    """Small heat maps of the intra-class distributions p_c of one image: (C, H, W) -> Figure."""
    p = _numpy(distributions)
    if p.ndim != 3 or p.shape[0] != len(class_names):
        raise ValueError(f"expected (C={len(class_names)}, H, W) distributions, got {p.shape}")
    rows = -(-p.shape[0] // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.7 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < p.shape[0]:
            ax.imshow(p[index], cmap="magma")
            ax.set_title(class_names[index], fontsize=7)
    fig.tight_layout()
    return fig


def alw_schedule(total_epochs: int) -> Figure:
    """The ALW multipliers of CE, ICSD and KD over ``total_epochs`` epochs."""
    epochs = np.arange(total_epochs)
    weights = [alw_weights(int(e), total_epochs) for e in epochs]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.step(epochs, [w["ce"] for w in weights], where="post", label="CE and ICSD (alpha)")
    ax.step(epochs, [w["kd"] for w in weights], where="post", label="KD (1 - alpha)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("multiplier")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(frameon=False)
    ax.set_title(f"Adaptive loss weighting over {total_epochs} epochs")
    fig.tight_layout()
    return fig


def qualitative_grid(
    images: Sequence[ArrayLike],
    columns: Mapping[str, Sequence[ArrayLike]],
    palette: Sequence[tuple[int, int, int]],
) -> Figure:
    """Rows of input image and label maps: ``images`` (H, W, 3) in [0, 1]; ``columns`` maps a title
    ("ground truth", "teacher", ...) to one (H, W) label map per image (255 drawn white)."""
    titles = ["input", *columns]
    fig, axes = plt.subplots(len(images), len(titles), figsize=(1.8 * len(titles), 1.8 * len(images)), squeeze=False)
    for row, image in enumerate(images):
        masks = [torch.as_tensor(columns[t][row]) for t in columns]
        panels = [_numpy(image)] + [colorize_mask(m, palette).permute(1, 2, 0).numpy() for m in masks]
        for col, panel in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=9)
    fig.tight_layout()
    return fig


def method_bars(table: pd.DataFrame, *, metric_label: str = "mIoU (%)") -> Figure:
    """Grouped bars with std error bars: ``table`` has columns ``student``, ``method``, ``mean``, ``std``
    (in the unit of ``metric_label``); one group per student, one bar per method, in table order."""
    students = list(dict.fromkeys(table["student"]))
    methods = list(dict.fromkeys(table["method"]))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(methods) * len(students) * 0.5, 3.2))
    colours = sns.color_palette("deep", len(methods))
    for k, method in enumerate(methods):
        part = table[table["method"] == method].set_index("student").reindex(students)
        x = np.arange(len(students)) + (k - (len(methods) - 1) / 2) * width
        ax.bar(x, part["mean"], width, yerr=part["std"].fillna(0), capsize=2, label=method, color=colours[k])
    ax.set_xticks(np.arange(len(students)), students)
    ax.set_ylabel(metric_label)
    low = np.nanmin(table["mean"] - table["std"].fillna(0))
    high = np.nanmax(table["mean"] + table["std"].fillna(0))
    ax.set_ylim(max(0.0, low - 0.15 * (high - low) - 1), high + 0.1 * (high - low) + 0.5)
    ax.legend(frameon=False, fontsize=8, ncol=min(len(methods), 6), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


def training_curves(curves: Mapping[str, Sequence[Mapping[str, float]]], keys: Sequence[str]) -> Figure:
    """One panel per metric in ``keys`` (e.g. ``"val_miou"``, ``"train_loss"``), one line per run:
    ``curves`` maps a label to the run's ``metrics.jsonl`` records (each with ``"epoch"``)."""
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, records in curves.items():
            points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
    axes[0][0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
