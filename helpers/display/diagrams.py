"""Two teaching diagrams, drawn with matplotlib: the three-stage pipeline and label transfer.

* :func:`pipeline_diagram`: plain CT -> stage 1 (pancreas) -> stage 2 (lesion + score) ->
  stage 3 (subtype), with what each stage hands on;
* :func:`label_transfer_diagram`: the radiologist's lesion mask on the contrast scan is
  carried by registration onto the same patient's plain scan, and trains on plain CT.

Boxes use the Okabe-Ito colours of :mod:`.colours` (safe for colour-blind readers); every
box also carries its words, so no meaning rests on colour alone. Each function returns a
:class:`matplotlib.figure.Figure` (shown by Jupyter, saved with ``fig.savefig``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .colours import OKABE_ITO

BOX_HEIGHT = 0.5
BOX_WIDTH = 0.17


def _tint(colour: str, amount: float = 0.22) -> tuple[float, float, float]:
    """``colour`` mixed with white: a light fill that keeps black text readable."""
    return tuple(amount * c + (1 - amount) for c in to_rgb(colour))


def _box(ax, x: float, y: float, title: str, body: str, colour: str,
         width: float = BOX_WIDTH, height: float = BOX_HEIGHT) -> None:
    """A rounded box centred on ``(x, y)`` (axes fraction): a bold title over a body."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.008,rounding_size=0.02",
                                facecolor=_tint(colour), edgecolor=colour, linewidth=2.5,
                                transform=ax.transAxes))
    ax.text(x, y + height / 2 - 0.04, title, ha="center", va="top", fontsize=11,
            fontweight="bold", transform=ax.transAxes)
    ax.text(x, y - 0.06, body, ha="center", va="center", fontsize=9.5, linespacing=1.3,
            transform=ax.transAxes)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str = "") -> None:
    """A black arrow between two points (axes fraction), with an optional label above it."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=18,
                                 linewidth=1.8, color=OKABE_ITO["black"],
                                 transform=ax.transAxes))
    if label:
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(mid[0], mid[1] + 0.03, label, ha="center", va="bottom", fontsize=8.5,
                linespacing=1.1,
                style="italic", transform=ax.transAxes)


def _canvas(title: str, size: tuple[float, float]):
    fig, ax = plt.subplots(figsize=size)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=13, fontweight="bold", loc="left")
    return fig, ax


def _row(ax, boxes, y: float, gap_labels=(), height: float = BOX_HEIGHT) -> None:
    """Boxes ``(title, body, colour)`` spread evenly along ``y``, joined by arrows."""
    xs = [0.095 + i * (0.81 / (len(boxes) - 1)) for i in range(len(boxes))]
    for x, (title, body, colour) in zip(xs, boxes, strict=True):
        _box(ax, x, y, title, body, colour, height=height)
    labels = list(gap_labels) + [""] * len(xs)
    for i in range(len(xs) - 1):
        _arrow(ax, (xs[i] + BOX_WIDTH / 2 + 0.01, y), (xs[i + 1] - BOX_WIDTH / 2 - 0.01, y),
               labels[i])


def pipeline_diagram():
    """The three-stage pipeline of notebooks 04-07, on one plain (non-contrast) CT scan."""
    fig, ax = _canvas("The toy PANDA pipeline: one plain CT scan, three stages", (12.5, 4.2))
    _row(ax, [
        ("Plain CT scan", "no contrast agent,\nas taken for\nanother reason", OKABE_ITO["grey"]),
        ("Stage 1", "pancreas\nsegmentation\n\noutputs:\na pancreas mask",
         OKABE_ITO["sky blue"]),
        ("Stage 2", "lesion segmentation\n+ normal/abnormal\n\noutputs: a lesion\n"
         "mask and a score 0..1", OKABE_ITO["orange"]),
        ("Stage 3", "subtype of the lesion\n\noutputs: a probability\nfor each of PDAC,\n"
         "PNET, cyst, SPT", OKABE_ITO["bluish green"]),
    ], y=0.5, gap_labels=("scan", "pancreas\nmask", "lesion\nmask"))
    ax.text(0.5, 0.08, "Stage 3 runs only when stage 2's score passes its threshold "
            "(a case called abnormal).", ha="center", fontsize=9.5, transform=ax.transAxes)
    fig.tight_layout()
    return fig


def label_transfer_diagram():
    """How training labels reach plain CT: drawn on contrast CT, carried by registration."""
    fig, ax = _canvas("Label transfer: lesion masks drawn on contrast CT, "
                      "used on plain CT", (12.5, 5.0))
    _row(ax, [
        ("Contrast CT", "same patient;\nthe lesion is visible;\nthe radiologist's\nlesion mask",
         OKABE_ITO["vermillion"]),
        ("Registration", "align the contrast\nscan to the plain\nscan (rigid, affine,\n"
         "then B-spline)",
         OKABE_ITO["blue"]),
        ("Mask on plain CT", "the lesion mask\nwarped onto the\nplain scan, where the\n"
         "lesion is hard to see", OKABE_ITO["orange"]),
        ("Training", "a model learns to\nfind lesions on\nplain CT from these\ntransferred masks",
         OKABE_ITO["bluish green"]),
    ], y=0.62, gap_labels=("scan +\nmask", "warp", "mask"), height=0.44)
    _box(ax, 0.365, 0.14, "Plain CT", "\nthe same patient,\nno contrast", OKABE_ITO["grey"],
         height=0.22)
    _arrow(ax, (0.365, 0.26), (0.365, 0.39))
    ax.text(0.38, 0.325, "fixed scan", ha="left", va="center", fontsize=8.5, style="italic",
            transform=ax.transAxes)
    fig.tight_layout()
    return fig
