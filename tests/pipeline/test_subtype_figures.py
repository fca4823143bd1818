"""Stage 3's figures (helpers.pipeline.subtype_figures), on toy tables."""

from __future__ import annotations

import numpy as np

from helpers.pipeline import stage3
from helpers.simulate import SUBTYPES


def test_stage3_figures_draw_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from helpers.pipeline import evaluation
    from helpers.pipeline import subtype_figures as stage3_figures

    true = np.repeat(SUBTYPES, 3)
    confusion, _ = evaluation.subtype_report(true, true[::-1])
    fig = stage3_figures.plot_confusions({"plain": confusion})
    assert fig.axes[0].get_xlabel() == "predicted subtype"
    assert fig.axes[0].get_ylabel() == "true subtype"
    table = pd.DataFrame({"subtype": np.tile(true, 2), "image": ["plain"] * 12 + ["contrast"] * 12,
                          "median HU - gland": np.arange(24.0)})
    axes = stage3_figures.plot_feature_by_subtype(table, "median HU - gland")
    assert [a.get_title() for a in axes] == list(stage3_figures.SCANS.values())
    assert axes[0].get_ylabel() == "median HU - gland (HU)"
    importances = pd.Series(np.linspace(0, 1, 13), stage3.lesion_feature_names())
    ax = stage3_figures.plot_importances({"plain CT": importances})
    assert ax.get_xlabel().startswith("importance")
