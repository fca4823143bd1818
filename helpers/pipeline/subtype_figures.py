"""Stage 3's figures (notebook 06): lesions on plain and contrast CT, features per subtype,
confusion matrices and feature importances. Thin plotting layers over :mod:`helpers.display`.
Not for clinical use.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import SimpleITK as sitk

from .. import display
from ..simulate import SUBTYPES
from .outline_figures import SCANS, zoom_to


def show_lesion_gallery(cases, window="pancreas", zoom_mm: float = 40.0, panel_size=2.9):
    """One lesion per case (rows) on the plain and the contrast scan (columns): the axial
    slice through the lesion's centre on each scan, radiologically oriented (anterior up,
    patient's right on the left), zoomed to ``zoom_mm`` either side, lesion outlined."""

    cases = list(cases)
    fig, axes = plt.subplots(len(cases), 2, figsize=(2 * panel_size + 1.2,
                                                     panel_size * len(cases)),
                             layout="constrained", squeeze=False)
    for row, case in zip(axes, cases, strict=True):
        for ax, scan in zip(row, SCANS, strict=True):
            image, lesion = getattr(case, scan), getattr(case, f"lesion_{scan}")
            point = display.label_centroid_mm(sitk.Cast(lesion > 0, sitk.sitkUInt8), 1)
            index = display.point_to_slice_indices(image, point)["axial"]
            hu, aspect = display.extract_slice(image, "axial", index)
            shown = ax.imshow(display.apply_window(hu, window), cmap="gray", vmin=0, vmax=1,
                              aspect=aspect, interpolation="nearest")
            cut, _ = display.extract_slice(lesion, "axial", index)
            if cut.any():
                ax.contour(cut > 0, levels=[0.5], colors=[display.OKABE_ITO["yellow"]],
                           linewidths=1.2)
            zoom_to(ax, image, "axial", point, zoom_mm, hu.shape)
            display.add_edge_letters(ax, "axial")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{case.subtype}, {case.lesion_diameter_mm:.0f} mm: {scan}",
                         fontsize=9)
    width, level = display.resolve_window(window)
    display.hu_colorbar(fig, shown, axes[:, -1], window,
                        f"HU ({window} window W {width:.0f} / L {level:.0f})")
    fig.suptitle("Simulated lesions, axial slice through each lesion's centre "
                 "(yellow: the simulator's exact lesion mask)", fontsize=10)
    return fig


def plot_feature_by_subtype(table, feature: str, unit: str = "HU", axes=None):
    """Box plots (and every lesion as a dot) of one lesion feature per subtype, one panel per
    scan in ``table`` (a :func:`.stage3.feature_table`), on a shared axis."""

    scans = [s for s in SCANS if s in set(table["image"])]
    if axes is None:
        _, axes = plt.subplots(1, len(scans), figsize=(5 * len(scans), 3.8), sharey=True,
                               layout="constrained", squeeze=False)
        axes = axes[0]
    rng = np.random.default_rng(0)  # horizontal jitter of the dots only
    for ax, scan in zip(axes, scans, strict=True):
        part = table[table["image"] == scan]
        values = [part.loc[part["subtype"] == s, feature].to_numpy() for s in SUBTYPES]
        ax.boxplot(values, showfliers=False, widths=0.5)
        ax.set_xticks(range(1, len(SUBTYPES) + 1), SUBTYPES)
        for k, v in enumerate(values, start=1):
            ax.plot(k + rng.uniform(-0.15, 0.15, len(v)), v, "o", ms=3, alpha=0.6,
                    color=f"C{k - 1}")
        ax.axhline(0, color="0.5", lw=0.8, ls="--")
        ax.set_title(SCANS[scan])
        ax.set_xlabel("true subtype (simulated lesions)")
        ax.set_ylabel(f"{feature} ({unit})" if unit else feature)
        ax.yaxis.set_tick_params(labelleft=True)
    return axes


def plot_confusions(confusions: dict, titles: dict | None = None):
    """Confusion matrices (DataFrames: rows true, columns predicted) side by side, with the
    count in every cell and the per-class recall beside each row."""

    fig, axes = plt.subplots(1, len(confusions), figsize=(4.4 * len(confusions), 4.0),
                             layout="constrained", squeeze=False)
    for ax, (name, frame) in zip(axes[0], confusions.items(), strict=True):
        counts = np.asarray(frame, int)
        shown = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(counts.max(), 1))
        for (i, j), n in np.ndenumerate(counts):
            ax.text(j, i, str(n), ha="center", va="center",
                    color="white" if n > counts.max() / 2 else "black")
        ax.set_xticks(range(len(frame.columns)), frame.columns)
        ax.set_yticks(range(len(frame.index)),
                      [f"{s}\n(recall {counts[i, i] / max(counts[i].sum(), 1):.2f})"
                       for i, s in enumerate(frame.index)])
        ax.set_xlabel("predicted subtype")
        ax.set_ylabel("true subtype")
        ax.set_title((titles or {}).get(name, name), fontsize=10)
        fig.colorbar(shown, ax=ax, shrink=0.7, label="lesions")
    return fig


def plot_importances(importances: dict, top: int | None = None):
    """Horizontal bars of feature importances (pandas Series), one colour per model."""

    frame = pd.DataFrame(importances)
    frame = frame.loc[frame.max(axis=1).sort_values().index]
    if top:
        frame = frame.iloc[-top:]
    ax = frame.plot.barh(figsize=(7, 0.32 * len(frame) + 1.2), width=0.8)
    ax.set_xlabel("importance (mean decrease in impurity; sums to 1 per model)")
    ax.set_ylabel("lesion feature")
    ax.legend(title="classifier trained on", loc="lower right")
    ax.figure.set_layout_engine("constrained")
    return ax

