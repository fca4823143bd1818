"""Read CT DICOM carefully: one file's header, and a whole series as a volume in HU.

Public API
----------
``read_series(folder, series_uid=None, *, assume_hu=False) -> SimpleITK.Image``
    A folder of CT slices as a float32 volume in Hounsfield units, with origin, spacing
    and direction taken from the headers. Slices are ordered by their position along the
    slice normal (never by file name or InstanceNumber) and checked for gaps. Files without
    RescaleSlope / RescaleIntercept are refused unless ``assume_hu=True`` says that their
    stored values are already HU; a file that looks like part of the series but cannot be
    read is an error naming it, wherever it sits in the series.
``describe(dataset, show_identifiers=False) -> str``
    The header fields that matter for reading a CT slice correctly, identifiers hidden.
``list_series(folder)``, ``slice_table(folder)``, ``sort_slices(datasets)``,
``check_spacing(positions)``, ``to_hu(dataset)``, ``check_decoder(transfer_syntax)``
    The steps of ``read_series``, public so the notebook can show (and tests can check) each.

Every problem with the input raises a :class:`DicomReadError` subclass whose message says
what was wrong, where (file names, positions in mm) and what to do. Source files are only
ever read. Modules, from the bottom up: :mod:`.errors` (one class per kind of bad input),
:mod:`.header` (the header summary), :mod:`.series` (files -> one series), :mod:`.stack`
(slice order and geometry) and :mod:`.read` (pixels -> HU volume).
"""
from .errors import (
    CorruptFileError,
    DicomReadError,
    DicomWarning,
    DuplicateSliceError,
    InconsistentSeriesError,
    MissingDecoderError,
    MissingRescaleError,
    MissingSliceError,
    MixedSeriesError,
    ModalityError,
    NoDicomFilesError,
    UnequalSpacingError,
)
from .header import IDENTIFYING, describe
from .read import check_decoder, read_series, slice_table, to_hu
from .series import (
    SeriesInfo,
    check_modality,
    group_series,
    list_series,
    read_folder,
    select_series,
)
from .stack import SliceStack, check_spacing, sort_slices

__all__ = ["IDENTIFYING", "CorruptFileError", "DicomReadError", "DicomWarning",
           "DuplicateSliceError", "InconsistentSeriesError", "MissingDecoderError",
           "MissingRescaleError", "MissingSliceError", "MixedSeriesError", "ModalityError",
           "NoDicomFilesError", "SeriesInfo", "SliceStack", "UnequalSpacingError", "check_decoder",
           "check_modality", "check_spacing", "describe", "group_series", "list_series",
           "read_folder", "read_series", "select_series", "slice_table", "sort_slices",
           "to_hu"]
