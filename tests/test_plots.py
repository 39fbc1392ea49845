"""The figure functions draw what they are given and refuse mismatched shapes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from aicsd import plots


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


def test_alw_schedule_plots_alpha_and_one_minus_alpha():
    fig = plots.alw_schedule(4)
    ce, kd = fig.axes[0].lines[:2]
    np.testing.assert_allclose(ce.get_ydata(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(kd.get_ydata(), [1, 0.75, 0.5, 0.25])
