"""Figures of the book: ICS matrices, intra-class distributions, the ALW schedule.

Every function takes arrays or run records and returns a matplotlib ``Figure``; none trains or
reads files. Heat maps use seaborn. Each figure is closed in pyplot before it is returned, so a
notebook shows it only where it glues or returns it (not a second time at the end of the cell).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from aicsd.data.visualize import colorize_mask
from aicsd.losses import alw_alpha, ics_matrix, intra_class_distributions

ArrayLike = np.ndarray | torch.Tensor

FIGURE_DPI = 80
"""The resolution of every figure of the book (the executed notebooks ship their PNGs: kept small)."""


def _closed(fig: Figure) -> Figure:
    """``fig`` at :data:`FIGURE_DPI`, closed in pyplot: drawn only where it is displayed or glued."""
    plt.close(fig)  # closing restores the figure's original dpi, so the book's is set after
    fig.set_dpi(FIGURE_DPI)
    return fig


def _numpy(x: ArrayLike) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def ics_matrices(
    matrices: Mapping[str, ArrayLike],
    class_names: Sequence[str],
    *,
    shared_scale: bool = False,
    cmap: str = "viridis",
    columns: int = 1,
) -> Figure:
    """One heat map per (C, C) matrix, titled by the mapping's keys, ``columns`` per row.

    Each map is drawn large enough to read every class name at the book's page width (one per row by
    default). ``shared_scale`` uses one colour range for all (for matrices of the same kind, e.g.
    student vs teacher); otherwise each has its own (e.g. the paper's vs the released matrix).
    """
    arrays = {title: _numpy(m) for title, m in matrices.items()}
    for title, m in arrays.items():
        if m.shape != (len(class_names), len(class_names)):
            raise ValueError(f"matrix {title!r} has shape {m.shape}, expected ({len(class_names)},)*2")
    vmin = min(m.min() for m in arrays.values()) if shared_scale else None
    vmax = max(m.max() for m in arrays.values()) if shared_scale else None
    columns = max(1, min(columns, len(arrays)))
    rows = -(-len(arrays) // columns)
    side = 2.0 + 0.25 * len(class_names)
    fig, axes = plt.subplots(rows, columns, figsize=((side + 1.0) * columns, side * rows), squeeze=False)
    for ax in axes.flat[len(arrays):]:
        ax.axis("off")
    for ax, (title, m) in zip(axes.flat, arrays.items()):
        sns.heatmap(m, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, square=True,
                    xticklabels=class_names, yticklabels=class_names, cbar_kws={"shrink": 0.75})
        ax.set_title(title, fontsize=12)
        ax.set_xlabel("class j", fontsize=11)
        ax.set_ylabel("class i", fontsize=11)
        ax.tick_params(labelsize=10)
    fig.tight_layout()
    return _closed(fig)


def intra_class_maps(distributions: ArrayLike, class_names: Sequence[str], *, columns: int = 5) -> Figure:
    """Small heat maps of the intra-class distributions p_c of one image: (C, H, W) -> Figure, each
    panel wide enough for its class name."""
    p = _numpy(distributions)
    if p.ndim != 3 or p.shape[0] != len(class_names):
        raise ValueError(f"expected (C={len(class_names)}, H, W) distributions, got {p.shape}")
    rows = -(-p.shape[0] // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.55 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < p.shape[0]:
            ax.imshow(p[index], cmap="magma")
            ax.set_title(class_names[index], fontsize=9)
    fig.tight_layout()
    return _closed(fig)


def ics_comparison(logits: Mapping[str, ArrayLike], class_names: Sequence[str], shown: Sequence[int]) -> Figure:
    """The paper's Figure 4 for one image: one row per network (e.g. student, AICSD student, teacher),
    its ICS matrix with each row L2-normalised (what the ICSD loss compares; one colour range for all
    rows) and the intra-class distributions of the ``shown`` classes. ``logits``: label -> (C, H, W).
    """
    arrays = {label: torch.as_tensor(_numpy(x)).unsqueeze(0) for label, x in logits.items()}
    for label, x in arrays.items():
        if x.dim() != 4 or x.shape[1] != len(class_names):
            raise ValueError(f"logits {label!r} have shape {tuple(x.shape[1:])}, expected (C={len(class_names)}, H, W)")
    if not shown or max(shown) >= len(class_names) or min(shown) < 0:
        raise ValueError(f"shown classes {list(shown)} must be non-empty ids below {len(class_names)}")
    matrices = {label: torch.nn.functional.normalize(ics_matrix(x)[0], dim=-1).numpy() for label, x in arrays.items()}
    maps = {label: intra_class_distributions(x)[0].reshape(len(class_names), *x.shape[-2:]).numpy() for label, x in arrays.items()}
    vmax = max(m.max() for m in matrices.values())
    side = 2.0 + 0.2 * len(class_names)
    grid_columns = -(-len(shown) // 2)  # the distributions two high beside the matrix
    widths = [side + 1.0] + [side * 0.45] * grid_columns
    fig = plt.figure(figsize=(sum(widths), (side + 1.2) * len(arrays)))
    grid = fig.add_gridspec(2 * len(arrays), 1 + grid_columns, width_ratios=widths)
    for row, label in enumerate(arrays):
        ax = fig.add_subplot(grid[2 * row : 2 * row + 2, 0])
        sns.heatmap(matrices[label], ax=ax, cmap="viridis", vmin=0.0, vmax=vmax, square=True,
                    xticklabels=class_names, yticklabels=class_names, cbar_kws={"shrink": 0.75})
        ax.set_title(f"{label}: ICS matrix (rows normalised)", fontsize=11)
        ax.tick_params(labelsize=8)
        for index, c in enumerate(shown):
            ax = fig.add_subplot(grid[2 * row + index % 2, 1 + index // 2])
            ax.imshow(maps[label][c], cmap="magma")
            ax.set_title(f"{label}: p({class_names[c]})", fontsize=10)
            ax.axis("off")
    fig.tight_layout()
    return _closed(fig)


def alw_schedule(total_epochs: int, *, steps_per_epoch: int = 1, form: str = "epoch") -> Figure:
    """The ALW multipliers of CE and ICSD (alpha) and of KD (1 - alpha) over a run of ``total_epochs``
    epochs of ``steps_per_epoch`` optimiser steps, for the ALW ``form`` (:func:`aicsd.losses.alw_alpha`).

    Each step's value holds until the next step and the last one until the end of training, so the
    curves end flat at ``total_epochs``.
    """
    total_steps = total_epochs * steps_per_epoch
    steps = np.arange(total_steps)
    alpha = np.array(
        [alw_alpha(form, epoch=int(s) // steps_per_epoch, total_epochs=total_epochs, step=int(s), total_steps=total_steps) for s in steps]
    )
    progress = np.append(steps, total_steps) / steps_per_epoch
    alpha = np.append(alpha, alpha[-1])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.step(progress, alpha, where="post", label="CE and ICSD (alpha)")
    ax.step(progress, 1 - alpha, where="post", label="KD (1 - alpha)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("multiplier")
    ax.set_xlim(0, total_epochs)
    ax.set_ylim(-0.05, 1.05)
    ax.legend(frameon=False, loc="center right")
    ax.set_title(f"Adaptive loss weighting over {total_epochs} epochs")
    fig.tight_layout()
    return _closed(fig)


LEGEND_COLUMNS = 6
"""Class entries per row of a qualitative grid's colour legend."""


def qualitative_grid(
    images: Sequence[ArrayLike],
    columns: Mapping[str, Sequence[ArrayLike]],
    palette: Sequence[tuple[int, int, int]],
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Rows of input image and label maps: ``images`` (H, W, 3) in [0, 1]; ``columns`` maps a title
    ("ground truth", "teacher", ...) to one (H, W) label map per image (255 drawn white). With
    ``class_names`` (in the palette's order) a legend below the grid names each class's colour."""
    titles = ["input", *columns]
    legend_rows = 0 if class_names is None else -(-(len(class_names) + 1) // LEGEND_COLUMNS)
    legend_inches = 0.22 * legend_rows + (0.1 if legend_rows else 0.0)
    height = 1.8 * len(images) + legend_inches
    fig, axes = plt.subplots(len(images), len(titles), figsize=(1.8 * len(titles), height), squeeze=False)
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
    if class_names is not None:
        handles = [Patch(facecolor=np.asarray(palette[k]) / 255, edgecolor="grey", label=name) for k, name in enumerate(class_names)]
        handles.append(Patch(facecolor="white", edgecolor="grey", label="ignored"))
        fig.legend(handles=handles, loc="lower center", ncol=LEGEND_COLUMNS, fontsize=7, frameon=False, handlelength=1.2)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    return _closed(fig)


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
    return _closed(fig)


def training_curves(curves: Mapping[str, Sequence[Mapping[str, float]]], keys: Sequence[str], *, columns: int = 3) -> Figure:
    """One panel per metric in ``keys`` (e.g. ``"val_miou"``, ``"train_loss"``), ``columns`` per row, one
    line per run: ``curves`` maps a label to the run's ``metrics.jsonl`` records (each with ``"epoch"``)."""
    columns = max(1, min(columns, len(keys)))
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    for ax, key in zip(axes.flat, keys):
        for label, records in curves.items():
            points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
    axes[0][0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _closed(fig)


def sizing_frontier(frontier: pd.DataFrame) -> Figure:
    """Test mIoU (%) against optimiser steps per network, error bars one standard deviation over
    seeds, beside that standard deviation against steps (rows of :func:`aicsd.study.sizing.frontier`
    for one data setting, with or without the reproduction's own points)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for network, rows in frontier.sort_values("steps").groupby("network", sort=True):
        line = left.errorbar(rows["steps"], rows["test mIoU"], yerr=rows["std over seeds"].fillna(0), marker="o", capsize=3, label=network)
        spread = rows.dropna(subset=["std over seeds"])
        if not spread.empty:
            right.plot(spread["steps"], spread["std over seeds"], marker="o", color=line[0].get_color(), label=network)
    left.set_xlabel("optimiser steps (batch 8)")
    left.set_ylabel("test mIoU (%)")
    left.set_title("Accuracy against training length")
    right.set_xlabel("optimiser steps (batch 8)")
    right.set_ylabel("std of test mIoU over seeds (points)")
    right.set_title("Seed spread against training length")
    right.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    left.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _closed(fig)


def sizing_curves(curves: pd.DataFrame) -> Figure:
    """Val mIoU (%) against optimiser steps for every sizing probe (:func:`aicsd.study.sizing.curves`),
    teachers solid and students dashed."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for label, curve in curves.groupby("label", sort=False):
        style = "-" if curve["kind"].iloc[0] == "teacher" else "--"
        ax.plot(curve["steps"], curve["val mIoU"], style, marker="o", markersize=3, label=label)
    ax.set_xlabel("optimiser steps (batch 8)")
    ax.set_ylabel("val mIoU (%)")
    ax.set_title("Sizing probes: learning curves on the generated dataset")
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _closed(fig)


def per_class_heatmap(values: pd.DataFrame, *, title: str = "", diverging: bool = False, label: str = "IoU (%)") -> Figure:
    """A heat map of ``values`` (rows: classes, columns: networks or students), each cell annotated
    (NaN: class absent, left blank). ``diverging`` centres a red-blue scale at 0 (for gains)."""
    rows, columns = values.shape
    fig, ax = plt.subplots(figsize=(2.5 + 0.62 * columns, 1.2 + 0.32 * rows))
    limit = float(np.nanmax(np.abs(values.to_numpy(dtype=float)))) if diverging and values.notna().any().any() else None
    sns.heatmap(
        values.astype(float), ax=ax, annot=True, fmt=".0f" if not diverging else "+.1f", annot_kws={"fontsize": 7},
        cmap="RdBu" if diverging else "viridis", center=0 if diverging else None,
        vmin=-limit if limit else None, vmax=limit if limit else None, cbar_kws={"label": label},
    )
    ax.set_xlabel("")
    ax.set_ylabel(values.index.name or "")
    ax.tick_params(labelsize=8)
    ax.set_xticklabels(ax.get_xticklabels(), rotation=60, ha="right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _closed(fig)
