"""Read CT DICOM carefully: one file's header, and a whole series as a volume in HU.

Public API
----------
``read_series(folder, series_uid=None) -> SimpleITK.Image``
    A folder of CT slices as a float32 volume in Hounsfield units, with origin, spacing
    and direction taken from the headers. Slices are ordered by their position along the
    slice normal (never by file name or InstanceNumber) and checked for gaps.
``describe(dataset, show_identifiers=False) -> str``
    The header fields that matter for reading a CT slice correctly, identifiers hidden.
``list_series(folder)``, ``slice_table(folder)``, ``sort_slices(datasets)``,
``check_spacing(positions)``, ``to_hu(dataset)``, ``check_decoder(transfer_syntax)``
    The steps of ``read_series``, public so the notebook can show (and tests can check) each.

Every problem with the input raises a :class:`DicomReadError` subclass (defined in
:mod:`helpers.dicom_errors`; the header summary lives in
:mod:`helpers.dicom_header`) whose message says
what was wrong, where (file names, positions in mm) and what to do. Source files are only
ever read.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from .dicom_errors import (  # noqa: F401  (re-exported: helpers.dicom.<Error> is public)
    CorruptFileError,
    DicomReadError,
    DicomWarning,
    DuplicateSliceError,
    InconsistentSeriesError,
    MissingDecoderError,
    MissingSliceError,
    MixedSeriesError,
    ModalityError,
    NoDicomFilesError,
    UnequalSpacingError,
)
from .dicom_header import IDENTIFYING, describe  # noqa: F401  (re-exported public API)

_DECODER_PACKAGES = [
    (JPEG2000TransferSyntaxes, "pylibjpeg and pylibjpeg-openjpeg (pinned in requirements.txt), "
                               "or python-gdcm"),
    (JPEGLSTransferSyntaxes, "pylibjpeg and pylibjpeg-libjpeg, or pyjpegls, or python-gdcm"),
    (JPEGTransferSyntaxes, "pylibjpeg and pylibjpeg-libjpeg, or python-gdcm"),
]


@dataclass(frozen=True)
class SeriesInfo:
    """One series found in a folder."""

    uid: str
    number: int | None
    description: str
    modality: str
    files: tuple[Path, ...] = field(repr=False)

    def __str__(self) -> str:
        uid = self.uid or "(empty SeriesInstanceUID)"
        return (f"{uid}: series number {self.number}, {self.description or 'no description'!r},"
                f" modality {self.modality or '?'}, {len(self.files)} file(s)")


@dataclass(frozen=True)
class SliceStack:
    """Slices in order along their normal, with the geometry of the volume they make."""

    datasets: list
    positions: np.ndarray  # mm along the slice normal, ascending
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]  # x (along a row), y (down a column), z (normal)
    direction: tuple[float, ...]  # 3x3 row-major, columns: row, column, normal directions


def _name(ds) -> str:
    return Path(getattr(ds, "filename", "") or "<in memory>").name


def _read_file(path: Path):
    """A dataset with its pixel bytes, None if the file is not DICOM at all."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
    except InvalidDicomError:
        return None
    except Exception as exc:  # pydicom raises many types on damaged bytes
        raise CorruptFileError(
            f"{path.name} could not be read as DICOM ({type(exc).__name__}: {exc}). It is "
            "probably truncated or damaged: copy it again from the source, or move it out "
            f"of {path.parent}.", path) from exc
    for warning in caught:
        if "end of file" in str(warning.message).lower():  # pydicom read past the end
            raise CorruptFileError(
                f"{path.name} ends too early ({warning.message}): it is truncated. Copy it "
                f"again from the source, or move it out of {path.parent}.", path)
        warnings.warn(warning.message, warning.category, stacklevel=2)
    if "PixelData" not in ds:
        sop = getattr(ds.get("SOPClassUID"), "name", "")
        if sop and "Image Storage" not in sop:
            return None  # a report or structure set: not part of any image volume
        raise CorruptFileError(
            f"{path.name} has a DICOM header but no pixel data ({path.stat().st_size} bytes): "
            "it is probably truncated. Copy it again from the source, or move it out of "
            f"{path.parent}.", path)
    return ds


def read_folder(folder) -> list:
    """Every DICOM image dataset in a folder (not recursive); other files are skipped."""
    folder = Path(folder)
    if folder.is_file():
        raise NoDicomFilesError(f"{folder} is a file, not a folder. Pass the folder that holds "
                                "the series, or read one file with pydicom.dcmread().")
    if not folder.is_dir():
        raise NoDicomFilesError(f"the folder {folder} does not exist. Check the path "
                                "(for the course data use helpers.data.fetch(name)).")
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name != "DICOMDIR")
    datasets = [ds for ds in map(_read_file, paths) if ds is not None]
    if not datasets:
        seen = ": " + ", ".join(p.name for p in paths[:5]) if paths else ""
        seen += " ..." if len(paths) > 5 else ""
        raise NoDicomFilesError(
            f"no DICOM image files in {folder} (looked at {len(paths)} file(s){seen}). DICOM "
            "files start with a 128-byte preamble and 'DICM'; check that you "
            "picked the folder of the series itself, not its parent.")
    return datasets


def group_series(datasets) -> list[SeriesInfo]:
    """Group datasets by SeriesInstanceUID, in order of first appearance."""
    groups: dict[str, list] = {}
    for ds in datasets:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    infos = []
    for uid, members in groups.items():
        first = members[0]
        number = first.get("SeriesNumber")
        infos.append(SeriesInfo(uid, None if number in (None, "") else int(number),
                                str(first.get("SeriesDescription", "")),
                                str(first.get("Modality", "")),
                                tuple(Path(ds.filename) for ds in members)))
    return infos


def list_series(folder) -> list[SeriesInfo]:
    """The series in a folder, with UID, number, description, modality and files."""
    return group_series(read_folder(folder))


def select_series(datasets, series_uid: str | None = None) -> list:
    """The datasets of one series; a clear error if that choice is ambiguous or wrong."""
    infos = group_series(datasets)
    listing = "\n".join(f"  - {info}" for info in infos)
    if series_uid is None:
        if len(infos) > 1:
            raise MixedSeriesError(
                f"the folder holds {len(infos)} series:\n{listing}\nChoose one with "
                "read_series(folder, series_uid=...), or put each series in its own folder.",
                infos)
        return list(datasets)
    chosen = [ds for ds in datasets if str(ds.get("SeriesInstanceUID", "")) == series_uid]
    if not chosen:
        raise MixedSeriesError(f"no series with UID {series_uid!r} here. Series found:\n"
                               f"{listing}", infos)
    return chosen


def check_modality(datasets, allow_non_ct: bool = False) -> None:
    """Refuse (or, with ``allow_non_ct``, warn about) slices that are not CT."""
    found = Counter(str(ds.get("Modality", "")) for ds in datasets)
    if set(found) == {"CT"}:
        return
    if set(found) == {""}:
        warnings.warn("the files have no Modality tag; assumed they are CT, so the rescaled "
                      "values are treated as HU.", DicomWarning, stacklevel=3)
        return
    other = next(ds for ds in datasets if ds.get("Modality", "") != "CT")
    what = ", ".join(f"{m or 'none'} ({n} file(s))" for m, n in found.items())
    message = (f"the series is not (only) CT: modality {what}, e.g. {_name(other)}. Only CT "
               "values are Hounsfield units")
    if not allow_non_ct:
        raise ModalityError(message + "; read_series refuses it. Pass allow_non_ct=True to "
                            "read the rescaled values anyway (they will not be HU).")
    warnings.warn(message + "; read anyway (allow_non_ct=True): the values are NOT HU.",
                  DicomWarning, stacklevel=3)


def _vector(ds, keyword: str, length: int) -> np.ndarray:
    value = ds.get(keyword)
    if value is None or len(value) != length:
        raise InconsistentSeriesError(
            f"{_name(ds)} has no valid {keyword} (found {value!r}), so it cannot be placed in "
            "space. Slices without geometry cannot form a volume; check the export settings.")
    return np.array([float(v) for v in value])


def sort_slices(datasets, tolerance: float = 0.01) -> SliceStack:
    """Order slices by position along the slice normal and derive the volume's geometry.

    The normal is row direction x column direction (from ImageOrientationPatient), so this
    works for axial, coronal, sagittal and oblique stacks alike. Raises when slices differ
    in size, pixel spacing or orientation, when the stack is sheared (gantry tilt), or via
    :func:`check_spacing` when positions repeat, have a gap or are unequally spaced.
    """
    first = datasets[0]
    orientation = _vector(first, "ImageOrientationPatient", 6)
    row, col = orientation[:3], orientation[3:]
    if abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(col) - 1) > 1e-3 \
            or abs(row @ col) > 1e-3:
        raise InconsistentSeriesError(f"{_name(first)}: ImageOrientationPatient {orientation} "
                                      "is not two perpendicular unit vectors.")
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)  # DS values carry rounding
    reference = (first.Rows, first.Columns, tuple(_vector(first, "PixelSpacing", 2)))
    for ds in datasets[1:]:
        if (ds.Rows, ds.Columns, tuple(_vector(ds, "PixelSpacing", 2))) != reference:
            raise InconsistentSeriesError(
                f"{_name(ds)} has size {ds.Rows}x{ds.Columns} and pixel spacing "
                f"{list(ds.PixelSpacing)} but {_name(first)} has {reference[0]}x{reference[1]} "
                f"and {list(reference[2])}: they are not one volume (a scout or a "
                "reformat mixed in?). Move the odd file out or pass series_uid.")
        if not np.allclose(_vector(ds, "ImageOrientationPatient", 6), orientation, atol=1e-4):
            raise InconsistentSeriesError(
                f"{_name(ds)} is oriented {list(ds.ImageOrientationPatient)} but "
                f"{_name(first)} is oriented {list(orientation)}: slices of one volume share "
                "one orientation. Move the odd file out or pass series_uid.")
    corners = np.array([_vector(ds, "ImagePositionPatient", 3) for ds in datasets])
    order = np.argsort(corners @ normal, kind="stable")
    datasets = [datasets[i] for i in order]
    corners, positions = corners[order], (corners @ normal)[order]
    names = [_name(ds) for ds in datasets]
    dz = check_spacing(positions, names, tolerance)
    if dz is None:  # a single slice: the header's nominal spacing is all there is
        dz = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    steps = np.diff(corners, axis=0)
    sideways = np.linalg.norm(steps - np.outer(steps @ normal, normal), axis=1)
    if sideways.size and sideways.max() > tolerance * dz:
        tilt = np.degrees(np.arctan2(sideways.max(), dz))
        raise InconsistentSeriesError(
            f"the slices are sheared: each one is shifted up to {sideways.max():.2f} mm "
            f"sideways (about {tilt:.1f} degrees, e.g. a gantry tilt). A regular grid cannot "
            "hold this without resampling; read it with SimpleITK and resample, or ask for "
            "an untilted reconstruction.")
    pixel_spacing = reference[2]  # DICOM order: (between rows, between columns)
    matrix = np.column_stack([row, col, normal])
    return SliceStack(datasets, positions, tuple(corners[0]),
                      (pixel_spacing[1], pixel_spacing[0], dz), tuple(matrix.ravel()))


def check_spacing(positions, names=None, tolerance: float = 0.01) -> float | None:
    """The slice spacing in mm from sorted positions; raises on repeats, gaps, unequal steps.

    ``tolerance`` is relative to the spacing (1 % by default). Returns None for one slice.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.size < 2:
        return None
    names = names or [f"slice {i}" for i in range(positions.size)]
    steps = np.diff(positions)

    def where(i):
        return (f"{names[i]} ({positions[i]:.2f} mm) and {names[i + 1]} "
                f"({positions[i + 1]:.2f} mm)")

    same = np.flatnonzero(steps < 1e-3)
    if same.size:
        raise DuplicateSliceError(
            f"two files at the same position: {where(same[0])}. The folder holds a slice "
            "twice, or two series share one SeriesInstanceUID (e.g. two reconstructions). "
            "Remove the duplicates or separate the series.")
    spacing = float(np.median(steps))
    tol = max(tolerance * spacing, 1e-4)
    odd = np.flatnonzero(np.abs(steps - spacing) > tol)
    if odd.size == 0:
        return spacing
    ratios = steps[odd] / spacing
    if np.all((ratios > 1.5) & (np.abs(ratios - np.round(ratios)) * spacing <= tol)):
        gaps = "; ".join(f"between {where(i)}: {steps[i]:.2f} mm, about {round(r) - 1} "
                         "slice(s) missing" for i, r in zip(odd, ratios, strict=True))
        raise MissingSliceError(
            f"slices are {spacing:.2f} mm apart, but there is a gap {gaps}. Copy the missing "
            "file(s) again from the source; a volume with a hole would put every slice "
            "beyond it at the wrong place.")
    found = Counter(np.round(steps, 2).tolist())
    listing = ", ".join(f"{s:.2f} mm ({n}x)" for s, n in sorted(found.items()))
    raise UnequalSpacingError(
        f"the slices are not equally spaced: steps of {listing}; it first changes between "
        f"{where(odd[0])}. A regular grid cannot represent this. Read the parts with equal "
        "spacing separately, or resample (e.g. SimpleITK reads it with a warning).")


def check_decoder(transfer_syntax, filename: str = "the file") -> None:
    """Raise :class:`MissingDecoderError` if pydicom cannot decode this transfer syntax."""
    from pydicom.pixels import get_decoder

    uid = UID(str(transfer_syntax))
    if not uid.is_compressed:
        return
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise MissingDecoderError(
            f"{filename} uses transfer syntax {uid.name} ({uid}), which pydicom cannot decode "
            "with any plugin. Convert it to uncompressed DICOM first (e.g. `gdcmconv --raw` or "
            "dcmtk's `dcmdjpeg`), or read it with SimpleITK.") from None
    if decoder.is_available:
        return
    packages = next((p for group, p in _DECODER_PACKAGES if uid in group),
                    " or ".join(decoder.missing_dependencies) or "a decoder plugin")
    raise MissingDecoderError(
        f"{filename} is compressed with {uid.name} ({uid}) and no decoder for it is installed. "
        f"Install {packages}: `pip install -r requirements.txt` in this project. pydicom's "
        f"plugins report: {'; '.join(decoder.missing_dependencies) or 'none'}.")


def _stored_pixels(ds) -> np.ndarray:
    """The stored integers of one slice, with a clear error if they are damaged."""
    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)))
    frames, samples = int(ds.get("NumberOfFrames") or 1), int(ds.get("SamplesPerPixel") or 1)
    if frames > 1 or samples > 1:
        raise DicomReadError(
            f"{_name(ds)} holds {frames} frame(s) of {samples} sample(s) per pixel: "
            "read_series reads single-frame greyscale slices. Read multi-frame files with "
            "SimpleITK.ReadImage.")
    check_decoder(syntax, _name(ds))
    if not syntax.is_compressed:
        needed = ds.Rows * ds.Columns * ds.BitsAllocated // 8
        if len(ds.PixelData) < needed:
            raise CorruptFileError(
                f"{_name(ds)} is truncated: {len(ds.PixelData)} bytes of pixel data where "
                f"{ds.Rows}x{ds.Columns} pixels need {needed}. Copy it again from the source.",
                Path(ds.filename))
    try:
        return ds.pixel_array
    except Exception as exc:
        raise CorruptFileError(
            f"the pixel data of {_name(ds)} could not be decoded ({type(exc).__name__}: {exc})"
            ". The file is probably truncated or damaged: copy it again from the source.",
            Path(ds.filename)) from exc


def _rescale(ds) -> tuple[float, float, list[str]]:
    """``(slope, intercept, names of tags that were missing)``."""
    missing = [k for k in ("RescaleSlope", "RescaleIntercept") if ds.get(k) in (None, "")]
    slope = 1.0 if "RescaleSlope" in missing else float(ds.RescaleSlope)
    intercept = 0.0 if "RescaleIntercept" in missing else float(ds.RescaleIntercept)
    return slope, intercept, missing


def _warn_assumed(missing_in: dict[str, list[str]], lowest: float) -> None:
    if not missing_in:
        return
    tags = sorted({t for tags in missing_in.values() for t in tags})
    example = next(iter(missing_in))
    warnings.warn(
        f"{len(missing_in)} file(s) (e.g. {example}) have no {' / '.join(tags)}: assumed slope "
        f"1 and intercept 0 where missing, i.e. that stored values are already HU. Check: air "
        f"is about -1000 HU, and the lowest value here is {lowest:.0f}.", DicomWarning,
        stacklevel=3)


def to_hu(ds, stored=None) -> np.ndarray:
    """Hounsfield units of one slice: ``stored * RescaleSlope + RescaleIntercept`` (float32).

    Missing rescale tags are assumed to be slope 1 / intercept 0, with a
    :class:`DicomWarning` that says so.
    """
    stored = _stored_pixels(ds) if stored is None else stored
    slope, intercept, missing = _rescale(ds)
    hu = np.asarray(stored, dtype=np.float32) * np.float32(slope) + np.float32(intercept)
    _warn_assumed({_name(ds): missing} if missing else {}, float(hu.min()))
    return hu


def read_series(folder, series_uid: str | None = None, *, allow_non_ct: bool = False,
                tolerance: float = 0.01) -> sitk.Image:
    """Read a folder of CT slices into a float32 ``SimpleITK.Image`` in HU.

    Steps: read every file (naming any that is damaged), pick the series (``series_uid``
    is required when the folder holds several), refuse non-CT unless ``allow_non_ct``,
    sort by position along the slice normal, check the spacing (``tolerance`` relative),
    decode the pixels (a clear error names the decoder package to install if missing),
    rescale to HU, and set origin, spacing and direction from the headers.
    """
    datasets = select_series(read_folder(folder), series_uid)
    check_modality(datasets, allow_non_ct)
    stack = sort_slices(datasets, tolerance)
    volume = np.empty((len(stack.datasets), stack.datasets[0].Rows, stack.datasets[0].Columns),
                      dtype=np.float32)
    missing_in = {}
    for k, ds in enumerate(stack.datasets):
        slope, intercept, missing = _rescale(ds)
        volume[k] = _stored_pixels(ds) * np.float32(slope) + np.float32(intercept)
        if missing:
            missing_in[_name(ds)] = missing
    _warn_assumed(missing_in, float(volume.min()))
    image = sitk.GetImageFromArray(volume)
    image.SetOrigin(stack.origin)
    image.SetSpacing(stack.spacing)
    image.SetDirection(stack.direction)
    return image


def slice_table(folder, series_uid: str | None = None):
    """A pandas table of the slices in file-name order, with their sorted rank and position."""
    import pandas as pd

    datasets = select_series(read_folder(folder), series_uid)
    stack = sort_slices(datasets)
    rank = {id(ds): k for k, ds in enumerate(stack.datasets)}
    normal = np.reshape(stack.direction, (3, 3))[:, 2]
    rows = [{"file": _name(ds), "InstanceNumber": ds.get("InstanceNumber"),
             "SliceLocation": ds.get("SliceLocation"),
             "position_along_normal_mm": float(_vector(ds, "ImagePositionPatient", 3) @ normal),
             "sorted_index": rank[id(ds)]} for ds in datasets]
    return pd.DataFrame(rows)
