"""helpers.display.viewer: the widget callbacks, called directly (no browser), and the montage."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk

from helpers import data, display
from helpers.display import viewer

matplotlib.use("Agg")

SHOWN = [1, 5, 6, 7]  # spleen, liver, stomach, pancreas


@pytest.fixture(scope="module")
def ct_and_labels():
    try:
        ct = data.load_ct("totalsegmentator_example_ct_sm")
        labels, names = data.load_labels("totalsegmentator_example_seg")
    except data.DataError as exc:
        pytest.skip(f"real CT not available: {exc}")
    return ct, labels, names


@pytest.fixture
def view(ct_and_labels):
    ct, labels, names = ct_and_labels
    return viewer.SliceViewer(ct, labels, names, label_ids=SHOWN)


def expected_hu(ct: sitk.Image, state: dict) -> float:
    """The HU at the viewer's reported point, looked up independently in the original."""
    return ct.GetPixel(ct.TransformPhysicalPointToIndex(state["point_mm"]))


def test_prepare_volume_refuses_labels_on_another_grid(ct_and_labels):
    ct, labels, _ = ct_and_labels
    moved = sitk.Image(labels)
    moved.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="not on the image's grid"):
        viewer.prepare_volume(ct, moved)
    with pytest.raises(ValueError, match="3D"):
        viewer.prepare_volume(ct[:, :, 0])


def test_prepare_volume_colours_only_the_chosen_labels(ct_and_labels):
    ct, labels, names = ct_and_labels
    volume = viewer.prepare_volume(ct, labels, names, label_ids=[7, 5, 999])
    assert sorted(volume.colors) == [5, 7]
    assert volume.names[7] == "pancreas"


@pytest.mark.parametrize("plane", display.PLANES)
def test_readout_reports_the_voxel_under_the_point(ct_and_labels, plane):
    ct, labels, names = ct_and_labels
    volume = viewer.prepare_volume(ct, labels, names)
    count, rows, cols = viewer.plane_size(volume, plane)
    for row, col in [(0, 0), (rows // 2, cols // 3), (rows - 1, cols - 1)]:
        info = viewer.readout(volume, plane, count // 2, row, col)
        assert info["hu"] == expected_hu(ct, info)
        assert info["label"] == labels.GetPixel(info["index"])
        assert ct.TransformIndexToPhysicalPoint(info["index"]) == pytest.approx(info["point_mm"])


def test_viewer_starts_centred_and_draws_a_png(view, ct_and_labels):
    ct = ct_and_labels[0]
    state = view.state()
    assert state["plane"] == "axial" and state["preset"] == "soft_tissue"
    assert state["window"] == (400.0, 40.0)
    assert view.slice.max == ct.GetSize()[2] - 1
    assert view.picture.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{state['hu']:.0f} HU" in view.info.value
    assert state["hu"] == expected_hu(ct, state)


def test_changing_plane_keeps_the_crosshair_on_the_same_voxel(view, ct_and_labels):
    ct = ct_and_labels[0]
    view.row.value, view.col.value = 40, 70  # move the point on the axial slice
    before = view.state()
    for plane in ("coronal", "sagittal", "axial"):
        view.plane.value = plane  # fires on_plane
        after = view.state()
        assert after["point_mm"] == pytest.approx(before["point_mm"])
        assert after["hu"] == before["hu"] == expected_hu(ct, after)
        count, rows, cols = viewer.plane_size(view.volume, plane)
        assert (view.slice.max, view.row.max, view.col.max) == (count - 1, rows - 1, cols - 1)


def test_point_sliders_move_the_readout(view, ct_and_labels):
    ct = ct_and_labels[0]
    seen = set()
    for row, col in [(10, 10), (50, 60), (90, 100)]:
        view.row.value, view.col.value = row, col
        state = view.state()
        assert state["hu"] == expected_hu(ct, state)
        seen.add(state["lps_index"])
    assert len(seen) == 3


def test_preset_sets_width_and_level_and_editing_makes_it_custom(view):
    view.preset.value = "bone"
    assert (view.width.value, view.level.value) == (1800, 400)
    assert view.state()["window"] == (1800.0, 400.0)
    picture = view.picture.value
    view.width.value = 900
    assert view.preset.value == "custom"
    assert view.state()["window"] == (900.0, 400.0)
    assert view.picture.value != picture
    view.preset.value = "lung"
    assert view.state()["window"] == (1500.0, -600.0)


def test_callbacks_can_be_called_directly(view):
    view.slice.value = 3
    view.on_slice({"new": 3})
    assert view.state()["slice"] == 3 and view.cursor[2] == 3
    view.opacity.value = 0.0
    no_overlay = view.picture.value
    view.opacity.value = 0.9
    view.on_opacity({"new": 0.9})
    assert view.picture.value != no_overlay
    view.plane.value = "sagittal"
    view.on_plane({"new": "sagittal"})
    assert view.state()["plane"] == "sagittal"


def test_every_control_survives_its_extremes(view):
    """What tests/test_notebooks.py does to widgets after a run, without a kernel."""
    for control in (view.slice, view.row, view.col, view.width, view.level, view.opacity):
        for value in (control.max, control.min):
            control.value = value
            assert view.picture.value[:4] == b"\x89PNG"
    for plane in display.PLANES:
        view.plane.value = plane
        for control in (view.slice, view.row, view.col):
            control.value = control.max
        view.state()


def test_viewer_without_labels_disables_opacity(ct_and_labels):
    view = viewer.SliceViewer(ct_and_labels[0], window=(150, -40))
    assert view.opacity.disabled and view.preset.value == "custom"
    state = view.state()
    assert state["label"] is None and state["label_name"] == ""


def test_viewer_reports_label_names(view):
    volume = view.volume
    k, j, i = np.argwhere(volume.labels == 7)[0]
    view.cursor = [int(i), int(j), int(k)]
    view.on_plane()
    assert view.state()["label_name"] == "pancreas"
    assert "pancreas" in view.info.value


def test_slices_through_label_and_montage(ct_and_labels):
    ct, labels, names = ct_and_labels
    indices = viewer.slices_through_label(labels, 7, "axial", n=6)
    lps = sitk.GetArrayFromImage(display.to_lps(labels))
    assert len(indices) == 6 and all((lps[k] == 7).any() for k in indices)
    fig = viewer.montage(ct, labels, names, label_ids=SHOWN, indices=indices, window="pancreas")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith(f"axial {indices[0]} (z = ") and titles[0].endswith(" mm)")
    assert len(titles) == 6
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["spleen", "liver", "stomach", "pancreas"]
    with pytest.raises(IndexError, match="outside"):
        viewer.montage(ct, indices=[0, 999])
    with pytest.raises(ValueError, match="does not occur"):
        viewer.slices_through_label(labels, 250)
