"""Figures of CT slices the way radiologists read them: three planes, the HU scale, windows
side by side, raw versus radiological orientation, slabs. Thin layers over :mod:`.slices`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .colours import (
    HIGHLIGHT_COLOUR,
    LETTER_COLOUR,
    REFERENCE_COLOUR,
    composite_overlay,
    label_colors,
    outline_colors,
    outline_styles,
)
from .slices import (
    EDGE_LETTERS,
    PLANES,
    TISSUE_BANDS,
    WINDOW_PRESETS,
    apply_window,
    extract_slice,
    point_to_slice_indices,
    raw_edge_letters,
    resolve_window,
    tissue_class_map,
    to_lps,
    window_bounds,
)


def add_letters(ax, letters, color: str = LETTER_COLOUR) -> None:
    """Write ``(left, right, top, bottom)`` direction letters at a panel's edges."""
    left, right, top, bottom = letters
    style = dict(color=color, fontsize=11, fontweight="bold", transform=ax.transAxes)
    ax.text(0.02, 0.5, left, ha="left", va="center", **style)
    ax.text(0.98, 0.5, right, ha="right", va="center", **style)
    ax.text(0.5, 0.98, top, ha="center", va="top", **style)
    ax.text(0.5, 0.02, bottom, ha="center", va="bottom", **style)


def add_edge_letters(ax, plane: str, color: str = LETTER_COLOUR) -> None:
    """Write the anatomical direction at each edge of a panel (R/L, A/P, S/I)."""
    add_letters(ax, EDGE_LETTERS[plane], color)


def hu_colorbar(fig, mappable, ax, window, label: str = "HU"):
    """A colour bar for a windowed (0..1) image, ticked in HU at low, level and high."""
    low, high = window_bounds(window)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.8, ticks=[0, 0.5, 1])
    bar.ax.set_yticklabels([f"{low:.0f}", f"{(low + high) / 2:.0f}", f"{high:.0f}"])
    bar.set_label(label)
    return bar


def panel_grid(n: int, ncols: int, panel_size: float, width_ratio: float = 1.25):
    """A figure with ``n`` panels in rows of ``ncols``; spare axes are switched off."""

    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * width_ratio * ncols,
                                                    panel_size * nrows),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def show_planes(image, labels=None, label_names=None, point_mm=None, window="soft_tissue",
                outline=(), fill=(), title=None, figsize=(13, 4.6)):
    """Three orthogonal planes through ``point_mm``, windowed, with optional label overlay.

    ``outline`` label ids are drawn as contours, ``fill`` ids as translucent colour; both
    appear in the legend under their names from ``label_names``. Returns the figure.
    """
    lps = to_lps(image)
    if point_mm is None:
        point_mm = lps.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2 for n in lps.GetSize()])
    where = point_to_slice_indices(lps, point_mm)
    names = label_names or {}
    colors = {**label_colors(fill), **outline_colors(outline)}
    styles = outline_styles(outline)
    fig, axes = plt.subplots(1, 3, figsize=figsize, layout="constrained")
    for ax, plane in zip(axes, PLANES, strict=True):
        hu, aspect = extract_slice(lps, plane, where[plane])
        gray = apply_window(hu, window)
        if labels is not None and fill:
            lab, _ = extract_slice(labels, plane, where[plane])
            gray = composite_overlay(gray, lab, {i: colors[i] for i in fill}, 0.35)
        shown = ax.imshow(gray, cmap="gray", vmin=0, vmax=1, aspect=aspect,
                          interpolation="nearest")
        if labels is not None:
            lab, _ = extract_slice(labels, plane, where[plane])
            for i in outline:
                if (lab == i).any():
                    ax.contour(lab == i, levels=[0.5], colors=[colors[i]], linewidths=2.0,
                               linestyles=styles[i])
        add_edge_letters(ax, plane)
        ax.set_title(f"{plane} (slice {where[plane]})")
        ax.set_xticks([])
        ax.set_yticks([])
    low, high = window_bounds(window)
    bar = fig.colorbar(shown, ax=axes, shrink=0.8, ticks=[0, 0.5, 1])
    bar.ax.set_yticklabels([f"{low:.0f}", f"{(low + high) / 2:.0f}", f"{high:.0f}"])
    width, level = resolve_window(window)
    bar.set_label(f"HU (window W {width:.0f} / L {level:.0f})")
    def pretty(i):
        return names.get(i, f"label {i}").replace("_", " ")

    handles = [Line2D([], [], color=colors[i], lw=2, ls=styles[i], label=pretty(i))
               for i in outline]
    handles += [Patch(color=colors[i], alpha=0.6, label=pretty(i)) for i in fill]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6),
                   fontsize=11, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def show_hu_scale(hu2d: np.ndarray, aspect: float = 1.0, letters=EDGE_LETTERS["axial"],
                  window=(2000.0, 0.0), bands=TISSUE_BANDS, title=None, figsize=(15, 4.6)):
    """Slice, tissue classes by HU band, and HU histogram with the bands shaded."""

    fig, (ax_img, ax_cls, ax_hist) = plt.subplots(
        1, 3, figsize=figsize, layout="constrained", width_ratios=[1, 1, 1.3])
    shown = ax_img.imshow(apply_window(hu2d, window), cmap="gray", vmin=0, vmax=1,
                          aspect=aspect, interpolation="nearest")
    width, level = resolve_window(window)
    hu_colorbar(fig, shown, ax_img, window, f"HU (window W {width:.0f} / L {level:.0f})")
    ax_img.set_title("CT slice in Hounsfield units")
    classes = tissue_class_map(hu2d, bands)
    colors = {n: to_rgb(c) for n, (*_, c) in enumerate(bands, start=1)}
    ax_cls.imshow(composite_overlay(apply_window(hu2d, window) * 0.5, classes, colors, 0.85),
                  aspect=aspect, interpolation="nearest")
    ax_cls.set_title("pixels coloured by HU band")
    ax_cls.legend(handles=[Patch(color=c, label=f"{name}: {lo:.0f} to {hi:.0f} HU")
                           for name, lo, hi, c in bands], loc="upper center",
                  bbox_to_anchor=(0.5, -0.02), fontsize=8, frameon=False)
    for ax in (ax_img, ax_cls):
        add_letters(ax, letters)
        ax.set_xticks([])
        ax.set_yticks([])
    for _, low, high, color in bands:
        ax_hist.axvspan(max(low, -1100), min(high, 2000), color=color, alpha=0.3, lw=0)
    ax_hist.hist(np.ravel(hu2d), bins=200, range=(-1100, 2000), color="black", log=True,
                 histtype="step")
    for value, name in ((-1000, "air"), (0, "water")):
        ax_hist.axvline(value, color=HIGHLIGHT_COLOUR, lw=1, ls="--")
        ax_hist.text(value, 1.01, f"{name} = {value}", color=HIGHLIGHT_COLOUR, ha="center",
                     transform=ax_hist.get_xaxis_transform())
    ax_hist.set_xlim(-1100, 2000)
    ax_hist.set_xlabel("Hounsfield units (HU)")
    ax_hist.set_ylabel("number of pixels (log scale)")
    ax_hist.set_title("HU histogram with the bands shaded", pad=20)
    if title:
        fig.suptitle(title)
    return fig


def compare_windows(hu2d: np.ndarray, windows=tuple(WINDOW_PRESETS), aspect: float = 1.0,
                    letters=EDGE_LETTERS["axial"], outline=None, outline_name: str = "",
                    title=None, ncols: int = 3, panel_size: float = 3.6):
    """The same slice under several windows, each with its own colour bar in HU.

    ``windows`` holds preset names or ``(width, level)`` pairs. ``outline`` is an optional
    boolean mask drawn as a contour on every panel (named ``outline_name`` in a legend).
    """

    windows = list(windows)
    fig, axes = panel_grid(len(windows), ncols, panel_size, width_ratio=1.25)
    for ax, window in zip(axes.flat, windows, strict=False):
        width, level = resolve_window(window)
        shown = ax.imshow(apply_window(hu2d, window), cmap="gray", vmin=0, vmax=1,
                          aspect=aspect, interpolation="nearest")
        if outline is not None and np.any(outline):
            ax.contour(outline, levels=[0.5], colors=[REFERENCE_COLOUR], linewidths=1.2)
        name = window if isinstance(window, str) else "custom"
        ax.set_title(f"{name}: W {width:.0f} / L {level:.0f} HU")
        add_letters(ax, letters)
        ax.set_xticks([])
        ax.set_yticks([])
        hu_colorbar(fig, shown, ax, window, "HU")
    if outline is not None and outline_name:
        fig.legend(handles=[Line2D([], [], color=REFERENCE_COLOUR, lw=1.5, label=outline_name)],
                   loc="outside lower center", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def show_raw_vs_radiological(image: sitk.Image, index: int | None = None,
                             window="soft_tissue", figsize=(10, 4.8)):
    """An axial slice plotted straight from the array next to the same slice reoriented.

    The letters on the left panel are computed from the image's direction, so they show
    where the patient really is when the header is ignored.
    """

    array = sitk.GetArrayViewFromImage(image)
    index = array.shape[0] // 2 if index is None else index
    spacing = image.GetSpacing()
    fig, (raw_ax, lps_ax) = plt.subplots(1, 2, figsize=figsize, layout="constrained")
    raw_ax.imshow(apply_window(array[index], window), cmap="gray", vmin=0, vmax=1,
                  aspect=spacing[1] / spacing[0], interpolation="nearest")
    add_letters(raw_ax, raw_edge_letters(image), color=HIGHLIGHT_COLOUR)
    raw_ax.set_title(f"plt.imshow(array[{index}]): header ignored")
    lps_index = point_to_slice_indices(image, image.TransformIndexToPhysicalPoint(
        (0, 0, index)))["axial"]
    oriented, aspect = extract_slice(image, "axial", lps_index)
    shown = lps_ax.imshow(apply_window(oriented, window), cmap="gray", vmin=0, vmax=1,
                          aspect=aspect, interpolation="nearest")
    add_edge_letters(lps_ax, "axial")
    lps_ax.set_title("reoriented to LPS: radiological view")
    for ax in (raw_ax, lps_ax):
        ax.set_xticks([])
        ax.set_yticks([])
    width, level = resolve_window(window)
    hu_colorbar(fig, shown, [raw_ax, lps_ax], window, f"HU (W {width:.0f} / L {level:.0f})")
    return fig


def show_slabs(image: sitk.Image, slabs, plane: str = "coronal", window="soft_tissue",
               title=None, figsize=(6.5, 6.0)):
    """Mark slabs of axial slices on a coronal (or sagittal) view of ``image``.

    ``slabs`` holds ``(text, first_k, count, colour)``: ``count`` axial slices from
    index ``first_k`` of the LPS-oriented image, shaded and named in a legend.
    """

    if plane not in ("coronal", "sagittal"):
        raise ValueError("slabs of axial slices show on a coronal or sagittal view")
    section, aspect = extract_slice(image, plane)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    shown = ax.imshow(apply_window(section, window), cmap="gray", vmin=0, vmax=1, aspect=aspect,
                      interpolation="nearest")
    top = section.shape[0] - 1  # displayed row of axial slice k is top - k
    handles = []
    for text, first, count, color in slabs:
        ax.axhspan(top - first - count + 0.5, top - first + 0.5, color=color, alpha=0.3, lw=0)
        handles.append(Patch(color=color, alpha=0.5, label=text))
    add_edge_letters(ax, plane)
    ax.set_xticks([])
    ax.set_yticks([])
    width, level = resolve_window(window)
    hu_colorbar(fig, shown, ax, window, f"HU (W {width:.0f} / L {level:.0f})")
    fig.legend(handles=handles, loc="outside lower center", frameon=False)
    ax.set_title(title or f"{plane} view")
    return fig

