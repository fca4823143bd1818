"""Get the series' real CT samples: from the cache, a mirror, or their public URL.

Public API
----------
``fetch(name) -> Path``
    A verified local copy of a sample (a folder for the DICOM series).
``load_ct(name) -> SimpleITK.Image``
    A CT in Hounsfield units (float32).
``load_labels(name) -> (SimpleITK.Image, dict[int, str])``
    The TotalSegmentator label map and its id -> structure-name table.
``python -m helpers.data prefetch | verify | list`` (``python3 run.py prefetch`` and
``python3 run.py verify`` call it)
    Download everything for an offline classroom; check every sample; show status.

Look-up order for each file: the cache (``data_samples/cache/`` or ``$PLAINCT_DATA``),
then the mirror named by ``$PLAINCT_MIRROR`` (a local folder laid out like
``../shared/public_ct/`` or a base URL), then the pinned public URL (skipped when
``$PLAINCT_OFFLINE=1``). Every file is checked against its SHA-256 before use. Files in
a mirror are only ever read. Writes into the cache are atomic: a file appears under its
final name only after its checksum matched; temporary files that killed fetches left behind
are removed once they are an hour old. A damaged file in the cache is replaced by a good
copy, or, when none can be had, kept aside under ``<name>.corrupt-<time>`` (never deleted).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pooch
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from tqdm.auto import tqdm

from .. import cache
from ..cache import (
    atomic_write,
    cache_dir,
    clean_stale_parts,
    part_prefix,
)
from .registry import SAMPLES, Sample, SampleFile
from .totalseg_labels import LABELS, SOURCE

FIX_HINT = (
    "To get the data, either run `python3 run.py prefetch` on a computer with internet and "
    "copy its data_samples/cache/ folder here (or point PLAINCT_DATA at the copy), or set "
    "PLAINCT_MIRROR to a folder or web address where your teacher keeps the samples (e.g. "
    "export PLAINCT_MIRROR=/media/class/plainct)."
)


class DataError(RuntimeError):
    """A sample could not be provided; the message says why and what to do."""


class UnknownSampleError(DataError, LookupError):
    """The name is not in the registry."""


class ChecksumError(DataError):
    """A file's SHA-256 does not match the registry."""


def sample(name: str) -> Sample:
    """The registry entry for ``name``, or a clear error listing the known names."""
    try:
        return SAMPLES[name]
    except KeyError:
        known = ", ".join(sorted(SAMPLES))
        raise UnknownSampleError(f"unknown sample {name!r}. Known samples: {known}") from None


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "file://"))


def _writable_cache(target: Path) -> None:
    """Make the target's folder, or explain that the cache is not writable."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        if cache.is_disk_full(exc):
            raise DataError(cache.disk_full_message(target.parent, "room for a file",
                                                    target.name)) from exc
        raise DataError(
            f"the data cache folder {target.parent} is not writable ({exc.strerror}). "
            "Set PLAINCT_DATA to a folder you can write to (e.g. export "
            "PLAINCT_DATA=~/plainct-data), or fix the folder's permissions."
        ) from exc


def _atomic_write(target: Path, expected_sha: str, write, size: int | None = None) -> None:
    """Write via ``write(handle)`` into a temporary file, verify, rename (``size``: bytes)."""
    _writable_cache(target)

    def verify(tmp: Path) -> None:
        found = sha256_of(tmp)
        if found != expected_sha:
            raise ChecksumError(
                f"the copy of {target.name} does not match its SHA-256 "
                f"(expected {expected_sha}, found {found}); nothing was saved."
            )

    atomic_write(target, write, verify, size and f"about {cache.size_text(size)}", target.name)


def _from_mirror_folder(mirror: Path, entry: SampleFile, target: Path, problems: list[str]):
    source = mirror / entry.path
    if not source.is_file():
        problems.append(f"the mirror {mirror} has no file {entry.path}")
        return None
    found = sha256_of(source)
    if found != entry.sha256:
        problems.append(
            f"the mirror's file {source} does not match its SHA-256 (expected "
            f"{entry.sha256}, found {found}); it was left untouched: replace it with a good copy"
        )
        return None
    with open(source, "rb") as src:
        _atomic_write(target, entry.sha256, lambda out: shutil.copyfileobj(src, out),
                      source.stat().st_size)
    return target


def _download(url: str, entry: SampleFile, target: Path, progress: bool, problems: list[str]):
    """Download through pooch into a temporary ``.part`` folder beside ``target`` (so a
    killed download leaves only a name :func:`helpers.cache.clean_stale_parts` knows), then
    rename the verified file into place."""
    pooch.get_logger().setLevel("WARNING")
    _writable_cache(target)
    clean_stale_parts(target.parent)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=part_prefix(target),
                                    suffix=".part"))
    try:
        got = pooch.retrieve(
            url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=staging,
            progressbar=progress,
            downloader=pooch.HTTPDownloader(progressbar=progress, timeout=30),
        )
        os.replace(got, target)
    except ValueError as exc:  # pooch's checksum mismatch; it has removed the partial file
        problems.append(f"the download from {url} did not match its SHA-256 ({exc})")
        return None
    except Exception as exc:  # network errors come from requests, urllib or the OS
        if cache.is_disk_full(exc):  # staging is removed below: nothing partial stays
            needed = f"more than the {cache.size_text(cache.bytes_in(staging))} downloaded"
            raise DataError(cache.disk_full_message(target.parent, needed, target.name)) from exc
        problems.append(f"downloading {url} failed ({type(exc).__name__}: {exc})")
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _label_table_bytes() -> bytes:
    """The label-table sample, rebuilt from totalseg_labels.py exactly as published."""
    table = {"source": SOURCE, "labels": {str(k): v for k, v in LABELS.items()}}
    return json.dumps(table, indent=1).encode()


def _rebuild_label_table(entry: SampleFile, target: Path):
    data = _label_table_bytes()
    _atomic_write(target, entry.sha256, lambda out: out.write(data))
    return target


def _bundled_pydicom_file(entry: SampleFile) -> Path:
    path = Path(get_testdata_file(entry.path))
    found = sha256_of(path)
    if found != entry.sha256:
        raise ChecksumError(
            f"pydicom's bundled {entry.path} ({path}) does not match its SHA-256 (expected "
            f"{entry.sha256}, found {found}). Reinstall the pinned pydicom from requirements.txt."
        )
    return path


def _damaged_cached_file(target: Path, entry: SampleFile, problems: list[str]) -> str | None:
    """The SHA-256 of a cached file that does not match (warned about and noted in
    ``problems``; it stays in place until a good copy replaces it), else None."""
    found = sha256_of(target)
    if found == entry.sha256:
        return None
    note = (f"the cached file {target} does not match its SHA-256 (expected {entry.sha256}, "
            f"found {found}): it was refused")
    warnings.warn(note + "; fetching a fresh copy (a good copy will replace it).", stacklevel=4)
    problems.append(note)
    return found


def _keep_aside(target: Path, damaged_sha: str, in_folder: bool) -> str:
    """Rename a damaged cached file that no good copy could replace, so that it is neither
    used nor lost (it may be a user's only copy); say where it went. A file of a sample
    folder (the DICOM series) gets a hidden name, so that reading the series skips it."""
    if not target.is_file() or sha256_of(target) != damaged_sha:
        return f"{target} was changed meanwhile (by another process?); it was left as it is"
    aside = cache.aside_name(target, hidden=in_folder)
    try:
        os.replace(target, aside)
    except OSError as exc:
        return (f"the damaged file could not be kept aside ({exc.strerror}); it was left in "
                f"place as {target} (delete or replace it by hand)")
    return (f"the damaged file was not deleted: it was kept aside as {aside} (delete it once "
            "you have a good copy)")


def _fetch_file(item: Sample, entry: SampleFile, progress: bool) -> Path:
    if item.kind == "dicom-file":
        return _bundled_pydicom_file(entry)
    target = cache_dir() / entry.path
    problems: list[str] = []
    damaged = _damaged_cached_file(target, entry, problems) if target.is_file() else None
    if target.is_file() and damaged is None:
        return target
    got = _fetch_fresh(item, entry, target, progress, problems)
    if got:
        return got
    if damaged is not None:  # no good copy replaced it: keep it, out of the way
        problems.append(_keep_aside(target, damaged, item.folder is not None))
    raise DataError(f"could not get {entry.path} (sample {item.name!r}):\n  - "
                    + "\n  - ".join(problems) + "\n" + FIX_HINT)


def _fetch_fresh(item: Sample, entry: SampleFile, target: Path, progress: bool,
                 problems: list[str]) -> Path | None:
    """A verified copy of ``entry`` at ``target`` from the mirror, a rebuild or the URL, or
    None (with the reasons added to ``problems``) when none can be had."""
    mirror = os.environ.get("PLAINCT_MIRROR", "").strip()
    if mirror and _is_url(mirror):
        got = _download(f"{mirror.rstrip('/')}/{entry.path}", entry, target, progress, problems)
        if got:
            return got
    elif mirror:
        folder = Path(mirror).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"PLAINCT_MIRROR is set to {mirror!r}, which is not an existing folder. "
                "Correct the path (it should hold files like totalsegmentator_example_ct_sm"
                ".nii.gz), or unset PLAINCT_MIRROR to use the cache and the internet."
            )
        got = _from_mirror_folder(folder, entry, target, problems)
        if got:
            return got

    if item.kind == "table":
        return _rebuild_label_table(entry, target)
    if os.environ.get("PLAINCT_OFFLINE") == "1":
        problems.append("downloads are switched off (PLAINCT_OFFLINE=1)")
    elif entry.url:
        got = _download(entry.url, entry, target, progress, problems)
        if got:
            return got
    if not mirror:
        problems.append("PLAINCT_MIRROR is not set")
    return None


def fetch(name: str, progress: bool = False) -> Path:
    """Return a verified local path for sample ``name``.

    A single-file sample gives the file; the DICOM series gives its folder. Files come
    from the cache, else ``$PLAINCT_MIRROR``, else the pinned public URL, and each one is
    checked against its SHA-256 first. Raises :class:`DataError` (with what to do) when a
    file cannot be had, and :class:`UnknownSampleError` for a name not in the registry.
    """
    item = sample(name)
    try:
        paths = [_fetch_file(item, entry, progress) for entry in item.files]
    except cache.DiskFullError as exc:  # one kind of error for every way a fetch fails
        raise DataError(str(exc)) from exc
    return cache_dir() / item.folder if item.folder else paths[0]


def load_ct(name: str = "totalsegmentator_example_ct_sm"):
    """Load a CT sample as a float32 ``SimpleITK.Image`` in Hounsfield units.

    NIfTI samples are stored in HU already; DICOM samples are rescaled with their
    RescaleSlope/RescaleIntercept by SimpleITK's reader.
    """
    item = sample(name)
    path = fetch(name)
    if item.kind == "ct" or item.kind == "dicom-file":
        return sitk.ReadImage(str(path), sitk.sitkFloat32)
    if item.kind == "dicom-series":
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path)))
        return sitk.Cast(reader.Execute(), sitk.sitkFloat32)
    raise DataError(f"sample {name!r} is a {item.kind}, not a CT. Use load_labels() for labels.")


def load_labels(name: str = "totalsegmentator_example_seg"):
    """Load a TotalSegmentator label map and its table: ``(image, {id: structure name})``.

    The image is an 8-bit ``SimpleITK.Image`` on the same grid as its CT; the table has
    all 117 classes of the ``total`` class map, whether or not they occur in this image.
    """
    item = sample(name)
    if item.kind != "labels":
        raise DataError(f"sample {name!r} is a {item.kind}, not a label map. "
                        "Label maps: " + ", ".join(n for n, s in SAMPLES.items()
                                                   if s.kind == "labels"))
    image = sitk.ReadImage(str(fetch(name)), sitk.sitkUInt8)
    table = json.loads(fetch("totalsegmentator_total_labels").read_text())
    return image, {int(k): v for k, v in table["labels"].items()}


def status(name: str) -> str:
    """Where a sample would come from right now, without downloading anything.

    One of ``"bundled"``, ``"cached"``, ``"mirror"``, ``"rebuilt locally"`` or
    ``"download needed"``.
    """
    item = sample(name)
    if item.kind == "dicom-file":
        return "bundled"
    if all((cache_dir() / f.path).is_file() for f in item.files):
        return "cached"
    mirror = os.environ.get("PLAINCT_MIRROR", "")
    if mirror and not _is_url(mirror) and all((Path(mirror) / f.path).is_file()
                                              for f in item.files):
        return "mirror"
    return "rebuilt locally" if item.kind == "table" else "download needed"


def verify() -> list[str]:
    """Check that every sample can be had from the cache or the mirror with the right SHA-256.

    Nothing is downloaded or written. Returns one line per problem (empty when all is well):
    one per sample with missing files, one per file with a wrong checksum.
    """
    problems, missing = [], {}
    mirror = os.environ.get("PLAINCT_MIRROR", "").strip()
    mirror_dir = Path(mirror).expanduser() if mirror and not _is_url(mirror) else None
    if mirror_dir is not None and not mirror_dir.is_dir():
        problems.append(f"PLAINCT_MIRROR={mirror!r} is not an existing folder")
        mirror_dir = None
    for item in SAMPLES.values():
        for entry in item.files:
            if item.kind == "dicom-file":
                try:
                    _bundled_pydicom_file(entry)
                except DataError as exc:
                    problems.append(f"{item.name}: {exc}")
                continue
            if item.kind == "table":
                rebuilt = hashlib.sha256(_label_table_bytes()).hexdigest()
                if rebuilt != entry.sha256:
                    problems.append(f"{item.name}: the built-in table no longer matches its "
                                    f"SHA-256 (expected {entry.sha256}, rebuilt {rebuilt})")
                continue
            places = [cache_dir() / entry.path]
            if mirror_dir is not None:
                places.append(mirror_dir / entry.path)
            found = [(p, sha256_of(p)) for p in places if p.is_file()]
            if any(sha == entry.sha256 for _, sha in found):
                continue
            if found:
                bad = ", ".join(f"{p} (found {sha[:12]}...)" for p, sha in found)
                problems.append(f"{item.name}: {entry.path} has the wrong SHA-256 in {bad}; "
                                f"expected {entry.sha256}")
            else:
                missing[item.name] = missing.get(item.name, 0) + 1
    where = "the cache" + (" or the mirror" if mirror_dir else " (no mirror is set)")
    for name, count in missing.items():
        files = len(SAMPLES[name].files)
        what = "missing" if count == files else f"{count} of {files} files missing"
        problems.append(f"{name}: {what}: not in {where}")
    return problems


def prefetch(progress: bool = True) -> list[Path]:
    """Fetch every sample into the cache (for an offline classroom), with a progress bar."""
    return [fetch(name, progress=False) for name in tqdm(SAMPLES, desc="samples",
                                                          disable=not progress)]
