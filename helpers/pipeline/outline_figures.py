"""Outline figures (notebooks 04 and 05): mask outlines over plain CT, feature maps and stage
1's evaluation per patient. Thin plotting layers over :mod:`helpers.display`. Not for
clinical use.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.lines import Line2D

from .. import display
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
            zoom_to(ax, image, plane, point_mm, zoom_mm, hu.shape)
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


def zoom_to(ax, image, plane, point_mm, zoom_mm, shape2d):
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
