"""Colours for labels and outlines drawn over a grey CT slice: one colour-blind-safe palette.

Every outline and overlay of the series takes its colours from :data:`OKABE_ITO`. Where two
outlines are compared (a result against its reference), they differ in line style as well
(:data:`RESULT_STYLE` solid, :data:`REFERENCE_STYLE` dashed), so that no reading rests on
telling two hues apart.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import to_rgb

# The Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"): eight colours that stay
# distinct for the common forms of colour blindness. Every outline and overlay draws from it.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
    "grey": "#999999",
}

# The Okabe-Ito colours that stay visible as thin outlines on a grey CT slice, most
# distinct first (black, blue and grey vanish on soft tissue).
OUTLINE_COLORS = (OKABE_ITO["sky blue"], OKABE_ITO["orange"], OKABE_ITO["yellow"],
                  OKABE_ITO["reddish purple"], OKABE_ITO["bluish green"], OKABE_ITO["vermillion"])
# Line styles, cycled with the colours, so that outlines differ in more than hue.
OUTLINE_STYLES = ("-", "--", ":", "-.")
# A result (solid, orange) compared with its reference or truth (dashed, sky blue).
RESULT_COLOUR, RESULT_STYLE = OKABE_ITO["orange"], "-"
REFERENCE_COLOUR, REFERENCE_STYLE = OKABE_ITO["sky blue"], "--"
# One marked item among grey ones (a bar, a line on a histogram); direction letters.
HIGHLIGHT_COLOUR = OKABE_ITO["vermillion"]
LETTER_COLOUR = OKABE_ITO["yellow"]
# A score map under outlines: one hue (blue), so that the outlines' colours stand out on it.
HEAT_CMAP = "Blues"
# Fill colours for label maps, in order (8 or fewer labels; more fall back to tab20).
FILL_COLORS = (OKABE_ITO["orange"], OKABE_ITO["sky blue"], OKABE_ITO["bluish green"],
               OKABE_ITO["yellow"], OKABE_ITO["blue"], OKABE_ITO["vermillion"],
               OKABE_ITO["reddish purple"], OKABE_ITO["grey"])


def label_colors(ids, cmap: str | None = None) -> dict[int, tuple[float, float, float]]:
    """A colour per label id, assigned in sorted id order: :data:`FILL_COLORS` (Okabe-Ito)
    for up to 8 labels, else (or when ``cmap`` names one) a matplotlib colour map."""

    ids = sorted(ids)
    if cmap is None and len(ids) <= len(FILL_COLORS):
        return {int(i): to_rgb(FILL_COLORS[n]) for n, i in enumerate(ids)}
    palette = matplotlib.colormaps[cmap or "tab20"]
    return {int(i): tuple(palette(n % palette.N)[:3]) for n, i in enumerate(ids)}


def outline_colors(ids) -> dict[int, tuple[float, float, float]]:
    """Okabe-Ito colours for label outlines, in the order the ids are given."""

    return {int(i): to_rgb(OUTLINE_COLORS[n % len(OUTLINE_COLORS)]) for n, i in enumerate(ids)}


def outline_styles(ids) -> dict[int, str]:
    """A line style per outline, in the order the ids are given (solid, dashed, dotted...)."""

    return {int(i): OUTLINE_STYLES[n % len(OUTLINE_STYLES)] for n, i in enumerate(ids)}


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

