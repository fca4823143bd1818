"""Find the DICOM image files in a folder and pick one CT series out of them.

:func:`read_folder` reads every file (naming any that is damaged, also one whose header is so
damaged that it no longer looks like DICOM; skipping, with a warning, what is not an image),
:func:`group_series` and :func:`list_series` sort them by SeriesInstanceUID,
:func:`select_series` picks one (a clear error when the choice is ambiguous) and
:func:`check_modality` refuses what is not CT. Source files are only ever read.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from ..cache import kept_aside_original
from .errors import (
    CorruptFileError,
    DicomWarning,
    MixedSeriesError,
    ModalityError,
    NoDicomFilesError,
)


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


def file_name(ds) -> str:
    return Path(getattr(ds, "filename", "") or "<in memory>").name


# A file that is not DICOM is still taken for part of the series (and so an error, not a
# silent skip) when it has a DICOM-like name, holds the series' UID in its first bytes, or has
# the series' files' suffix and about their size.
DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ".ima"}
UID_SEARCH_BYTES = 1 << 20


def _read_file(path: Path):
    """``(dataset, None)`` for a DICOM image; ``(None, why)`` for a file that is skipped: "not
    DICOM" (no 'DICM' marker) or "not an image" (a report or structure set)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
    except InvalidDicomError:
        return None, "not DICOM"
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
            return None, "not an image"  # a report or structure set: not part of a volume
        raise CorruptFileError(
            f"{path.name} has a DICOM header but no pixel data ({path.stat().st_size} bytes): "
            "it is probably truncated. Copy it again from the source, or move it out of "
            f"{path.parent}.", path)
    return ds, None


def _why_part_of_series(path: Path, datasets) -> str | None:
    """Why a file that is not readable as DICOM looks like one of the series' files (its
    name, the series' UID inside it, or its suffix and size), or None."""
    files = [Path(ds.filename) for ds in datasets]
    suffixes = {f.suffix.lower() for f in files}
    if path.suffix.lower() in DICOM_SUFFIXES:
        return f"is named like a DICOM file ({path.suffix})"
    with open(path, "rb") as handle:
        head = handle.read(UID_SEARCH_BYTES)
    uids = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets} - {""}
    if any(uid.encode() in head for uid in uids):
        return "holds the series' SeriesInstanceUID"
    sizes = sorted(f.stat().st_size for f in files)
    typical = sizes[len(sizes) // 2]
    if path.suffix.lower() in suffixes and 0.5 * typical <= path.stat().st_size <= 1.5 * typical:
        return (f"has the series' files' suffix ({path.suffix or 'none'}) and about their size "
                f"({path.stat().st_size} bytes)")
    return None


def _check_skipped(skipped: dict[Path, str], datasets, folder: Path) -> None:
    """Refuse a skipped file that looks like part of the series (it would be lost without a
    word, or leave a gap); warn about the others, so no file is dropped silently."""
    for path, why in skipped.items():
        looks = why == "not DICOM" and _why_part_of_series(path, datasets)
        if looks:
            raise CorruptFileError(
                f"{path.name} {looks}, but it cannot be read as DICOM: its header is damaged "
                "or missing (no 'DICM' marker after the 128-byte preamble), and left out, the "
                "volume would quietly lack a slice. Copy it again from the source, or move it "
                f"out of {folder} if it does not belong to the series.", path)
    if skipped:
        listing = ", ".join(f"{p.name} ({why})" for p, why in list(skipped.items())[:5])
        warnings.warn(f"skipped {len(skipped)} file(s) in {folder.name} that are not DICOM "
                      f"images: {listing}{' ...' if len(skipped) > 5 else ''}. Read "
                      f"{len(datasets)} DICOM image file(s).", DicomWarning, stacklevel=3)


def _check_kept_aside(folder: Path) -> None:
    """Refuse a folder where helpers.data kept a damaged file aside (renamed, hidden) and no
    good copy has replaced it yet: the series lacks that file, and without this check a
    missing end slice would go unnoticed. Once the good copy is back, the old one is ignored."""
    kept = sorted(p.name for p in folder.iterdir() if kept_aside_original(p.name)
                  and not (folder / kept_aside_original(p.name)).exists())
    if kept:
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        raise CorruptFileError(
            f"{kept_aside_original(kept[0])} of this series was damaged and is kept aside as "
            f"{kept[0]}{more}, so the series lacks it. Get a good copy: run `python3 run.py "
            "prefetch` (or set PLAINCT_MIRROR) and fetch the sample again, then delete the "
            f"kept-aside file; or move it out of {folder} if the series is complete without "
            "it.", folder / kept[0])


def read_folder(folder) -> list:
    """Every DICOM image dataset in a folder (not recursive). A file that cannot be read but
    looks like part of the series raises :class:`CorruptFileError` naming it; other files
    (notes, reports) are skipped with a :class:`DicomWarning` that names them. A damaged file
    that helpers.data kept aside here (``.<name>.corrupt-<time>``) raises
    :class:`CorruptFileError` too: the series lacks it."""
    folder = Path(folder)
    if folder.is_file():
        raise NoDicomFilesError(f"{folder} is a file, not a folder. Pass the folder that holds "
                                "the series, or read one file with pydicom.dcmread().")
    if not folder.is_dir():
        raise NoDicomFilesError(f"the folder {folder} does not exist. Check the path "
                                "(for the course data use helpers.data.fetch(name)).")
    _check_kept_aside(folder)
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name != "DICOMDIR")
    found = {path: _read_file(path) for path in paths}
    datasets = [ds for ds, _ in found.values() if ds is not None]
    if not datasets:
        seen = ": " + ", ".join(p.name for p in paths[:5]) if paths else ""
        seen += " ..." if len(paths) > 5 else ""
        raise NoDicomFilesError(
            f"no DICOM image files in {folder} (looked at {len(paths)} file(s){seen}). DICOM "
            "files start with a 128-byte preamble and 'DICM'; check that you "
            "picked the folder of the series itself, not its parent.")
    _check_skipped({p: why for p, (ds, why) in found.items() if ds is None}, datasets, folder)
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
    message = (f"the series is not (only) CT: modality {what}, e.g. {file_name(other)}. Only CT "
               "values are Hounsfield units")
    if not allow_non_ct:
        raise ModalityError(message + "; read_series refuses it. Pass allow_non_ct=True to "
                            "read the rescaled values anyway (they will not be HU).")
    warnings.warn(message + "; read anyway (allow_non_ct=True): the values are NOT HU.",
                  DicomWarning, stacklevel=3)

