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

from .geometry import OPPOSITE, direction_letter

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
    add_letters(ax, EDGE_LETTERS[plane], color)


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


# --- Reading the HU scale -------------------------------------------------------------

# Bands for the HU-scale figure. Air (-1000 HU) and water (0 HU) define the scale; the fat
# band is the usual fat segmentation window; the others are broad, approximate ranges
# (real tissues overlap, and partial volume blurs every boundary).
TISSUE_BANDS: tuple[tuple[str, float, float, str], ...] = (
    ("air and lung", -1100.0, -500.0, "#4c72b0"),
    ("fat", -190.0, -30.0, "#dd8452"),
    ("water and soft tissue", -30.0, 100.0, "#55a868"),
    ("bone, or vessels with iodine contrast", 100.0, 3100.0, "#c44ec4"),
)


def tissue_class_map(hu: np.ndarray, bands=TISSUE_BANDS) -> np.ndarray:
    """Class number per pixel: ``n`` (1-based) for the band that holds it, 0 for none."""
    hu = np.asarray(hu)
    classes = np.zeros(hu.shape, dtype=np.uint8)
    for n, (_, low, high, _) in enumerate(bands, start=1):
        classes[(hu >= low) & (hu < high)] = n
    return classes


def edge_letters_from_directions(row_dir, col_dir) -> tuple[str, str, str, str]:
    """``(left, right, top, bottom)`` letters for a slice shown with ``imshow``.

    ``row_dir`` is the patient direction (LPS) in which the column index grows (along a
    row, to the right on screen); ``col_dir`` the one in which the row index grows (down
    the screen): e.g. the two halves of DICOM's ImageOrientationPatient.
    """
    right, bottom = direction_letter(row_dir), direction_letter(col_dir)
    return OPPOSITE[right], right, OPPOSITE[bottom], bottom


def raw_edge_letters(image: sitk.Image) -> tuple[str, str, str, str]:
    """Letters at the edges of ``plt.imshow(GetArrayFromImage(image)[k])``, no reorienting."""
    matrix = np.array(image.GetDirection()).reshape(3, 3)
    return edge_letters_from_directions(matrix[:, 0], matrix[:, 1])


def add_letters(ax, letters, color: str = "yellow") -> None:
    """Write ``(left, right, top, bottom)`` direction letters at a panel's edges."""
    left, right, top, bottom = letters
    style = dict(color=color, fontsize=11, fontweight="bold", transform=ax.transAxes)
    ax.text(0.02, 0.5, left, ha="left", va="center", **style)
    ax.text(0.98, 0.5, right, ha="right", va="center", **style)
    ax.text(0.5, 0.98, top, ha="center", va="top", **style)
    ax.text(0.5, 0.02, bottom, ha="center", va="bottom", **style)


def hu_colorbar(fig, mappable, ax, window, label: str = "HU"):
    """A colour bar for a windowed (0..1) image, ticked in HU at low, level and high."""
    low, high = window_bounds(window)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.8, ticks=[0, 0.5, 1])
    bar.ax.set_yticklabels([f"{low:.0f}", f"{(low + high) / 2:.0f}", f"{high:.0f}"])
    bar.set_label(label)
    return bar


def show_hu_scale(hu2d: np.ndarray, aspect: float = 1.0, letters=EDGE_LETTERS["axial"],
                  window=(2000.0, 0.0), bands=TISSUE_BANDS, title=None, figsize=(15, 4.6)):
    """Slice, tissue classes by HU band, and HU histogram with the bands shaded."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch

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
        ax_hist.axvline(value, color="red", lw=1, ls="--")
        ax_hist.text(value, 1.01, f"{name} = {value}", color="red", ha="center",
                     transform=ax_hist.get_xaxis_transform())
    ax_hist.set_xlim(-1100, 2000)
    ax_hist.set_xlabel("Hounsfield units (HU)")
    ax_hist.set_ylabel("number of pixels (log scale)")
    ax_hist.set_title("HU histogram with the bands shaded", pad=20)
    if title:
        fig.suptitle(title)
    return fig


# --- Windowing side by side -----------------------------------------------------------

def panel_grid(n: int, ncols: int, panel_size: float, width_ratio: float = 1.25):
    """A figure with ``n`` panels in rows of ``ncols``; spare axes are switched off."""
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * width_ratio * ncols,
                                                    panel_size * nrows),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def compare_windows(hu2d: np.ndarray, windows=tuple(WINDOW_PRESETS), aspect: float = 1.0,
                    letters=EDGE_LETTERS["axial"], outline=None, outline_name: str = "",
                    title=None, ncols: int = 3, panel_size: float = 3.6):
    """The same slice under several windows, each with its own colour bar in HU.

    ``windows`` holds preset names or ``(width, level)`` pairs. ``outline`` is an optional
    boolean mask drawn as a contour on every panel (named ``outline_name`` in a legend).
    """
    from matplotlib.lines import Line2D

    windows = list(windows)
    fig, axes = panel_grid(len(windows), ncols, panel_size, width_ratio=1.25)
    for ax, window in zip(axes.flat, windows, strict=False):
        width, level = resolve_window(window)
        shown = ax.imshow(apply_window(hu2d, window), cmap="gray", vmin=0, vmax=1,
                          aspect=aspect, interpolation="nearest")
        if outline is not None and np.any(outline):
            ax.contour(outline, levels=[0.5], colors=["#00ff00"], linewidths=1.2)
        name = window if isinstance(window, str) else "custom"
        ax.set_title(f"{name}: W {width:.0f} / L {level:.0f} HU")
        add_letters(ax, letters)
        ax.set_xticks([])
        ax.set_yticks([])
        hu_colorbar(fig, shown, ax, window, "HU")
    if outline is not None and outline_name:
        fig.legend(handles=[Line2D([], [], color="#00ff00", lw=1.5, label=outline_name)],
                   loc="outside lower center", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


# --- From a displayed pixel back to the voxel -----------------------------------------

def display_to_index(shape_zyx, plane: str, slice_index: int, row: int, col: int):
    """The LPS voxel index ``(i, j, k)`` shown at ``(row, col)`` of an oriented slice.

    The exact inverse of :func:`orient_slice` for an LPS volume of ``shape_zyx``.
    """
    nz = shape_zyx[0]
    if plane == "axial":
        return col, row, slice_index
    if plane == "coronal":
        return col, slice_index, nz - 1 - row
    if plane == "sagittal":
        return slice_index, col, nz - 1 - row
    raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")


def index_to_display(shape_zyx, plane: str, ijk) -> tuple[int, int, int]:
    """``(slice_index, row, col)`` at which an LPS voxel ``(i, j, k)`` appears in a plane."""
    i, j, k = (int(v) for v in ijk)
    nz = shape_zyx[0]
    if plane == "axial":
        return k, j, i
    if plane == "coronal":
        return j, nz - 1 - k, i
    if plane == "sagittal":
        return i, nz - 1 - k, j
    raise ValueError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")


def show_raw_vs_radiological(image: sitk.Image, index: int | None = None,
                             window="soft_tissue", figsize=(10, 4.8)):
    """An axial slice plotted straight from the array next to the same slice reoriented.

    The letters on the left panel are computed from the image's direction, so they show
    where the patient really is when the header is ignored.
    """
    import matplotlib.pyplot as plt

    array = sitk.GetArrayViewFromImage(image)
    index = array.shape[0] // 2 if index is None else index
    spacing = image.GetSpacing()
    fig, (raw_ax, lps_ax) = plt.subplots(1, 2, figsize=figsize, layout="constrained")
    raw_ax.imshow(apply_window(array[index], window), cmap="gray", vmin=0, vmax=1,
                  aspect=spacing[1] / spacing[0], interpolation="nearest")
    add_letters(raw_ax, raw_edge_letters(image), color="red")
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
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

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
