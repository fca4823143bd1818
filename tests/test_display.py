"""helpers.display: windowing, radiological orientation, HU bands, overlays and figures."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk

from helpers import data, display

matplotlib.use("Agg")


# --- Windowing ---------------------------------------------------------------------------

def test_window_maps_bounds_to_black_and_white():
    low, high = display.window_bounds("soft_tissue")
    assert (low, high) == (-160.0, 240.0)
    gray = display.apply_window(np.array([-1000, low, 40, high, 3000]), "soft_tissue")
    np.testing.assert_allclose(gray, [0, 0, 0.5, 1, 1])


def test_window_accepts_pairs_and_rejects_nonsense():
    assert display.resolve_window((150, -40)) == (150.0, -40.0)
    with pytest.raises(ValueError, match="unknown window preset 'brain'"):
        display.resolve_window("brain")
    with pytest.raises(ValueError, match="positive"):
        display.resolve_window((0, 40))


# --- Orientation ---------------------------------------------------------------------

@pytest.mark.parametrize("plane,up,right", [
    ("axial", "A", "L"), ("coronal", "S", "L"), ("sagittal", "S", "P")])
def test_displayed_slices_follow_radiological_convention(ct_sm, plane, up, right):
    """Check with physical points: what is drawn higher / further right really is."""
    lps = display.to_lps(ct_sm)
    shape = sitk.GetArrayViewFromImage(lps).shape
    count = {"axial": shape[0], "coronal": shape[1], "sagittal": shape[2]}[plane]
    rows, cols = display.orient_slice(sitk.GetArrayViewFromImage(lps), plane, 0).shape

    def point(row, col):
        ijk = display.display_to_index(shape, plane, count // 2, row, col)
        return np.array(lps.TransformIndexToPhysicalPoint([int(v) for v in ijk]))

    top, bottom = point(0, cols // 2), point(rows - 1, cols // 2)
    left, far_right = point(rows // 2, 0), point(rows // 2, cols - 1)
    axis_sign = {"A": (1, -1), "S": (2, 1), "L": (0, 1), "P": (1, 1)}  # LPS: +x L, +y P, +z S
    axis, sign = axis_sign[up]
    assert sign * (top[axis] - bottom[axis]) > 0
    axis, sign = axis_sign[right]
    assert sign * (far_right[axis] - left[axis]) > 0
    assert display.EDGE_LETTERS[plane][1:3] == (right, up)


def test_extract_slice_flips_the_ras_nifti_into_radiological_view(ct_sm):
    raw = sitk.GetArrayViewFromImage(ct_sm)[14]
    oriented, aspect = display.extract_slice(ct_sm, "axial", 14)
    assert np.array_equal(oriented, raw[::-1, ::-1]) and aspect == 1.0


@pytest.mark.parametrize("plane", display.PLANES)
def test_display_to_index_inverts_index_to_display(plane):
    shape = (7, 5, 3)
    rng = np.random.default_rng(0)
    for ijk in rng.integers(0, [3, 5, 7], size=(20, 3)):
        where = display.index_to_display(shape, plane, ijk)
        assert display.display_to_index(shape, plane, *where) == tuple(ijk)
    volume = np.arange(np.prod(shape)).reshape(shape)
    shown = display.orient_slice(volume, plane, 1)
    i, j, k = display.display_to_index(shape, plane, 1, 2, 1)
    assert shown[2, 1] == volume[k, j, i]


def test_edge_letters_from_dicom_orientations(ct_sm):
    assert display.edge_letters_from_directions((1, 0, 0), (0, 1, 0)) == ("R", "L", "A", "P")
    assert display.edge_letters_from_directions((1, 0, 0), (0, 0, -1)) == ("R", "L", "S", "I")
    assert display.edge_letters_from_directions((0, 1, 0), (0, 0, -1)) == ("A", "P", "S", "I")
    # The raw NIfTI array is shown mirrored and upside down: posterior at the top.
    assert display.raw_edge_letters(ct_sm) == ("L", "R", "P", "A")


# --- HU bands and overlays -------------------------------------------------------------

def test_tissue_class_map_bands():
    hu = np.array([-1000, -300, -100, 40, 500])
    assert display.tissue_class_map(hu).tolist() == [1, 0, 2, 3, 4]
    names = [band[0] for band in display.TISSUE_BANDS]
    assert names[1] == "fat" and display.TISSUE_BANDS[1][1:3] == (-190.0, -30.0)


def test_composite_overlay_blends_only_labelled_pixels():
    gray = np.full((2, 2), 0.5)
    labels = np.array([[0, 7], [0, 0]])
    rgb = display.composite_overlay(gray, labels, {7: (1.0, 0.0, 0.0)}, opacity=0.5)
    np.testing.assert_allclose(rgb[0, 0], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(rgb[0, 1], [0.75, 0.25, 0.25])
    with pytest.raises(ValueError, match="opacity"):
        display.composite_overlay(gray, labels, {}, opacity=2)
    with pytest.raises(ValueError, match="differ in shape"):
        display.composite_overlay(gray, labels[:1], {}, opacity=0.5)


# --- Figures ---------------------------------------------------------------------------

def colorbar_labels(fig) -> list[str]:
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_show_hu_scale_figure_has_units_and_legend():
    hu = np.linspace(-1000, 1500, 64 * 64).reshape(64, 64)
    fig = display.show_hu_scale(hu)
    assert any("HU" in label for label in colorbar_labels(fig))
    hist = fig.axes[2]
    assert hist.get_xlabel() == "Hounsfield units (HU)"
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend[1] == "fat: -190 to -30 HU"


def test_compare_windows_one_panel_and_colour_bar_per_window(ct_sm):
    hu, aspect = display.extract_slice(ct_sm, "axial", 14)
    fig = display.compare_windows(hu, aspect=aspect, outline=hu > 0, outline_name="hu > 0")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [f"{n}: W {w:.0f} / L {lv:.0f} HU"
                      for n, (w, lv) in display.WINDOW_PRESETS.items()]
    assert len(colorbar_labels(fig)) == len(display.WINDOW_PRESETS)
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    assert [t.get_text() for t in bar.get_yticklabels()] == ["-160", "40", "240"]


def test_raw_versus_radiological_figure(ct_sm):
    fig = display.show_raw_vs_radiological(ct_sm, 14)
    raw_ax, lps_ax = fig.axes[:2]
    assert "header ignored" in raw_ax.get_title()
    assert [t.get_text() for t in raw_ax.texts] == ["L", "R", "P", "A"]
    assert [t.get_text() for t in lps_ax.texts] == ["R", "L", "A", "P"]
    shown = lps_ax.images[0].get_array()
    expected = display.apply_window(display.extract_slice(ct_sm, "axial", 14)[0], "soft_tissue")
    np.testing.assert_allclose(shown, expected)


def test_show_slabs_shades_the_right_rows(ct_sm):
    fig = display.show_slabs(ct_sm, [("first five", 0, 5, "red"), ("last one", 29, 1, "lime")])
    ax = fig.axes[0]
    spans = [(patch.get_y(), patch.get_y() + patch.get_height()) for patch in ax.patches]
    rows = ct_sm.GetSize()[2]  # coronal view: one displayed row per axial slice
    # Axial slice 0 (most inferior) is the bottom row; the last slice is the top row.
    assert spans[0] == pytest.approx((rows - 5 - 0.5, rows - 0.5))
    assert spans[1] == pytest.approx((-0.5, 0.5))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["first five", "last one"]
    with pytest.raises(ValueError, match="coronal or sagittal"):
        display.show_slabs(ct_sm, [], plane="axial")


def test_pancreas_window_checker(ct_sm, capsys):
    from helpers.exercises import nb01 as ex

    labels, _ = data.load_labels("totalsegmentator_example_seg")
    k = int(np.argmax((sitk.GetArrayFromImage(display.to_lps(labels)) == 7).sum(axis=(1, 2))))
    hu, _ = display.extract_slice(ct_sm, "axial", k)
    lab, _ = display.extract_slice(labels, "axial", k)
    measured = ex.window_contrast("soft_tissue", hu, lab)
    assert measured["fat_hu"] < measured["organ_hu"]
    assert -190 <= measured["fat_hu"] < -30
    pancreas, fat = measured["organ_hu"], measured["fat_hu"]
    assert ex.check_pancreas_window((2.5 * (pancreas - fat), (pancreas + fat) / 2), hu, lab)
    assert not ex.check_pancreas_window("bone", hu, lab)  # far too wide: little contrast
    assert not ex.check_pancreas_window((20, pancreas), hu, lab)  # too narrow: clipped
    assert "widen the window" in capsys.readouterr().out
    assert not ex.check_pancreas_window(None, hu, lab)
    with pytest.raises(ValueError, match="not on this slice"):
        ex.window_contrast("soft_tissue", hu, np.zeros_like(lab))
