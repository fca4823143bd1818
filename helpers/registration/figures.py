"""Figures for registration (notebook 03): checkerboards, blends and transferred masks.

Pure array functions (:func:`checkerboard`, :func:`blend`) and thin figure layers over
:mod:`helpers.display`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D

from .. import display
from ..metrics import dice
from .warp import warp_image


def checkerboard(a: np.ndarray, b: np.ndarray, tile: int = 6) -> np.ndarray:
    """Square tiles of ``tile`` pixels alternating between two same-shape 2-D slices: edges
    that jump at tile borders show misalignment."""
    if a.shape != b.shape:
        raise ValueError(f"slices differ in shape: {a.shape} versus {b.shape}")
    rows = (np.arange(a.shape[0]) // tile)[:, None]
    cols = (np.arange(a.shape[1]) // tile)[None, :]
    return np.where((rows + cols) % 2 == 0, a, b)


# The blend's two colours: Okabe-Ito orange and its complement (a blue), which add up to
# white, so that equal intensities give grey and any offset a coloured fringe.
BLEND_A = np.array(to_rgb(display.OKABE_ITO["orange"]))
BLEND_B = 1.0 - BLEND_A


def blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RGB overlay of two windowed slices in [0, 1]: ``a`` orange, ``b`` blue (colours safe
    for colour-blind readers). Where they agree the result is grey; a coloured fringe shows
    an offset."""
    rgb = np.asarray(a)[..., None] * BLEND_A + np.asarray(b)[..., None] * BLEND_B
    return rgb.clip(0, 1)


def crop_around(image: sitk.Image, point_mm, half_mm: float) -> sitk.Image:
    """The part of ``image`` within ``half_mm`` of a physical point along each axis."""
    centre = np.array(image.TransformPhysicalPointToContinuousIndex(
        tuple(float(v) for v in point_mm)))
    half = half_mm / np.array(image.GetSpacing())
    lo = np.clip(np.floor(centre - half), 0, np.array(image.GetSize()) - 1).astype(int)
    hi = np.clip(np.ceil(centre + half), 0, np.array(image.GetSize()) - 1).astype(int)
    return sitk.RegionOfInterest(image, [int(v) for v in hi - lo + 1], [int(v) for v in lo])


def alignment_slice(fixed, moving, transform, plane="coronal", index=None, window="soft_tissue",
                    mode="checkerboard", tile=6):
    """One display-ready 2-D view comparing ``fixed`` with ``moving`` resampled through
    ``transform`` (None: as scanned). Returns ``(array, aspect)``; RGB for ``mode="blend"``."""
    if mode not in ("checkerboard", "blend"):
        raise ValueError(f"mode must be 'checkerboard' or 'blend', got {mode!r}")
    moved = warp_image(moving, transform or sitk.Transform(3, sitk.sitkIdentity), fixed)
    f2d, aspect = display.extract_slice(fixed, plane, index)
    m2d, _ = display.extract_slice(moved, plane, index)
    f2d, m2d = display.apply_window(f2d, window), display.apply_window(m2d, window)
    return (checkerboard(f2d, m2d, tile) if mode == "checkerboard" else blend(f2d, m2d)), aspect


def show_alignment(fixed, moving, transforms: dict, plane="coronal", point_mm=None,
                   window="soft_tissue", mode="checkerboard", half_mm=75.0, title=None):
    """Panels, one per named transform (None = before registration), showing how well the
    moved scan lines up with the fixed one within ``half_mm`` of ``point_mm`` (default: the
    image centre). Returns the figure."""
    if point_mm is None:
        point_mm = fixed.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2 for n in fixed.GetSize()])
    near = crop_around(fixed, point_mm, half_mm)
    index = display.point_to_slice_indices(near, point_mm)[plane]
    cols = min(len(transforms), 4)
    rows = -(-len(transforms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows + 0.6),
                             layout="constrained", squeeze=False)
    for ax in axes.ravel()[len(transforms):]:
        ax.axis("off")
    for ax, (name, transform) in zip(axes.ravel(), transforms.items(), strict=False):
        view, aspect = alignment_slice(near, moving, transform, plane, index, window, mode)
        ax.imshow(view, cmap="gray", vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
        display.add_edge_letters(ax, plane)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    low, high = display.window_bounds(window)
    how = ("plain and contrast tiles alternate" if mode == "checkerboard" else
           "plain orange, contrast blue, grey where they agree")
    fig.suptitle(title or f"{plane}, {2 * half_mm:.0f} mm around the point, window "
                 f"{low:.0f}..{high:.0f} HU\n{how}")
    return fig


def show_transfer(plain, truth, transferred: dict, plane="axial", window="soft_tissue",
                  title=None):
    """Panels through the true mask's centre: the plain scan with the true mask (sky blue,
    dashed) and each named transferred mask (orange, solid). Panel titles give the Dice.
    Returns the figure."""
    centre = display.label_centroid_mm(sitk.Cast(truth != 0, sitk.sitkUInt8), 1)
    index = display.point_to_slice_indices(plain, centre)[plane]
    hu, aspect = display.extract_slice(plain, plane, index)
    true2d, _ = display.extract_slice(truth, plane, index)
    fig, axes = plt.subplots(1, len(transferred), figsize=(3.6 * len(transferred), 3.9),
                             layout="constrained", squeeze=False)
    for ax, (name, mask) in zip(axes[0], transferred.items(), strict=True):
        moved2d, _ = display.extract_slice(mask, plane, index)
        ax.imshow(display.apply_window(hu, window), cmap="gray", vmin=0, vmax=1, aspect=aspect)
        for layer, colour, style in ((true2d, display.REFERENCE_COLOUR, display.REFERENCE_STYLE),
                                     (moved2d, display.RESULT_COLOUR, display.RESULT_STYLE)):
            if (layer != 0).any():
                ax.contour(layer != 0, levels=[0.5], colors=[colour], linewidths=1.8,
                           linestyles=style)
        ax.set_title(f"{name}\nDice {dice(mask, truth):.2f}")
        display.add_edge_letters(ax, plane)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Line2D([], [], color=display.REFERENCE_COLOUR, lw=2, ls=display.REFERENCE_STYLE,
                      label="true lesion (plain scan)"),
               Line2D([], [], color=display.RESULT_COLOUR, lw=2, ls=display.RESULT_STYLE,
                      label="mask carried from contrast scan")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    low, high = display.window_bounds(window)
    fig.suptitle(title or f"{plane} slice through the lesion; window {low:.0f}..{high:.0f} HU")
    return fig
