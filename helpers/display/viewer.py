"""Look through a CT volume: an interactive slice viewer and a static montage.

``SliceViewer(image, labels=None, label_names=None)`` shows any SimpleITK image with an
optional label overlay: plane, slice, window preset or width/level, overlay opacity, and
the HU under a chosen point (a crosshair). It is a thin layer of ipywidgets over pure
functions (:func:`prepare_volume`, :func:`draw_view`, :func:`readout` and those in
:mod:`helpers.display`), so every callback can be called, and tested, without a browser.

``montage(...)`` draws a grid of slices: the static figure that tells the same story
when no kernel is running.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..checks import check_same_grid
from .colours import LETTER_COLOUR, composite_overlay, label_colors
from .figures import add_edge_letters, hu_colorbar
from .slices import (
    PLANES,
    WINDOW_PRESETS,
    apply_window,
    display_to_index,
    index_to_display,
    orient_slice,
    pixel_aspect,
    plane_axis,
    resolve_window,
    to_lps,
)


@dataclass(frozen=True)
class PreparedVolume:
    """An image (and optional labels) reoriented to LPS once, ready for fast slicing."""

    image: sitk.Image  # LPS-oriented CT
    hu: np.ndarray  # its voxels, [z, y, x]
    labels: np.ndarray | None  # label ids on the same grid, [z, y, x]
    colors: dict[int, tuple[float, float, float]]
    names: dict[int, str]
    original: sitk.Image  # as given, to report indices in the file's own order


def prepare_volume(image: sitk.Image, labels: sitk.Image | None = None, label_names=None,
                   label_ids=None) -> PreparedVolume:
    """Reorient an image and its label map to LPS and choose a colour per shown label.

    ``label_ids`` limits the overlay to these ids (default: every id present). Raises
    ``ValueError`` if the label map is not on the image's grid.
    """
    if image.GetDimension() != 3:
        raise ValueError(f"the viewer needs a 3D image, got {image.GetDimension()}D")
    lps = to_lps(image)
    label_array, colors = None, {}
    if labels is not None:
        check_same_grid(labels, image, "label map", "image")
        label_array = sitk.GetArrayFromImage(to_lps(labels))
        present = set(np.unique(label_array).tolist()) - {0}
        shown = present if label_ids is None else present & {int(i) for i in label_ids}
        colors = label_colors(shown)
    names = {int(k): str(v) for k, v in (label_names or {}).items()}
    return PreparedVolume(lps, sitk.GetArrayViewFromImage(lps), label_array, colors, names,
                          image)


def plane_size(volume: PreparedVolume, plane: str) -> tuple[int, int, int]:
    """``(number of slices, rows, columns)`` of a plane."""
    nz, ny, nx = volume.hu.shape
    return {"axial": (nz, ny, nx), "coronal": (ny, nz, nx), "sagittal": (nx, nz, ny)}[plane]


def slice_position_mm(volume: PreparedVolume, plane: str, index: int) -> float:
    """The physical coordinate (mm, LPS) of a slice along its plane's axis."""
    axis = {"axial": 2, "coronal": 1, "sagittal": 0}[plane]
    ijk = [0, 0, 0]
    ijk[axis] = int(index)
    return volume.image.TransformIndexToPhysicalPoint(ijk)[axis]


def draw_view(ax, volume: PreparedVolume, plane: str, index: int, window="soft_tissue",
              opacity: float = 0.4, cursor=None):
    """Draw one oriented, windowed slice (with overlay and optional crosshair) into ``ax``.

    ``cursor`` is ``(row, col)`` in the displayed slice. Returns the image artist, for a
    colour bar.
    """
    hu = orient_slice(volume.hu, plane, index)
    gray = apply_window(hu, window)
    if volume.labels is not None and volume.colors:
        labels2d = orient_slice(volume.labels, plane, index)
        gray = composite_overlay(gray, labels2d, volume.colors, opacity)
    aspect = pixel_aspect(volume.image.GetSpacing(), plane)
    artist = ax.imshow(gray, cmap="gray", vmin=0, vmax=1, aspect=aspect,
                       interpolation="nearest")
    if cursor is not None:
        ax.axhline(cursor[0], color=LETTER_COLOUR, lw=0.8, alpha=0.8)
        ax.axvline(cursor[1], color=LETTER_COLOUR, lw=0.8, alpha=0.8)
    add_edge_letters(ax, plane)
    ax.set_xticks([])
    ax.set_yticks([])
    coordinate = "zyx"[["axial", "coronal", "sagittal"].index(plane)]
    ax.set_title(f"{plane} {index} ({coordinate} = {slice_position_mm(volume, plane, index):.1f}"
                 " mm)", fontsize=10)
    return artist


def add_label_legend(fig, volume: PreparedVolume, ncol: int = 3) -> None:
    """One legend entry per overlaid label, below the figure (the same on every slice)."""
    if volume.colors:
        fig.legend(handles=[Patch(color=c, label=volume.names.get(i, f"label {i}"))
                            for i, c in volume.colors.items()], loc="outside lower center",
                   ncol=min(len(volume.colors), ncol), fontsize=8, frameon=False)


def readout(volume: PreparedVolume, plane: str, index: int, row: int, col: int) -> dict:
    """What lies under a displayed pixel: voxel indices, physical point, HU, label name."""
    ijk = display_to_index(volume.hu.shape, plane, index, row, col)
    point = volume.image.TransformIndexToPhysicalPoint([int(v) for v in ijk])
    original_index = volume.original.TransformPhysicalPointToIndex(point)
    label = None if volume.labels is None else int(volume.labels[ijk[2], ijk[1], ijk[0]])
    return {"lps_index": tuple(int(v) for v in ijk), "index": tuple(original_index),
            "point_mm": tuple(point), "hu": float(volume.hu[ijk[2], ijk[1], ijk[0]]),
            "label": label, "label_name": volume.names.get(label, "") if label else ""}


def render_png(volume: PreparedVolume, plane: str, index: int, window, opacity: float,
               cursor=None, figsize=(6.4, 5.2), dpi: int = 80) -> bytes:
    """The viewer's picture as PNG bytes (a matplotlib Figure without pyplot state)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    artist = draw_view(ax, volume, plane, index, window, opacity, cursor)
    width, level = resolve_window(window)
    bar = hu_colorbar(fig, artist, ax, window, f"HU (W {width:.0f} / L {level:.0f})")
    bar.ax.set_box_aspect(12)
    add_label_legend(fig, volume)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def slices_through_label(labels: sitk.Image, label: int, plane: str = "axial",
                         n: int = 6) -> list[int]:
    """``n`` evenly spaced slice indices (in the LPS image) that contain ``label``."""
    # a copy: a view would outlive the temporary LPS image and read freed memory
    array = sitk.GetArrayFromImage(to_lps(labels)) == label
    axis = plane_axis(plane)
    other = tuple(a for a in range(3) if a != axis)
    hits = np.flatnonzero(array.any(axis=other))
    if hits.size == 0:
        raise ValueError(f"label {label} does not occur in this label map")
    return sorted({int(v) for v in np.round(np.linspace(hits[0], hits[-1], n))})


def montage(image: sitk.Image, labels=None, label_names=None, label_ids=None,
            plane: str = "axial", indices=None, n: int = 6, window="soft_tissue",
            opacity: float = 0.4, ncols: int = 3, panel_size: float = 3.4, title=None):
    """A grid of slices (default: ``n`` evenly spaced) with overlay, letters and HU bar."""
    volume = prepare_volume(image, labels, label_names, label_ids)
    count = plane_size(volume, plane)[0]
    if indices is None:
        indices = np.round(np.linspace(0, count - 1, n + 2)[1:-1]).astype(int).tolist()
    bad = [i for i in indices if not 0 <= i < count]
    if bad:
        raise IndexError(f"{plane} slices {bad} are outside 0..{count - 1}")
    nrows = -(-len(indices) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(indices):]:
        ax.axis("off")
    for ax, index in zip(axes.flat, indices, strict=False):
        artist = draw_view(ax, volume, plane, int(index), window, opacity)
    width, level = resolve_window(window)
    hu_colorbar(fig, artist, axes, window, f"HU (W {width:.0f} / L {level:.0f})")
    add_label_legend(fig, volume, ncol=8)
    if title:
        fig.suptitle(title)
    return fig


class WindowSync:
    """Keeps a widget's window preset (``self.preset``, a dropdown with "custom") and its
    ``self.width``/``self.level`` sliders in step: a preset sets the sliders; moving a slider
    away from the preset's values shows "custom". The widget provides ``_syncing`` (False)
    and ``_changed()`` (redraw)."""

    def on_preset(self, _change=None) -> None:
        if self._syncing or self.preset.value == "custom":
            return
        width, level = resolve_window(self.preset.value)
        self._syncing = True
        try:
            self.width.value, self.level.value = int(width), int(level)
        finally:
            self._syncing = False
        self._changed()

    def on_window(self, _change=None) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            if WINDOW_PRESETS.get(self.preset.value) != (self.width.value,
                                                     self.level.value):
                self.preset.value = "custom"
        finally:
            self._syncing = False
        self._changed()


class SliceViewer(WindowSync):
    """An ipywidgets viewer; display it by leaving it as the last expression of a cell.

    The callbacks (``on_plane``, ``on_preset``, ``on_window``, ``on_slice``, ``on_point``,
    ``on_opacity``) only move numbers between widgets and call :meth:`redraw`, which uses
    the pure functions above. ``state()`` reports what is shown.
    """

    def __init__(self, image, labels=None, label_names=None, label_ids=None,
                 window="soft_tissue", plane: str = "axial"):
        import ipywidgets as w  # slow to import, and only needed with a live kernel

        self.volume = prepare_volume(image, labels, label_names, label_ids)
        nz, ny, nx = self.volume.hu.shape
        self.cursor = [nx // 2, ny // 2, nz // 2]  # LPS voxel (i, j, k) under the crosshair
        self._syncing = False
        width, level = resolve_window(window)
        preset = window if isinstance(window, str) else "custom"
        slider = dict(continuous_update=False, style={"description_width": "90px"},
                      layout=w.Layout(width="420px"))
        self.plane = w.ToggleButtons(options=list(PLANES), value=plane,
                                     description="plane")
        self.slice = w.IntSlider(description="slice", **slider)
        self.row = w.IntSlider(description="point row", **slider)
        self.col = w.IntSlider(description="point column", **slider)
        self.preset = w.Dropdown(options=[*WINDOW_PRESETS, "custom"], value=preset,
                                 description="window")
        self.width = w.IntSlider(value=int(width), min=1, max=4000, description="width (HU)",
                                 **slider)
        self.level = w.IntSlider(value=int(level), min=-1200, max=3000,
                                 description="level (HU)", **slider)
        self.opacity = w.FloatSlider(value=0.4, min=0, max=1, step=0.05,
                                     description="overlay", disabled=labels is None, **slider)
        self.picture = w.Image(format="png")
        self.info = w.HTML()
        self.log = w.Output()
        controls = w.VBox([self.plane, self.slice, self.row, self.col, self.preset, self.width,
                           self.level, self.opacity, self.info])
        self.widget = w.VBox([w.HBox([self.picture, controls]), self.log])
        self._sync_sliders()
        for control, callback in ((self.plane, self.on_plane), (self.preset, self.on_preset),
                                  (self.width, self.on_window), (self.level, self.on_window),
                                  (self.slice, self.on_slice), (self.row, self.on_point),
                                  (self.col, self.on_point), (self.opacity, self.on_opacity)):
            control.observe(callback, names="value")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _sync_sliders(self) -> None:
        """Set slider ranges and values for the current plane from the cursor."""
        self._syncing = True
        try:
            count, rows, cols = plane_size(self.volume, self.plane.value)
            index, row, col = index_to_display(self.volume.hu.shape, self.plane.value,
                                                       self.cursor)
            for control, top, value in ((self.slice, count, index), (self.row, rows, row),
                                        (self.col, cols, col)):
                control.max = top - 1
                control.value = value
        finally:
            self._syncing = False

    def _cursor_from_sliders(self) -> None:
        self.cursor = list(display_to_index(
            self.volume.hu.shape, self.plane.value, self.slice.value, self.row.value,
            self.col.value))

    def on_plane(self, _change=None) -> None:
        self._sync_sliders()
        self._changed()

    def on_slice(self, _change=None) -> None:
        self.on_point()

    def on_point(self, _change=None) -> None:
        if self._syncing:
            return
        self._cursor_from_sliders()
        self._changed()

    def on_opacity(self, _change=None) -> None:
        self._changed()

    def _changed(self) -> None:
        # Inside the Output widget, an error in a callback shows up under the viewer (and
        # in the saved notebook) instead of vanishing into the kernel log.
        with self.log:
            self.redraw()

    def state(self) -> dict:
        """The plane, slice, window, opacity and the readout under the crosshair."""
        info = readout(self.volume, self.plane.value, self.slice.value, self.row.value,
                       self.col.value)
        return {"plane": self.plane.value, "slice": self.slice.value,
                "window": (float(self.width.value), float(self.level.value)),
                "preset": self.preset.value, "opacity": self.opacity.value, **info}

    def redraw(self) -> None:
        """Render the picture and the readout from the current widget values."""
        state = self.state()
        self.picture.value = render_png(self.volume, state["plane"], state["slice"],
                                        state["window"], state["opacity"],
                                        cursor=(self.row.value, self.col.value))
        x, y, z = state["point_mm"]
        label = f"<br>label: <b>{state['label_name']}</b>" if state["label_name"] else ""
        self.info.value = (
            f"<b>{state['hu']:.0f} HU</b> at the crosshair{label}<br>"
            f"point (x, y, z) = ({x:.1f}, {y:.1f}, {z:.1f}) mm, LPS<br>"
            f"voxel index (i, j, k) in the image as loaded = {state['index']}")
