"""The figure functions draw what they are given and refuse mismatched shapes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from aicsd.study import plots


def test_ics_matrices_draw_one_heatmap_per_matrix_with_shared_scale():
    names = ["a", "b", "c"]
    fig = plots.ics_matrices({"student": torch.rand(3, 3), "teacher": 2 * np.eye(3)}, names, shared_scale=True)
    heatmap_axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heatmap_axes] == ["student", "teacher"]
    limits = {ax.collections[0].get_clim() for ax in heatmap_axes}
    assert len(limits) == 1 and limits.pop()[1] == 2.0
    with pytest.raises(ValueError, match="shape"):
        plots.ics_matrices({"x": np.zeros((2, 2))}, names)


def test_intra_class_maps_one_panel_per_class():
    fig = plots.intra_class_maps(torch.rand(5, 4, 6), ["c0", "c1", "c2", "c3", "c4"], columns=3)
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["c0", "c1", "c2", "c3", "c4"]
    with pytest.raises(ValueError, match="distributions"):
        plots.intra_class_maps(torch.rand(4, 6), ["a"])


def test_ics_matrices_leave_room_for_every_class_name():
    names = [f"class {k}" for k in range(21)]
    fig = plots.ics_matrices({"a": np.zeros((21, 21)), "b": np.ones((21, 21)), "c": np.eye(21)}, names)
    heatmap_axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(heatmap_axes) == 3
    for ax in heatmap_axes:
        labels = ax.get_yticklabels()
        assert [label.get_text() for label in labels] == names
        assert min(label.get_fontsize() for label in labels) >= 9
        height_inches = ax.get_position().height * fig.get_size_inches()[1]
        assert height_inches / len(names) >= 0.2  # a row per name, at least as tall as the text


def test_alw_schedule_plots_alpha_and_one_minus_alpha_and_ends_flat():
    fig = plots.alw_schedule(4)
    ce, kd = fig.axes[0].lines[:2]
    np.testing.assert_allclose(ce.get_xdata(), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(ce.get_ydata(), [0, 0.25, 0.5, 0.75, 0.75])
    np.testing.assert_allclose(kd.get_ydata(), [1, 0.75, 0.5, 0.25, 0.25])
    # drawn as steps: the last epoch is a horizontal segment up to the end of training, no jump there
    path = ce.get_path().vertices
    last_epoch = path[path[:, 0] > 3]
    assert last_epoch[:, 0].max() == 4 and (last_epoch[:, 1] == 0.75).all()
    assert fig.axes[0].get_xlim() == (0.0, 4.0)


def test_alw_schedule_per_step_reaches_one_at_the_last_step():
    fig = plots.alw_schedule(2, steps_per_epoch=3, form="step")
    ce = fig.axes[0].lines[0]
    np.testing.assert_allclose(ce.get_xdata(), np.arange(7) / 3)
    np.testing.assert_allclose(ce.get_ydata(), [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_qualitative_grid_has_one_panel_per_image_and_column():
    images = [np.zeros((6, 5, 3)), np.ones((4, 4, 3))]
    gt = [np.zeros((6, 5), dtype=np.int64), np.full((4, 4), 255)]
    fig = plots.qualitative_grid(images, {"ground truth": gt, "student": [np.ones((6, 5), dtype=np.int64), gt[1]]}, [(0, 0, 0), (255, 0, 0)])
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input", "ground truth", "student"]
    assert tuple(fig.axes[4].images[0].get_array()[0, 0]) == (255, 255, 255)
    assert not fig.legends
    named = plots.qualitative_grid(images, {"ground truth": gt}, [(0, 0, 0), (255, 0, 0)], ["road", "car"])
    (legend,) = named.legends
    assert [t.get_text() for t in legend.get_texts()] == ["road", "car", "ignored"]
    assert tuple(legend.legend_handles[1].get_facecolor()[:3]) == (1.0, 0.0, 0.0)


def test_method_bars_draws_every_student_method_pair():
    import pandas as pd

    table = pd.DataFrame(
        {"student": ["r18", "r18", "mb2", "mb2"], "method": ["none", "aicsd"] * 2, "mean": [50.0, 55, 40, 44], "std": [1.0, 0.5, float("nan"), 2]}
    )
    fig = plots.method_bars(table)
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    assert heights == [40.0, 44.0, 50.0, 55.0]


def test_training_curves_plots_each_run_and_skips_missing_values():
    records = [{"epoch": 0, "val_miou": 0.1}, {"epoch": 1, "val_miou": None}, {"epoch": 2, "val_miou": 0.3}]
    fig = plots.training_curves({"run": records}, ["val_miou"])
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.1, 0.3])


def test_training_curves_wrap_panels_into_rows():
    records = [{"epoch": 0, "a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}]
    fig = plots.training_curves({"run": records}, ["a", "b", "c", "d"], columns=3)
    drawn = [ax for ax in fig.axes if ax.lines]
    assert [ax.get_ylabel() for ax in drawn] == ["a", "b", "c", "d"]
    assert len({round(ax.get_position().y0, 3) for ax in drawn}) == 2


def test_ics_comparison_draws_a_shared_scale_matrix_and_the_shown_distributions_per_network():
    names = ["c0", "c1", "c2", "c3"]
    logits = {"student": torch.randn(4, 5, 6), "teacher": np.random.default_rng(0).normal(size=(4, 5, 6))}
    fig = plots.ics_comparison(logits, names, [2, 0])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [
        "student: ICS matrix (rows normalised)", "student: p(c2)", "student: p(c0)",
        "teacher: ICS matrix (rows normalised)", "teacher: p(c2)", "teacher: p(c0)",
    ]
    heatmaps = [ax for ax in fig.axes if ax.get_title().endswith("(rows normalised)")]
    assert len({ax.collections[0].get_clim() for ax in heatmaps}) == 1
    panel = next(ax for ax in fig.axes if ax.get_title() == "teacher: p(c0)")
    assert panel.images[0].get_array().sum() == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="expected"):
        plots.ics_comparison({"x": torch.randn(3, 5, 6)}, names, [0])
    with pytest.raises(ValueError, match="shown"):
        plots.ics_comparison(logits, names, [4])
