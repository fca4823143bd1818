"""Colours for labels and outlines drawn over a grey CT slice."""

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

# Bright colours that stay visible as thin outlines on a grey CT slice.
OUTLINE_COLORS = ("#00ff00", "#ff00ff", "#00ffff", "#ff8000", "#ffff00", "#ff0000")


def label_colors(ids, cmap: str = "tab10") -> dict[int, tuple[float, float, float]]:
    """A colour per label id, assigned in sorted id order from a matplotlib colour map."""

    palette = matplotlib.colormaps[cmap]
    return {int(i): tuple(palette(n % palette.N)[:3]) for n, i in enumerate(sorted(ids))}


def outline_colors(ids) -> dict[int, tuple[float, float, float]]:
    """High-contrast colours for label outlines, in the order the ids are given."""

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

