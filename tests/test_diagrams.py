"""The two teaching diagrams: figures with the expected words, boxes in Okabe-Ito colours."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from helpers.display import OKABE_ITO, label_transfer_diagram, pipeline_diagram  # noqa: E402


def texts(fig):
    """The non-empty texts drawn on the diagram's axes, and its title."""
    axes = fig.axes[0]
    return [t for t in [*axes.texts, axes.title] if t.get_text().strip()]


def words(fig) -> str:
    return " ".join(t.get_text() for t in texts(fig)).replace("\n", " ")


@pytest.fixture(params=[pipeline_diagram, label_transfer_diagram])
def figure(request):
    fig = request.param()
    yield fig
    plt.close(fig)


def test_pipeline_diagram_names_each_stage_and_what_it_outputs():
    fig = pipeline_diagram()
    text = words(fig)
    plt.close(fig)
    assert isinstance(fig, Figure)
    for expected in ("Plain CT", "Stage 1", "pancreas segmentation", "Stage 2",
                     "lesion segmentation", "normal/abnormal", "Stage 3", "subtype",
                     "a pancreas mask", "a lesion mask", "score", "PDAC", "PNET", "cyst", "SPT"):
        assert expected in text, expected


def test_label_transfer_diagram_follows_the_mask_from_contrast_to_training():
    fig = label_transfer_diagram()
    text = words(fig)
    plt.close(fig)
    for expected in ("Contrast CT", "radiologist's lesion mask", "Registration",
                     "Mask on plain CT", "Training", "same patient"):
        assert expected in text, expected


def test_boxes_use_okabe_ito_edges(figure):
    edges = {to_hex(p.get_edgecolor()).lower() for p in figure.findobj(FancyBboxPatch)}
    assert edges, "no boxes drawn"
    assert edges <= {c.lower() for c in OKABE_ITO.values()}


def test_no_two_texts_overlap(figure):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts(figure)]
    clashes = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    assert not clashes
