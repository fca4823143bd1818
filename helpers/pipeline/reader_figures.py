"""Figures of the reader study (notebook 07): what the reader sees, the ROC of a reader against
the model's, the reveal of one patient, and a whole class's curves.

What the reader sees (:func:`prepare_reading`, :func:`draw_reading`): three axial slices of the
plain scan through the gland (its upper, middle and lower thirds), cropped around the gland
with a margin, anterior up and the patient's right on the image's left; ``shift`` moves all
three together so that every slice of the gland can be seen. No contrast scan and no outline.
Not for clinical use.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import display
from .evaluation import roc
from .reader_compare import Comparison, disagreements
from .reader_model import ModelReading
from .reader_study import HIT_DISTANCE_MM

PANELS = ("upper", "middle", "lower")
READER_COLOUR = display.OKABE_ITO["vermillion"]
MODEL_COLOUR = display.OKABE_ITO["blue"]
MARK_COLOUR = display.OKABE_ITO["yellow"]
TRUTH_COLOUR = display.OKABE_ITO["bluish green"]


@dataclass(frozen=True)
class ReadingView:
    """One patient's plain scan ready to read: LPS voxels cropped around the gland."""

    image: sitk.Image  # the plain scan in LPS, for index -> mm
    hu: np.ndarray  # [z, y, x] inside the crop
    offset: tuple[int, int]  # (y, x) of the crop's first row and column in ``image``
    base: tuple[int, int, int]  # the three slices at shift 0 (indices into ``image``)
    max_shift: int  # shift runs from -max_shift to +max_shift


def gland_box(mask_lps: np.ndarray, spacing_xyz, margin_mm: float):
    """``(z0, z1, y0, y1, x0, x1)``: the mask's bounding box (z exact, y and x with
    ``margin_mm`` around it, clipped to the volume); end indices exclusive."""
    where = np.argwhere(mask_lps > 0)
    if len(where) == 0:
        raise ValueError("the pancreas mask is empty: nothing to read")
    low, high = where.min(axis=0), where.max(axis=0) + 1
    pad = [0, int(np.ceil(margin_mm / spacing_xyz[1])), int(np.ceil(margin_mm / spacing_xyz[0]))]
    low = np.maximum(low - pad, 0)
    high = np.minimum(high + pad, mask_lps.shape)
    return int(low[0]), int(high[0]), int(low[1]), int(high[1]), int(low[2]), int(high[2])


def prepare_reading(case, margin_mm: float = 25.0) -> ReadingView:
    """The :class:`ReadingView` of a case's plain scan (its pancreas mask only places the
    crop and the three slices; it is never drawn)."""
    image = display.to_lps(case.plain)
    mask = sitk.GetArrayFromImage(display.to_lps(case.pancreas_plain))
    z0, z1, y0, y1, x0, x1 = gland_box(mask, image.GetSpacing(), margin_mm)
    step = (z1 - z0) / 3
    base = tuple(int(z0 + step * (i + 0.5)) for i in range(3))
    hu = sitk.GetArrayFromImage(image)[:, y0:y1, x0:x1]
    return ReadingView(image, hu, (y0, x0), base, max(1, int(np.ceil(step / 2))))


def reading_slices(view: ReadingView, shift: int = 0) -> list[int]:
    """The three slice indices shown at ``shift``, kept inside the scan."""
    top = view.hu.shape[0] - 1
    return [int(np.clip(k + shift, 0, top)) for k in view.base]


def point_of(view: ReadingView, panel: int, row: int, col: int, shift: int = 0):
    """The physical point (mm, LPS) under row ``row``, column ``col`` of panel ``panel``."""
    k = reading_slices(view, shift)[panel]
    index = (int(col) + view.offset[1], int(row) + view.offset[0], k)
    return tuple(float(v) for v in view.image.TransformIndexToPhysicalPoint(index))


def where_on_screen(view: ReadingView, point_mm, shift: int = 0):
    """``(panel, row, col)`` where a physical point lies, or None when not on a shown slice."""
    i, j, k = view.image.TransformPhysicalPointToIndex([float(v) for v in point_mm])
    slices = reading_slices(view, shift)
    if k not in slices:
        return None
    return slices.index(k), j - view.offset[0], i - view.offset[1]


def draw_reading(axes, view: ReadingView, shift: int = 0, window="pancreas", cross=None,
                 mark=None):
    """Draw the three panels into ``axes``; ``cross``: ``(panel, row, col)`` of the marker;
    ``mark``: a saved mark (mm), drawn as a circle where it is on a shown slice. Returns the
    last image artist, for a colour bar."""
    spot = where_on_screen(view, mark, shift) if mark is not None else None
    for panel, (ax, k) in enumerate(zip(axes, reading_slices(view, shift), strict=True)):
        artist = ax.imshow(display.apply_window(view.hu[k], window), cmap="gray", vmin=0,
                           vmax=1, interpolation="nearest")
        if cross is not None and cross[0] == panel:
            ax.axhline(cross[1], color=MARK_COLOUR, lw=0.8, alpha=0.8)
            ax.axvline(cross[2], color=MARK_COLOUR, lw=0.8, alpha=0.8)
        if spot is not None and spot[0] == panel:
            ax.plot(spot[2], spot[1], "o", mfc="none", mec=MARK_COLOUR, ms=14, mew=2)
        display.add_edge_letters(ax, "axial")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{PANELS[panel]} gland, axial slice {k}", fontsize=9)
    return artist


def reading_figure(view: ReadingView, shift: int = 0, window="pancreas", cross=None,
                   mark=None, title: str | None = None, figure=None):
    """The three panels with an HU colour bar, in a new pyplot figure or in ``figure``."""
    fig = figure or plt.figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    artist = draw_reading(axes, view, shift, window, cross, mark)
    width, level = display.resolve_window(window)
    display.hu_colorbar(fig, artist, axes, window, f"HU (W {width:.0f} / L {level:.0f})")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def render_reading_png(view: ReadingView, shift: int = 0, window="pancreas", cross=None,
                       mark=None, title: str | None = None, dpi: int = 80) -> bytes:
    """:func:`reading_figure` as PNG bytes (a Figure without pyplot's state, for a widget)."""
    fig = Figure(figsize=(10, 3.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    reading_figure(view, shift, window, cross, mark, title, figure=fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _step_roc(ax, truth, scores, colour, name, ls="-"):
    # Straight lines between the curve's points: a tie (two patients with one rating) is a
    # diagonal step, which is what the AUC counts as half.
    found = roc(truth, scores)
    ax.plot(found["fpr"], found["tpr"], color=colour, ls=ls, lw=2,
            label=f"{name}: AUC {found['auc']:.2f}")
    return found


def _operating_point(ax, truth, calls, colour, marker, label):
    truth, calls = np.asarray(truth, bool), np.asarray(calls, bool)
    fpr, tpr = (calls & ~truth).sum() / (~truth).sum(), (calls & truth).sum() / truth.sum()
    ax.plot(fpr, tpr, marker, color=colour, ms=10, mec="black", label=label)


def plot_comparison(comparison: Comparison | None, reader_name: str = "you", ax=None,
                    title: str | None = None):
    """The reader's ROC curve (one step per rating) over the model's on the same patients,
    with the reader's point at their threshold and the model's operating point. None (and
    "Not answered yet") without a complete reading."""
    if comparison is None:
        print("Not answered yet: no figure without your ratings (see above).")
        return None
    c = comparison
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 5.2), layout="constrained")
    _step_roc(ax, c.truth, c.rating_values, READER_COLOUR, reader_name)
    _step_roc(ax, c.truth, c.model.scores, MODEL_COLOUR, "the model", ls="--")
    _operating_point(ax, c.truth, c.reader_calls, READER_COLOUR, "o",
                     f"{reader_name}: rating {c.threshold} or more")
    _operating_point(ax, c.truth, c.model.calls, MODEL_COLOUR, "s",
                     "the model at its operating point")
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls=":")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity (healthy patients called a lesion)")
    ax.set_ylabel("sensitivity (lesion patients called a lesion)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or f"{len(c.cases)} virtual patients, plain CT", fontsize=10)
    return ax


def plot_class(cases, readers: dict, model: ModelReading, ax=None):
    """Every reader's ROC curve (thin) with the model's (thick, dashed) on the same
    patients: the class figure of notebooks/INSTRUCTORS.md."""
    truth = np.array([bool(c.subtype) for c in cases])
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5.6), layout="constrained")
    aucs = []
    for ratings in readers.values():
        values = [ratings[p].rating for p in range(1, len(cases) + 1)]
        found = roc(truth, values)
        aucs.append(found["auc"])
        ax.plot(found["fpr"], found["tpr"], color=READER_COLOUR, lw=1, alpha=0.5)
    _step_roc(ax, truth, model.scores, MODEL_COLOUR, "the model", ls="--")
    handles = [Line2D([], [], color=READER_COLOUR, lw=1, alpha=0.5,
                      label=f"{len(readers)} readers" + (f": median AUC {np.median(aucs):.2f}"
                                                         if aucs else "")),
               *ax.get_legend_handles_labels()[0]]
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls=":")
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity (healthy patients called a lesion)")
    ax.set_ylabel("sensitivity (lesion patients called a lesion)")
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.set_title(f"The class against the model: {len(cases)} virtual patients", fontsize=10)
    return ax


def _slice_through(image, mask):
    """(LPS image, LPS mask array, axial index through the mask's centre)."""
    lps, array = display.to_lps(image), sitk.GetArrayFromImage(display.to_lps(mask))
    return lps, array, int(np.round(np.argwhere(array > 0)[:, 0].mean()))


def reveal_panel(ax, image, region, lesion, window, title):
    """One axial slice through the lesion (or, healthy, the gland's middle), cropped around
    the gland, with the true lesion outlined (dashed)."""
    has_lesion = sitk.GetArrayViewFromImage(lesion).any()
    lps, outline, k = _slice_through(image, lesion if has_lesion else region)
    gland = sitk.GetArrayFromImage(display.to_lps(region))
    _, _, y0, y1, x0, x1 = gland_box(gland, lps.GetSpacing(), 25.0)
    hu = sitk.GetArrayViewFromImage(lps)[k, y0:y1, x0:x1]
    artist = ax.imshow(display.apply_window(hu, window), cmap="gray", vmin=0, vmax=1,
                       interpolation="nearest")
    if has_lesion and outline[k, y0:y1, x0:x1].any():
        ax.contour(outline[k, y0:y1, x0:x1], levels=[0.5], colors=[TRUTH_COLOUR],
                   linestyles="--", linewidths=1.5)
    display.add_edge_letters(ax, "axial")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title}, axial slice {k}", fontsize=9)
    return artist, (lps, k, y0, x0)


def show_reveal(case, patient: int, reading=None, model: ModelReading | None = None,
                window="pancreas", reader_name: str = "your"):
    """Reveal one patient: the plain scan as read and the contrast scan (pancreatic phase), each
    through the true lesion with its outline dashed, the reader's mark (a circle, when on
    this slice) and, in the title, the truth, the rating and the model's score."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), layout="constrained")
    artist, (lps, k, y0, x0) = reveal_panel(axes[0], case.plain, case.pancreas_plain,
                                            case.lesion_plain, window, "plain CT (as read)")
    reveal_panel(axes[1], case.contrast, case.pancreas_contrast, case.lesion_contrast, window,
                 "contrast CT, pancreatic phase")
    if reading is not None and reading.point_mm is not None:
        i, j, z = lps.TransformPhysicalPointToIndex(list(reading.point_mm))
        if z == k:
            axes[0].plot(i - x0, j - y0, "o", mfc="none", mec=MARK_COLOUR, ms=14, mew=2)
    width, level = display.resolve_window(window)
    display.hu_colorbar(fig, artist, axes, window, f"HU (W {width:.0f} / L {level:.0f})")
    truth = (f"{case.subtype}, {case.lesion_diameter_mm:.0f} mm" if case.subtype
             else "healthy")
    rated = "not rated" if reading is None else f"{reader_name} rating {reading.rating}"
    scored = "" if model is None else f"; model score {model.scores[patient - 1]:.2f}"
    fig.suptitle(f"patient {patient}: truth {truth}, gland fat {case.gland_fat:.2f}; {rated}"
                 f"{scored}", fontsize=10)
    handles = [Line2D([], [], color=TRUTH_COLOUR, ls="--", label="true lesion")]
    if reading is not None and reading.point_mm is not None:
        handles.append(Line2D([], [], marker="o", mfc="none", mec=MARK_COLOUR, ls="",
                              label=f"{reader_name} mark (a hit within {HIT_DISTANCE_MM:.0f} "
                                    "mm; drawn when on this slice)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=8)
    return fig


def show_first_disagreement(comparison: Comparison | None, reader_name: str = "your"):
    """:func:`show_reveal` of the first patient where the reader and the model disagree (the
    first patient when they never do): the reveal as a static figure."""
    if comparison is None:
        print("Not answered yet: nothing to reveal before every patient is rated (see above).")
        return None
    table = disagreements(comparison)
    patient = int(table.index[0]) if len(table) else 1
    fig = show_reveal(comparison.cases[patient - 1], patient, comparison.ratings.get(patient),
                      comparison.model, reader_name=reader_name)
    return fig
