"""Figures for stages 1 and 3 (notebooks 04 and 06): mask outlines over plain CT, feature
maps, stage 1's evaluation; lesions on plain and contrast CT, features per subtype, confusion
matrices and feature importances. Thin plotting layers over :mod:`helpers.display`. Not for
clinical use.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import SimpleITK as sitk
from matplotlib.lines import Line2D

from .. import display
from ..simulate import SUBTYPES
from .grid import as_image

SCANS = {"plain": "plain (non-contrast) CT", "contrast": "contrast CT, pancreatic phase"}


# ------------------------------------------------------------------------- stage 1
def show_outlines(image: sitk.Image, masks: dict, point_mm=None, score=None,
                  score_label: str = "score", window="pancreas", planes=("axial", "coronal"),
                  title=None, figsize=(11, 4.4), score_cmap: str = "viridis",
                  zoom_mm: float | None = None):
    """Masks as coloured outlines (and optionally a 0..1 score map as a translucent colour
    overlay, values below 0.05 left out) on slices through ``point_mm`` (default: the first
    mask's centre), radiologically oriented, with legend and HU colour bar. ``masks`` maps a
    legend name to a mask image on ``image``'s grid. ``zoom_mm``: show only this far (mm)
    either side of the point."""

    if point_mm is None:
        first = next(iter(masks.values()))
        point_mm = display.label_centroid_mm(sitk.Cast(first > 0, sitk.sitkUInt8), 1)
    where = display.point_to_slice_indices(image, point_mm)
    colours = display.outline_colors(range(len(masks)))
    styles = display.outline_styles(range(len(masks)))
    fig, axes = plt.subplots(1, len(planes), figsize=figsize, layout="constrained",
                             squeeze=False)
    for ax, plane in zip(axes[0], planes, strict=True):
        hu, aspect = display.extract_slice(image, plane, where[plane])
        shown = ax.imshow(display.apply_window(hu, window), cmap="gray", vmin=0, vmax=1,
                          aspect=aspect, interpolation="nearest")
        if score is not None:
            heat, _ = display.extract_slice(score, plane, where[plane])
            heat_shown = ax.imshow(np.ma.masked_less(heat, 0.05), cmap=score_cmap, vmin=0,
                                   vmax=1, alpha=0.6, aspect=aspect, interpolation="nearest")
        for n, mask in enumerate(masks.values()):
            cut, _ = display.extract_slice(mask, plane, where[plane])
            if cut.any():
                ax.contour(cut > 0, levels=[0.5], colors=[colours[n]], linewidths=1.6,
                           linestyles=styles[n])
        if zoom_mm:
            _zoom(ax, image, plane, point_mm, zoom_mm, hu.shape)
        display.add_edge_letters(ax, plane)
        ax.set_title(f"{plane} (slice {where[plane]})")
        ax.set_xticks([])
        ax.set_yticks([])
    width, level = display.resolve_window(window)
    display.hu_colorbar(fig, shown, axes[0, -1], window, f"HU (W {width:.0f} / L {level:.0f})")
    if score is not None:
        fig.colorbar(heat_shown, ax=axes[0, -1], shrink=0.8, label=score_label)
    fig.legend(handles=[Line2D([], [], color=colours[n], lw=2, ls=styles[n], label=name)
                        for n, name in enumerate(masks)], loc="outside lower center",
               ncol=len(masks), frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def _zoom(ax, image, plane, point_mm, zoom_mm, shape2d):
    """Limit a displayed slice to ``zoom_mm`` either side of ``point_mm``."""
    lps = display.to_lps(image)
    ijk = lps.TransformPhysicalPointToIndex(tuple(float(v) for v in point_mm))
    _, row, col = display.index_to_display(lps.GetSize()[::-1], plane, ijk)
    sx, sy, sz = lps.GetSpacing()
    row_mm, col_mm = {"axial": (sy, sx), "coronal": (sz, sx), "sagittal": (sz, sy)}[plane]
    half_r, half_c = zoom_mm / row_mm, zoom_mm / col_mm
    ax.set_xlim(max(col - half_c, -0.5), min(col + half_c, shape2d[1] - 0.5))
    ax.set_ylim(min(row + half_r, shape2d[0] - 0.5), max(row - half_r, -0.5))


def show_maps(image: sitk.Image, maps: dict, point_mm, plane: str = "axial", ncols: int = 4,
              panel_size: float = 3.2):
    """Several voxel maps (NumPy arrays on ``image``'s grid, e.g. features or probabilities)
    on one radiologically oriented slice through ``point_mm``, each with its colour bar."""


    index = display.point_to_slice_indices(image, point_mm)[plane]
    fig, axes = display.panel_grid(len(maps), ncols, panel_size, width_ratio=1.3)
    for ax, (name, values) in zip(axes.flat, maps.items(), strict=False):
        cut, aspect = display.extract_slice(as_image(np.asarray(values, np.float32), image),
                                            plane, index)
        shown = ax.imshow(cut, cmap="magma", aspect=aspect, interpolation="nearest")
        fig.colorbar(shown, ax=ax, shrink=0.8)
        display.add_edge_letters(ax, plane, color=display.OKABE_ITO["sky blue"])
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig



def plot_evaluation(table, metrics=(("dice", "Dice (1 = perfect)"),
                                    ("hd95_mm", "95th-percentile Hausdorff (mm)"),
                                    ("volume_error_pct", "volume error (%)")), figsize=(13, 4)):
    """One panel per metric: every case as a dot, per method, with the median as a bar."""

    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize, layout="constrained")
    for ax, (column, label) in zip(axes, metrics, strict=True):
        for n, method in enumerate(methods):
            values = table.loc[table["method"] == method, column].to_numpy(float)
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
            ax.plot(n + np.asarray(jitter), values, "o", alpha=0.7, label=None)
            ax.hlines(np.nanmedian(values), n - 0.3, n + 0.3, color="black", lw=2)
        ax.set_xticks(range(len(methods)), [m.replace(" (", "\n(") for m in methods],
                      fontsize=9)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    if any(column == "volume_error_pct" for column, _ in metrics):
        axes[[c for c, _ in metrics].index("volume_error_pct")].axhline(0, color="0.5", lw=1)
    axes[0].set_title("each dot is one held-out patient; bar = median", loc="left", fontsize=10)
    return fig



# ------------------------------------------------------------------------- stage 3
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
            _zoom(ax, image, "axial", point, zoom_mm, hu.shape)
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

