"""The errors and warnings of :mod:`helpers.dicom`, one class per kind of bad input.

Each message says what was wrong, where (file names, positions in mm) and what to do, so a
student can fix the input rather than decode a library's traceback.
"""

from __future__ import annotations

from pathlib import Path


class DicomReadError(Exception):
    """A DICOM folder or file cannot become a correct volume; the message says what to do."""


class NoDicomFilesError(DicomReadError):
    """The folder does not exist or holds no DICOM image files."""


class MixedSeriesError(DicomReadError):
    """The folder holds more than one series; ``.series`` lists them."""

    def __init__(self, message: str, series: list):
        super().__init__(message)
        self.series = series


class CorruptFileError(DicomReadError):
    """A file is truncated or damaged; ``.path`` names it."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


class DuplicateSliceError(DicomReadError):
    """Two files sit at the same position along the slice normal."""


class MissingSliceError(DicomReadError):
    """The slice positions have a gap: one or more slices are missing."""


class UnequalSpacingError(DicomReadError):
    """Slices are not equally spaced, so they do not form a regular grid."""


class InconsistentSeriesError(DicomReadError):
    """Slices disagree on size, pixel spacing or orientation, or the stack is sheared."""


class ModalityError(DicomReadError):
    """The series is not CT, so its values are not Hounsfield units."""


class MissingDecoderError(DicomReadError):
    """The pixels are compressed and no decoder for that transfer syntax is installed."""


class MissingRescaleError(DicomReadError):
    """RescaleSlope or RescaleIntercept is missing, so the stored values are not known to be
    HU (pass ``assume_hu=True`` if they are)."""


class DicomWarning(UserWarning):
    """Something was assumed while reading (the message says what)."""


