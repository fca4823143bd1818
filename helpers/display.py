"""Show CT the way radiologists read it: correct orientation, a window in HU, label overlays.

Conventions (radiological display):

* axial: anterior at the top, the patient's right on the image's left;
* coronal: superior at the top, the patient's right on the image's left;
* sagittal: superior at the top, anterior on the image's left.

Every function here is pure (arrays and images in, arrays or figures out) so it can be
tested; the interactive viewer in :mod:`helpers.viewer` is a thin layer over them.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

PLANES = ("axial", "coronal", "sagittal")

# (width, level) in HU. Soft tissue, liver, bone and lung are common clinical presets;
# "pancreas" is a narrower soft-tissue window used in this series (a convention, not a
# standard) to stretch the small HU differences inside the gland.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (400.0, 40.0),
    "pancreas": (250.0, 40.0),
    "liver": (150.0, 60.0),
    "bone": (1800.0, 400.0),
    "lung": (1500.0, -600.0),
}

# Letters at the (left, right, top, bottom) edges of each plane after orient_slice().
EDGE_LETTERS = {
    "axial": ("R", "L", "A", "P"),
    "coronal": ("R", "L", "S", "I"),
    "sagittal": ("A", "P", "S", "I"),
}


def resolve_window(window: str | tuple[float, float]) -> tuple[float, float]:
    """Turn a preset name or a ``(width, level)`` pair into ``(width, level)`` in HU."""
    if isinstance(window, str):
        if window not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {window!r}; choose one of "
                             f"{', '.join(WINDOW_PRESETS)} or pass (width, level) in HU")
        return WINDOW_PRESETS[window]
    width, level = (float(v) for v in window)
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width} HU")
    return width, level


def window_bounds(window: str | tuple[float, float]) -> tuple[float, float]:
    """The HU range ``(lowest, highest)`` a window maps onto black ... white."""
    width, level = resolve_window(window)
    return level - width / 2, level + width / 2


def apply_window(hu: np.ndarray, window: str | tuple[float, float] = "soft_tissue"):
    """Map HU to display grey levels in [0, 1]: below the window black, above it white."""
    low, high = window_bounds(window)
    return np.clip((np.asarray(hu, dtype=np.float32) - low) / (high - low), 0.0, 1.0)


def to_lps(image: sitk.Image) -> sitk.Image:
    """Reorient (flip/permute axes only, no interpolation) so the direction is LPS.

    After this, index axis x runs to the patient's Left, y to Posterior, z to Superior:
    the layout :func:`orient_slice` expects. Label maps stay exact.
    """
    return sitk.DICOMOrient(image, "LPS")


def orient_slice(volume_zyx: np.ndarray, plane: str, index: int) -> np.ndarray:
    """Cut one display-ready 2D slice from an LPS array laid out ``[z, y, x]``.

    Rows run top to bottom and columns left to right as they should appear on screen.
    """
    if plane == "axial":
        return volume_zyx[index, :, :]
    if plane == "coronal":
        return volume_zyx[::-1, index, :]
    if plane == "sagittal":
        return volume_zyx[::-1, :, index]
    raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")


def plane_axis(plane: str) -> int:
    """The ``[z, y, x]`` array axis that a plane's slice index runs along."""
    return {"axial": 0, "coronal": 1, "sagittal": 2}[plane]


def pixel_aspect(spacing_xyz, plane: str) -> float:
    """Height/width of one displayed pixel, for ``imshow(aspect=...)``."""
    sx, sy, sz = spacing_xyz
    return {"axial": sy / sx, "coronal": sz / sx, "sagittal": sz / sy}[plane]


def extract_slice(image: sitk.Image, plane: str, index: int | None = None):
    """A display-ready slice of any SimpleITK image, and its pixel aspect ratio.

    ``index`` counts along the plane's axis of the LPS-reoriented image (None: middle).
    Returns ``(array2d, aspect)``.
    """
    lps = to_lps(image)
    volume = sitk.GetArrayViewFromImage(lps)
    axis = plane_axis(plane)
    if index is None:
        index = volume.shape[axis] // 2
    if not 0 <= index < volume.shape[axis]:
        raise IndexError(f"{plane} slice {index} is outside 0..{volume.shape[axis] - 1}")
    return np.array(orient_slice(volume, plane, index)), pixel_aspect(lps.GetSpacing(), plane)


def point_to_slice_indices(image: sitk.Image, point_mm) -> dict[str, int]:
    """Slice index per plane (in the LPS-reoriented image) through a physical point in mm."""
    i, j, k = to_lps(image).TransformPhysicalPointToIndex(tuple(float(v) for v in point_mm))
    return {"axial": k, "coronal": j, "sagittal": i}


def label_centroid_mm(labels: sitk.Image, label: int):
    """Physical centre (mm, LPS) of one label, e.g. the pancreas (7)."""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.Cast(labels, sitk.sitkUInt8) if labels.GetPixelID() != sitk.sitkUInt8
                  else labels)
    if label not in stats.GetLabels():
        raise ValueError(f"label {label} is not present in this label map")
    return np.array(stats.GetCentroid(label))


# Bright colours that stay visible as thin outlines on a grey CT slice.
OUTLINE_COLORS = ("#00ff00", "#ff00ff", "#00ffff", "#ff8000", "#ffff00", "#ff0000")


def label_colors(ids, cmap: str = "tab10") -> dict[int, tuple[float, float, float]]:
    """A colour per label id, assigned in sorted id order from a matplotlib colour map."""
    import matplotlib

    palette = matplotlib.colormaps[cmap]
    return {int(i): tuple(palette(n % palette.N)[:3]) for n, i in enumerate(sorted(ids))}


def outline_colors(ids) -> dict[int, tuple[float, float, float]]:
    """High-contrast colours for label outlines, in the order the ids are given."""
    from matplotlib.colors import to_rgb

    return {int(i): to_rgb(OUTLINE_COLORS[n % len(OUTLINE_COLORS)]) for n, i in enumerate(ids)}


def composite_overlay(gray01: np.ndarray, labels2d: np.ndarray, colors: dict, opacity=0.4):
    """Blend coloured labels over a windowed grey slice; returns an RGB array in [0, 1].

    Pixels with label 0 (or a label with no colour) keep their grey value exactly.
    """
    if gray01.shape != labels2d.shape:
        raise ValueError(f"slice {gray01.shape} and labels {labels2d.shape} differ in shape")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be within 0..1, got {opacity}")
    rgb = np.repeat(np.asarray(gray01, dtype=np.float32)[..., None], 3, axis=2)
    for label, color in colors.items():
        where = labels2d == label
        rgb[where] = (1 - opacity) * rgb[where] + opacity * np.asarray(color, np.float32)
    return rgb


def add_edge_letters(ax, plane: str, color: str = "yellow") -> None:
    """Write the anatomical direction at each edge of a panel (R/L, A/P, S/I)."""
    left, right, top, bottom = EDGE_LETTERS[plane]
    style = dict(color=color, fontsize=11, fontweight="bold", transform=ax.transAxes)
    ax.text(0.02, 0.5, left, ha="left", va="center", **style)
    ax.text(0.98, 0.5, right, ha="right", va="center", **style)
    ax.text(0.5, 0.98, top, ha="center", va="top", **style)
    ax.text(0.5, 0.02, bottom, ha="center", va="bottom", **style)


def show_planes(image, labels=None, label_names=None, point_mm=None, window="soft_tissue",
                outline=(), fill=(), title=None, figsize=(13, 4.6)):
    """Three orthogonal planes through ``point_mm``, windowed, with optional label overlay.

    ``outline`` label ids are drawn as contours, ``fill`` ids as translucent colour; both
    appear in the legend under their names from ``label_names``. Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lps = to_lps(image)
    if point_mm is None:
        point_mm = lps.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2 for n in lps.GetSize()])
    where = point_to_slice_indices(lps, point_mm)
    names = label_names or {}
    colors = {**label_colors(fill), **outline_colors(outline)}
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
                    ax.contour(lab == i, levels=[0.5], colors=[colors[i]], linewidths=2.0)
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

    handles = [Line2D([], [], color=colors[i], lw=2, label=pretty(i)) for i in outline]
    handles += [Patch(color=colors[i], alpha=0.6, label=pretty(i)) for i in fill]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6),
                   fontsize=11, frameon=False)
    if title:
        fig.suptitle(title)
    return fig
