"""Notebooks 04 and 05's outline figures (helpers.pipeline.outline_figures), on a toy patient."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from toy_cases import arr, toy_case

from helpers import display
from helpers.pipeline import outline_figures as of

matplotlib.use("Agg")


def test_outlines_are_drawn_with_a_legend_entry_per_mask_and_zoom_to_the_point():
    case = toy_case(3, "PDAC")
    masks = {"pancreas": case.pancreas_plain, "lesion": case.lesion_plain}
    fig = of.show_outlines(case.plain, masks, title="toy")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split()[0] for ax in panels] == ["axial", "coronal"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["pancreas", "lesion"]
    assert fig._suptitle.get_text() == "toy"
    point = display.label_centroid_mm(case.lesion_plain, 1)
    score = case.lesion_plain * 1.0
    zoomed = of.show_outlines(case.plain, masks, point_mm=point, score=score, zoom_mm=15.0)
    width = np.diff(zoomed.axes[0].get_xlim())[0]
    assert width == pytest.approx(2 * 15.0 / 3.0)  # 15 mm either side, 3 mm pixels
    assert any(ax.get_ylabel() == "score" for ax in zoomed.axes)  # the score map's colour bar


def test_feature_maps_get_one_titled_panel_each():
    case = toy_case(4)
    hu = arr(case.plain)
    maps = {"HU": hu, "gland": arr(case.pancreas_plain).astype(float), "half": hu / 2}
    point = display.label_centroid_mm(case.pancreas_plain, 1)
    fig = of.show_maps(case.plain, maps, point, ncols=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert all(name in titles for name in maps)


def test_the_evaluation_plot_has_one_panel_per_metric_and_a_tick_per_method():
    table = pd.DataFrame({"method": ["atlas"] * 3 + ["voxel classifier (forest)"] * 3,
                          "dice": [0.6, 0.7, 0.8, 0.7, 0.8, 0.9],
                          "hd95_mm": [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],
                          "volume_error_pct": [-10.0, 0.0, 10.0, -5.0, 5.0, 0.0]})
    fig = of.plot_evaluation(table)
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "Dice (1 = perfect)", "95th-percentile Hausdorff (mm)", "volume error (%)"]
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["atlas", "voxel classifier\n(forest)"]
