"""One colour-blind-safe palette (Okabe-Ito) for every outline and overlay of the helpers.

Read from the source with ``ast``: every hex colour written in ``helpers/`` is an Okabe-Ito
colour, and no pure named colour (red, green, lime, magenta...) is written at all, so no
figure can pair pure red with pure green. The palette constants are checked as well, and a
compared pair of outlines differs in line style, not only in hue.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

import helpers  # noqa: E402
from helpers import display, registration  # noqa: E402
from helpers.pipeline.detection_figures import PATIENT_COLOURS  # noqa: E402

PACKAGE = Path(helpers.__file__).resolve().parent
OKABE = {c.lower() for c in display.OKABE_ITO.values()}
HEX = re.compile(r"#[0-9a-fA-F]{6}")
# Pure or near-pure hues that colour-blind readers confuse in pairs; none may be written.
FORBIDDEN = {"red", "green", "lime", "magenta", "fuchsia", "cyan", "aqua", "yellow", "blue",
             "tab:red", "tab:green", "xkcd:red", "xkcd:green",
             "#ff0000", "#00ff00", "#ff00ff", "#00ffff", "#ffff00", "#d62728", "#2ca02c"}


def string_constants():
    """``(file, line, text)`` of every string literal in the helpers package, but for the
    names of the palette's colours (dict keys and subscripts: ``OKABE_ITO["yellow"]``)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
        names |= {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in names):
                yield path.relative_to(PACKAGE.parent), node.lineno, node.value


def test_every_hex_colour_in_the_helpers_is_okabe_ito():
    strays = [(str(f), n, s) for f, n, s in string_constants()
              if HEX.fullmatch(s) and s.lower() not in OKABE]
    assert not strays, f"colours outside the Okabe-Ito palette: {strays}"


def test_no_helper_writes_a_pure_red_or_green_or_other_pure_hue():
    found = [(str(f), n, s) for f, n, s in string_constants() if s.lower() in FORBIDDEN]
    assert not found, f"pure colours (use helpers.display.OKABE_ITO): {found}"


def test_palette_constants_come_from_okabe_ito():
    for name in ("OUTLINE_COLORS", "FILL_COLORS"):
        assert {c.lower() for c in getattr(display, name)} <= OKABE, name
    for name in ("RESULT_COLOUR", "REFERENCE_COLOUR", "HIGHLIGHT_COLOUR", "LETTER_COLOUR"):
        assert getattr(display, name).lower() in OKABE, name
    assert {c.lower() for c in PATIENT_COLOURS.values()} <= OKABE
    assert len(set(display.OUTLINE_COLORS)) == len(display.OUTLINE_COLORS)
    assert set(display.TISSUE_BANDS[n][3].lower() for n in range(4)) <= OKABE


def test_compared_outlines_differ_in_line_style_too():
    assert display.RESULT_STYLE != display.REFERENCE_STYLE
    assert display.RESULT_COLOUR != display.REFERENCE_COLOUR
    styles = display.outline_styles(range(2))
    assert styles[0] != styles[1]


def test_label_colours_are_okabe_ito_for_a_few_labels():
    colours = display.label_colors([3, 1, 2])
    assert {to_hex(c) for c in colours.values()} <= OKABE


def test_transfer_figure_draws_truth_and_copy_in_okabe_ito_with_two_line_styles():
    array = np.zeros((9, 24, 24), np.uint8)
    array[3:6, 8:16, 8:16] = 1
    truth = sitk.GetImageFromArray(array)
    moved = sitk.GetImageFromArray(np.roll(array, 2, axis=2))
    plain = sitk.GetImageFromArray(np.full(array.shape, 40, np.int16))
    for image in (truth, moved):
        image.CopyInformation(plain)
    fig = registration.show_transfer(plain, truth, {"rigid": moved})
    lines = fig.legends[0].get_lines()
    plt.close(fig)
    assert {to_hex(line.get_color()) for line in lines} <= OKABE
    assert len({line.get_linestyle() for line in lines}) == 2


def test_blend_is_grey_where_the_two_scans_agree():
    same = np.full((2, 2), 0.5)
    assert np.allclose(registration.blend(same, same), 0.5)
