"""helpers.dicom: reading real CT DICOM correctly, and a clear error for every bad input.

Broken inputs are built in tmp_path from the real JPEG 2000 series (copied, never
changed in place) or from pydicom's real CT_small.dcm slice.
"""

from __future__ import annotations

import copy
import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, generate_uid
from toy_cases import digest

from helpers import dicom

AXIAL = (1, 0, 0, 0, 1, 0)


@pytest.fixture(scope="module")
def real_volume(real_series) -> sitk.Image:
    return dicom.read_series(real_series)


def copy_series(source: Path, target: Path, skip=()) -> list[Path]:
    """Copy a series file by file (sorted names), leaving out the indices in ``skip``."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(source.iterdir())
    for n, path in enumerate(files):
        if n not in skip:
            shutil.copy(path, target / path.name)
    return sorted(target.iterdir())


def make_series(folder: Path, positions=(0, 2.5, 5, 7.5, 10), orientation=AXIAL,
                origin=(-40.0, -60.0, 20.0), series_uid=None, description="synthetic",
                modality="CT", shifts=None) -> list[Path]:
    """A small uncompressed series from the real CT_small slice, one file per position.

    Slice ``k`` holds CT_small's stored values + 10 k (so order is visible). File names and
    InstanceNumbers run against the position order, so only positions give the order.
    ``shifts`` optionally moves each slice sideways (mm, LPS) to fake a gantry tilt.
    """
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del base.SliceLocation
    del base[0xFFFCFFFC]  # trailing padding: without it, pixel data ends the file
    row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, col)
    uid = series_uid or generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, position in enumerate(positions):
        ds = copy.deepcopy(base)
        corner = np.array(origin) + normal * position
        if shifts is not None:
            corner = corner + np.asarray(shifts[k], float)
        ds.ImagePositionPatient = [f"{v:.6f}" for v in corner]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
        ds.SeriesInstanceUID = uid
        ds.SeriesDescription = description
        ds.Modality = modality
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = len(positions) - k
        ds.PixelData = (base.pixel_array + 10 * k).astype(np.int16).tobytes()
        path = folder / f"slice_{(len(positions) - k) * 7 % 97:03d}.dcm"
        ds.save_as(path)
        paths.append(path)
    return paths


def sitk_reference(folder: Path, series_uid: str = "") -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_uid))
    return reader.Execute()


def assert_same_image(ours: sitk.Image, reference: sitk.Image) -> None:
    assert ours.GetSize() == reference.GetSize()
    np.testing.assert_allclose(ours.GetOrigin(), reference.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(ours.GetSpacing(), reference.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(ours.GetDirection(), reference.GetDirection(), atol=1e-6)
    expected = sitk.GetArrayFromImage(reference).astype(np.float32)
    assert np.array_equal(sitk.GetArrayFromImage(ours), expected)


# --- The real JPEG 2000 series -------------------------------------------------------

def test_real_series_matches_simpleitk_series_reader_exactly(real_series, real_volume):
    reference = sitk_reference(real_series)
    assert_same_image(real_volume, reference)
    assert real_volume.GetPixelID() == sitk.sitkFloat32
    assert real_volume.GetSize() == (512, 512, 20)
    np.testing.assert_allclose(real_volume.GetSpacing(), (0.9765625, 0.9765625, 2.0))


def test_real_series_is_in_hounsfield_units(real_volume):
    hu = sitk.GetArrayViewFromImage(real_volume)
    assert hu.min() == pytest.approx(-1024)  # stored 0 with intercept -1024: air outside
    body = hu[:, 200:300, 200:300]  # the middle of the upper abdomen
    assert -200 < float(np.median(body)) < 100


def test_real_series_order_ignores_file_names(real_series, real_volume, tmp_path):
    # Rename the files so that name order is the reverse of position order.
    files = sorted(real_series.iterdir())
    for n, path in enumerate(files):
        shutil.copy(path, tmp_path / f"{len(files) - n:03d}.dcm")
    assert_same_image(dicom.read_series(tmp_path), real_volume)
    table = dicom.slice_table(tmp_path)
    ordered = table.sort_values("sorted_index")["position_along_normal_mm"].to_numpy()
    assert np.all(np.diff(ordered) > 0)


def test_reading_leaves_source_files_unchanged(real_series):
    before = digest(real_series)
    dicom.read_series(real_series)
    assert digest(real_series) == before


def test_list_series_and_slice_table(real_series):
    (info,) = dicom.list_series(real_series)
    assert info.description == "CT Body 3.0" and info.modality == "CT" and len(info.files) == 20
    table = dicom.slice_table(real_series)
    assert sorted(table["sorted_index"]) == list(range(20))
    np.testing.assert_allclose(np.diff(np.sort(table["position_along_normal_mm"])), 2.0)


# --- One file: describe() and to_hu() -------------------------------------------------

def test_describe_hides_identifiers_unless_asked():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hidden = dicom.describe(ds)
    assert "CompressedSamples" not in hidden and "1CT1" not in hidden
    assert "PatientName                <hidden>" in hidden
    assert "RescaleIntercept           -1024" in hidden
    assert "ImageOrientationPatient" in hidden and "Explicit VR Little Endian" in hidden
    shown = dicom.describe(ds, show_identifiers=True)
    assert "CompressedSamples^CT1" in shown


def test_describe_marks_missing_rescale_tags_absent():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.RescaleSlope
    assert "RescaleSlope               (absent)" in dicom.describe(ds)


def test_to_hu_is_stored_times_slope_plus_intercept():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = dicom.to_hu(ds)
    assert hu.dtype == np.float32
    assert np.array_equal(hu, ds.pixel_array.astype(np.float32) - 1024)


def test_to_hu_refuses_missing_rescale_tags_unless_assume_hu():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.RescaleIntercept
    with pytest.raises(dicom.MissingRescaleError, match="no RescaleIntercept.*assume_hu=True"):
        dicom.to_hu(ds)
    with pytest.warns(dicom.DicomWarning, match="assumed slope 1 and intercept 0"):
        hu = dicom.to_hu(ds, assume_hu=True)
    assert np.array_equal(hu, ds.pixel_array.astype(np.float32))


def test_single_slice_uses_the_header_spacing(tmp_path):
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "one.dcm")
    image = dicom.read_series(tmp_path)
    assert image.GetSize() == (128, 128, 1)
    assert image.GetSpacing()[2] == pytest.approx(5.0)  # SpacingBetweenSlices
    reference = sitk.ReadImage(str(tmp_path / "one.dcm"))
    assert np.array_equal(sitk.GetArrayFromImage(image),
                          sitk.GetArrayFromImage(reference).astype(np.float32))
    np.testing.assert_allclose(image.GetOrigin(), reference.GetOrigin(), atol=1e-6)


# --- Bad input: each gets a clear error -----------------------------------------------

def test_folder_without_dicom_files(tmp_path):
    with pytest.raises(dicom.NoDicomFilesError, match="no DICOM image files"):
        dicom.read_series(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(dicom.NoDicomFilesError, match=r"notes\.txt"):
        dicom.read_series(tmp_path)
    with pytest.raises(dicom.NoDicomFilesError, match="does not exist"):
        dicom.read_series(tmp_path / "missing")
    with pytest.raises(dicom.NoDicomFilesError, match="is a file, not a folder"):
        dicom.read_series(tmp_path / "notes.txt")


def test_mixed_series_are_listed_with_uid_and_description(real_series, tmp_path):
    copy_series(real_series, tmp_path)
    uid = generate_uid()
    make_series(tmp_path, series_uid=uid, description="a second series")
    with pytest.raises(dicom.MixedSeriesError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert "2 series" in message and "series_uid" in message
    assert uid in message and "a second series" in message
    assert "(empty SeriesInstanceUID)" in message and "CT Body 3.0" in message
    assert {s.uid for s in caught.value.series} == {uid, ""}
    assert dicom.read_series(tmp_path, series_uid=uid).GetSize() == (128, 128, 5)
    assert dicom.read_series(tmp_path, series_uid="").GetSize() == (512, 512, 20)
    with pytest.raises(dicom.MixedSeriesError, match="no series with UID '1.2.3'"):
        dicom.read_series(tmp_path, series_uid="1.2.3")


def test_missing_slice_says_where(real_series, tmp_path):
    copy_series(real_series, tmp_path, skip={7})  # file-name order is position order here
    with pytest.raises(dicom.MissingSliceError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    # Slices sit at -766.5, -768.5, ...; the 8th file (-780.5 mm) is gone.
    assert "-782.50 mm" in message and "-778.50 mm" in message
    assert "4.00 mm" in message and "about 1 slice(s) missing" in message


def test_unequal_spacing_is_refused_with_the_steps(tmp_path):
    make_series(tmp_path, positions=(0, 2, 4, 7, 10, 13))
    with pytest.raises(dicom.UnequalSpacingError) as caught:
        dicom.read_series(tmp_path)
    assert "2.00 mm (2x)" in str(caught.value) and "3.00 mm (3x)" in str(caught.value)


def test_duplicate_positions_are_refused(tmp_path):
    make_series(tmp_path, positions=(0, 2.5, 2.5, 5))
    with pytest.raises(dicom.DuplicateSliceError, match="same position"):
        dicom.read_series(tmp_path)


def test_small_position_jitter_is_tolerated(tmp_path):
    make_series(tmp_path, positions=(0, 2.5, 5.004, 7.5, 10))
    assert dicom.read_series(tmp_path).GetSpacing()[2] == pytest.approx(2.5)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg2000_file_is_named(real_series, tmp_path, keep):
    files = copy_series(real_series, tmp_path)
    victim = files[5]
    victim.write_bytes(victim.read_bytes()[: int(victim.stat().st_size * keep)])
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(tmp_path)
    assert victim.name in str(caught.value) and caught.value.path == victim


@pytest.mark.parametrize("cut", [1000, -3000, -1])
def test_truncated_uncompressed_file_is_named(tmp_path, cut):
    files = make_series(tmp_path)
    victim = files[2]
    victim.write_bytes(victim.read_bytes()[:cut])
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(tmp_path)
    assert victim.name in str(caught.value)
    assert "truncated" in str(caught.value)


def test_garbage_after_the_dicom_preamble_is_named(tmp_path):
    files = make_series(tmp_path)
    files[1].write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 4)
    with pytest.raises(dicom.CorruptFileError, match=files[1].name):
        dicom.read_series(tmp_path)


def test_non_ct_modality_is_refused_then_read_with_a_warning(tmp_path):
    make_series(tmp_path, modality="MR")
    with pytest.raises(dicom.ModalityError, match="modality MR") as caught:
        dicom.read_series(tmp_path)
    assert "allow_non_ct=True" in str(caught.value)
    with pytest.warns(dicom.DicomWarning, match="NOT HU"):
        image = dicom.read_series(tmp_path, allow_non_ct=True)
    assert image.GetSize() == (128, 128, 5)


def test_missing_rescale_tags_are_refused_unless_assume_hu(tmp_path):
    for path in make_series(tmp_path):
        ds = pydicom.dcmread(path)
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.save_as(path)
    with pytest.raises(dicom.MissingRescaleError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert "5 of 5 file(s)" in message and "RescaleIntercept / RescaleSlope" in message
    assert "lowest stored value" in message and "is 128" in message
    assert "assume_hu=True" in message
    with pytest.warns(dicom.DicomWarning, match="assumed slope 1 and intercept 0") as record:
        image = dicom.read_series(tmp_path, assume_hu=True)
    assert "lowest value here is 128" in str(record[0].message)  # air would be about -1000
    stored = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array
    assert np.array_equal(sitk.GetArrayViewFromImage(image)[0], stored.astype(np.float32))


def test_rescale_present_gives_no_warning(tmp_path):
    make_series(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dicom.read_series(tmp_path)


def test_missing_jpeg2000_decoder_names_the_package(real_series, monkeypatch):
    from pydicom.pixels import get_decoder

    decoder = get_decoder(JPEG2000Lossless)
    # Simulate an environment without any JPEG 2000 plugin (pylibjpeg, pillow or gdcm).
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(decoder, "_unavailable", {
        "pylibjpeg": ("pylibjpeg>=2.0", "pylibjpeg-openjpeg>=2.0"), "gdcm": ("gdcm>=3.0.10",)})
    with pytest.raises(dicom.MissingDecoderError) as caught:
        dicom.read_series(real_series)
    message = str(caught.value)
    assert "JPEG 2000 Image Compression (Lossless Only)" in message
    assert "pylibjpeg-openjpeg" in message and "pip install" in message


def test_uncompressed_data_needs_no_decoder():
    dicom.check_decoder(pydicom.uid.ExplicitVRLittleEndian)  # does not raise


@pytest.mark.parametrize("orientation", [
    (1, 0, 0, 0, 0, -1),  # coronal
    (0, 1, 0, 0, 0, -1),  # sagittal
    (np.cos(0.5), np.sin(0.5), 0, -np.sin(0.5), np.cos(0.5), 0),  # axial, rotated in plane
    (1, 0, 0, 0, np.cos(0.4), np.sin(0.4)),  # double oblique: tilted about x
], ids=["coronal", "sagittal", "rotated", "oblique"])
def test_non_axial_orientations_are_read_correctly(tmp_path, orientation):
    make_series(tmp_path, orientation=orientation)
    image = dicom.read_series(tmp_path)
    assert_same_image(image, sitk_reference(tmp_path, sitk.ImageSeriesReader.GetGDCMSeriesIDs(
        str(tmp_path))[0]))
    row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
    matrix = np.array(image.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(matrix[:, 0], row, atol=1e-6)
    np.testing.assert_allclose(matrix[:, 1], col, atol=1e-6)
    np.testing.assert_allclose(matrix[:, 2], np.cross(row, col), atol=1e-6)
    stored = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array - 1024.0
    volume = sitk.GetArrayViewFromImage(image)
    for k in range(5):  # slice k along the normal holds CT_small + 10 k
        assert np.array_equal(volume[k], stored + 10 * k)


def test_sheared_stack_gantry_tilt_is_refused(tmp_path):
    make_series(tmp_path, shifts=[(0, 0.9 * k, 0) for k in range(5)])
    with pytest.raises(dicom.InconsistentSeriesError, match="sheared"):
        dicom.read_series(tmp_path)


def test_slices_of_different_orientation_are_refused(tmp_path):
    paths = make_series(tmp_path)
    ds = pydicom.dcmread(paths[3])
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.save_as(paths[3])
    with pytest.raises(dicom.InconsistentSeriesError, match=paths[3].name):
        dicom.read_series(tmp_path)


def test_multi_frame_file_is_refused_with_advice(tmp_path):
    paths = make_series(tmp_path)
    ds = pydicom.dcmread(paths[0])
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    ds.save_as(paths[0])
    with pytest.raises(dicom.DicomReadError, match="SimpleITK.ReadImage"):
        dicom.read_series(tmp_path)


def test_check_spacing_returns_spacing_or_none():
    assert dicom.check_spacing([0.0]) is None
    assert dicom.check_spacing([-10, -8, -6, -4]) == pytest.approx(2.0)
    with pytest.raises(dicom.MissingSliceError, match="about 2 slice"):
        dicom.check_spacing([0, 1, 2, 5, 6], names=list("abcde"))


def damage_header(path: Path) -> None:
    """Overwrite the 'DICM' marker: pydicom no longer recognises the file as DICOM."""
    raw = bytearray(path.read_bytes())
    raw[128:132] = b"XXXX"
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("where", [0, 10, 19], ids=["first", "middle", "last"])
def test_a_damaged_header_anywhere_in_the_series_is_named(real_series, tmp_path, where):
    files = copy_series(real_series, tmp_path)  # file-name order is position order here
    damage_header(files[where])
    before = digest(tmp_path)
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert files[where].name in message and caught.value.path == files[where]
    assert "header is damaged" in message and "quietly lack a slice" in message
    assert digest(tmp_path) == before


@pytest.mark.parametrize("damage", ["marker", "truncated to 100 bytes"])
def test_a_damaged_file_without_a_dicom_name_is_found_by_its_uid_or_size(tmp_path, damage):
    for path in make_series(tmp_path):
        path.rename(path.with_suffix(""))  # exports often have no suffix: IM0001, ...
    victim = sorted(tmp_path.iterdir())[-1]
    if damage == "marker":
        damage_header(victim)
        reason = "SeriesInstanceUID"
    else:
        victim.write_bytes(victim.read_bytes()[:100])
        reason = None
    before = digest(tmp_path)
    if reason is None:  # 100 bytes: neither DICOM nor the series' size; skipped, but said
        with pytest.warns(dicom.DicomWarning, match=rf"skipped 1 file.*{victim.name}"):
            assert dicom.read_series(tmp_path).GetSize()[2] == 4
    else:
        with pytest.raises(dicom.CorruptFileError, match=rf"{victim.name} holds the series'"):
            dicom.read_series(tmp_path)
    assert digest(tmp_path) == before


def test_a_file_overwritten_with_garbage_is_named_by_its_suffix_and_size(tmp_path):
    for path in make_series(tmp_path):
        path.rename(path.with_suffix(""))  # no suffix, as many exports
    victim = sorted(tmp_path.iterdir())[-1]
    victim.write_bytes(np.random.default_rng(0).bytes(victim.stat().st_size))  # no UID left
    before = digest(tmp_path)
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{victim.name} has the series' files' suffix (none) and about "
                              "their size")
    assert "cannot be read as DICOM" in message and "Copy it again" in message
    assert digest(tmp_path) == before


def test_other_files_in_the_folder_are_skipped_with_a_warning_naming_them(real_series,
                                                                           tmp_path):
    copy_series(real_series, tmp_path)
    (tmp_path / "notes.txt").write_text("scanned on Tuesday")
    before = digest(tmp_path)
    with pytest.warns(dicom.DicomWarning, match=r"skipped 1 file.*notes\.txt \(not DICOM\)"):
        volume = dicom.read_series(tmp_path)
    assert volume.GetSize() == (512, 512, 20) and digest(tmp_path) == before


def test_missing_rescale_tags_are_an_error_unless_assume_hu(tmp_path):
    for path in make_series(tmp_path):
        ds = pydicom.dcmread(path)
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.save_as(path)
    before = digest(tmp_path)
    with pytest.raises(dicom.MissingRescaleError) as caught:
        dicom.read_series(tmp_path)
    message = str(caught.value)
    assert "RescaleIntercept / RescaleSlope" in message and "Hounsfield" in message
    assert "assume_hu=True" in message and "lowest stored value" in message
    with pytest.warns(dicom.DicomWarning, match="assumed slope 1 and intercept 0"):
        image = dicom.read_series(tmp_path, assume_hu=True)
    assert image.GetSize() == (128, 128, 5)
    assert digest(tmp_path) == before


# --- Notebook 01's DICOM exercises: the checkers spot the usual mistakes ------------------

def test_stored_to_hu_checker(capsys):
    from helpers.exercises import nb01 as ex

    assert ex.check_stored_to_hu(183, 1207, 1, -1024)
    assert not ex.check_stored_to_hu(None, 1207, 1, -1024)
    assert not ex.check_stored_to_hu(1207, 1207, 1, -1024)
    assert "stored value itself" in capsys.readouterr().out
    assert not ex.check_stored_to_hu(2231, 1207, 1, -1024)
    assert "check the sign" in capsys.readouterr().out


def test_slice_spacing_checker(capsys):
    from helpers.exercises import nb01 as ex

    positions = [-766.5, -768.5, -770.5, -772.5]
    assert ex.check_slice_spacing(2.0, positions, 3)
    assert not ex.check_slice_spacing(3.0, positions, 3)
    assert "SliceThickness" in capsys.readouterr().out
    assert not ex.check_slice_spacing(-2.0, positions, 3)
    assert "sort the positions first" in capsys.readouterr().out
