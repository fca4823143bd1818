"""Decode a series' pixels into Hounsfield units and build the volume (``read_series``).

A compressed transfer syntax needs a decoder plugin (:func:`check_decoder` names the package
to install); stored values become HU through RescaleSlope and RescaleIntercept (:func:`to_hu`).
Without those tags the stored values are not known to be HU: that is an error
(:class:`MissingRescaleError`) unless ``assume_hu=True`` says they are.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from .errors import (
    CorruptFileError,
    DicomReadError,
    DicomWarning,
    MissingDecoderError,
    MissingRescaleError,
)
from .series import check_modality, file_name, read_folder, select_series
from .stack import header_vector, sort_slices

_DECODER_PACKAGES = [
    (JPEG2000TransferSyntaxes, "pylibjpeg and pylibjpeg-openjpeg (pinned in requirements.txt), "
                               "or python-gdcm"),
    (JPEGLSTransferSyntaxes, "pylibjpeg and pylibjpeg-libjpeg, or pyjpegls, or python-gdcm"),
    (JPEGTransferSyntaxes, "pylibjpeg and pylibjpeg-libjpeg, or python-gdcm"),
]


def check_decoder(transfer_syntax, filename: str = "the file") -> None:
    """Raise :class:`MissingDecoderError` if pydicom cannot decode this transfer syntax."""
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
            f"{file_name(ds)} holds {frames} frame(s) of {samples} sample(s) per pixel: "
            "read_series reads single-frame greyscale slices. Read multi-frame files with "
            "SimpleITK.ReadImage.")
    check_decoder(syntax, file_name(ds))
    if not syntax.is_compressed:
        needed = ds.Rows * ds.Columns * ds.BitsAllocated // 8
        if len(ds.PixelData) < needed:
            raise CorruptFileError(
                f"{file_name(ds)} is truncated: {len(ds.PixelData)} bytes of pixel data where "
                f"{ds.Rows}x{ds.Columns} pixels need {needed}. Copy it again from the source.",
                Path(ds.filename))
    try:
        return ds.pixel_array
    except Exception as exc:
        raise CorruptFileError(
            f"the pixel data of {file_name(ds)} could not be decoded ({type(exc).__name__}: {exc})"
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


def _refuse_missing(missing_in: dict[str, list[str]], total: int, lowest: float) -> None:
    """Raise :class:`MissingRescaleError`: the stored values may well not be HU."""
    tags = sorted({t for tags in missing_in.values() for t in tags})
    example = next(iter(missing_in))
    raise MissingRescaleError(
        f"{len(missing_in)} of {total} file(s) (e.g. {example}) have no {' / '.join(tags)}, so "
        "their stored values cannot be turned into Hounsfield units (the lowest stored value "
        f"in {example} is {lowest:.0f}; air is about -1000 HU). Taking them as HU could give "
        "wrong values with no error. If you know the stored values are already HU, pass "
        "assume_hu=True (slope 1 and intercept 0 are then used where missing); otherwise "
        "export the series again with its rescale tags.")


def to_hu(ds, stored=None, *, assume_hu: bool = False) -> np.ndarray:
    """Hounsfield units of one slice: ``stored * RescaleSlope + RescaleIntercept`` (float32).

    Missing rescale tags raise :class:`MissingRescaleError`, unless ``assume_hu=True`` says
    that the stored values are already HU: then slope 1 / intercept 0 are used where missing,
    with a :class:`DicomWarning` that says so.
    """
    stored = _stored_pixels(ds) if stored is None else stored
    slope, intercept, missing = _rescale(ds)
    if missing and not assume_hu:
        _refuse_missing({file_name(ds): missing}, 1, float(np.min(stored)))
    hu = np.asarray(stored, dtype=np.float32) * np.float32(slope) + np.float32(intercept)
    _warn_assumed({file_name(ds): missing} if missing else {}, float(hu.min()))
    return hu


def read_series(folder, series_uid: str | None = None, *, allow_non_ct: bool = False,
                tolerance: float = 0.01, assume_hu: bool = False) -> sitk.Image:
    """Read a folder of CT slices into a float32 ``SimpleITK.Image`` in HU.

    Steps: read every file (naming any that is damaged, wherever it sits in the series;
    other files are skipped with a warning), pick the series (``series_uid`` is required
    when the folder holds several), refuse non-CT unless ``allow_non_ct``, sort by position
    along the slice normal, check the spacing (``tolerance`` relative), decode the pixels (a
    clear error names the decoder package to install if missing), rescale to HU, and set
    origin, spacing and direction from the headers. Files without RescaleSlope /
    RescaleIntercept raise :class:`MissingRescaleError` unless ``assume_hu=True`` (you know
    the stored values are already HU: slope 1 and intercept 0 are used, with a warning).
    """
    datasets = select_series(read_folder(folder), series_uid)
    check_modality(datasets, allow_non_ct)
    stack = sort_slices(datasets, tolerance)
    lacking = [ds for ds in stack.datasets if _rescale(ds)[2]]
    if lacking and not assume_hu:
        _refuse_missing({file_name(ds): _rescale(ds)[2] for ds in lacking},
                        len(stack.datasets), float(_stored_pixels(lacking[0]).min()))
    volume = np.empty((len(stack.datasets), stack.datasets[0].Rows, stack.datasets[0].Columns),
                      dtype=np.float32)
    missing_in = {}
    for k, ds in enumerate(stack.datasets):
        slope, intercept, missing = _rescale(ds)
        volume[k] = _stored_pixels(ds) * np.float32(slope) + np.float32(intercept)
        if missing:
            missing_in[file_name(ds)] = missing
    _warn_assumed(missing_in, float(volume.min()))
    image = sitk.GetImageFromArray(volume)
    image.SetOrigin(stack.origin)
    image.SetSpacing(stack.spacing)
    image.SetDirection(stack.direction)
    return image


def slice_table(folder, series_uid: str | None = None):
    """A pandas table of the slices in file-name order, with their sorted rank and position."""
    datasets = select_series(read_folder(folder), series_uid)
    stack = sort_slices(datasets)
    rank = {id(ds): k for k, ds in enumerate(stack.datasets)}
    normal = np.reshape(stack.direction, (3, 3))[:, 2]
    rows = [{"file": file_name(ds), "InstanceNumber": ds.get("InstanceNumber"),
             "SliceLocation": ds.get("SliceLocation"),
             "position_along_normal_mm": float(
                 header_vector(ds, "ImagePositionPatient", 3) @ normal),
             "sorted_index": rank[id(ds)]} for ds in datasets]
    return pd.DataFrame(rows)

