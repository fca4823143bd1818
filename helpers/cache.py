"""The series' one on-disk cache: plain arrays under a key hashed over every setting.

Virtual patients, training tables, stage 3's lesion rows and the registration study are slow
to build and fast to read, so each is stored once as an ``.npz`` file of plain arrays:

* **keyed**: :func:`settings_key` hashes (SHA-256) every setting and version that changes the
  arrays, and the key is stored inside the file too, so a file is only ever read back for
  exactly the settings that made it;
* **atomic**: :func:`atomic_write` writes a temporary file beside the target and renames it
  into place, so an interrupted run never leaves a half-written file under a real name;
* **tidy**: a run killed mid-write leaves its temporary ``.part`` file behind; every write
  first removes such leftovers of the project's own naming pattern that are over an hour old
  (:func:`clean_stale_parts`), and nothing else;
* **keeps what it cannot replace**: a damaged downloaded file that no good copy can replace
  is renamed with :data:`KEPT_ASIDE_MARK` (by :mod:`helpers.data`), never deleted, and
  :func:`helpers.dicom.read_series` names such a file rather than read a series without it;
* **safe**: :func:`read_arrays` uses ``allow_pickle=False``, so a cache file can never run
  code; nothing here unpickles.

:func:`load_or_build` is the one way the series uses it: read the file when it is good, else
build, store and return. A damaged or foreign file is ignored with a warning and rebuilt; an
unwritable cache only costs the speed-up. The folder is ``$PLAINCT_DATA`` if set, else
``data_samples/cache/`` in the repository (:func:`cache_dir`); the downloaded CT samples of
:mod:`helpers.data` live there too and use :func:`atomic_write` as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .cache_layout import PART_NAME, cache_dir  # noqa: F401 (the layout's names, used here)

# A damaged file is refused by any of these (np.load, a missing key, a truncated zip).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile)
QUIET_VARIABLE = "PLAINCT_QUIET"  # set to 1: no progress bars even while a cache is built


def show_build_progress(progress: bool = False) -> bool:
    """Whether a cache that is being *built* shows a progress bar: always, unless the
    environment variable ``PLAINCT_QUIET`` is set (a build takes seconds to minutes, and a
    silent one looks stuck); ``progress=True`` forces it. Reading a cache shows none."""
    return bool(progress) or not os.environ.get(QUIET_VARIABLE)


STALE_PART_S = 3600.0  # a temporary file untouched this long belongs to a killed run
# A damaged file that no good copy could replace is renamed "<name>.corrupt-<time>" (hidden,
# ".<name>.corrupt-<time>", inside a series folder), never deleted: it may be a user's only
# copy. Readers look for this mark so that the file's absence is never silent.
KEPT_ASIDE_MARK = ".corrupt-"


def kept_aside_original(name: str) -> str | None:
    """The original name of a file kept aside under ``name`` (see :data:`KEPT_ASIDE_MARK`),
    or None when ``name`` is not such a file."""
    if KEPT_ASIDE_MARK not in name:
        return None
    return name.split(KEPT_ASIDE_MARK)[0].removeprefix(".")


def part_prefix(target: Path) -> str:
    """The prefix of the temporary names made beside ``target`` (suffix ``.part``)."""
    return f".{Path(target).name[:40]}."


def settings_key(settings: dict) -> str:
    """SHA-256 (hex) of ``settings`` as canonical JSON (sorted keys; other objects as str)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _newest_change(path: Path) -> float:
    """The latest modification time of a file, or of a folder and everything in it."""
    times = [path.lstat().st_mtime]
    if path.is_dir() and not path.is_symlink():
        times += [p.lstat().st_mtime for p in path.rglob("*")]
    return max(times)


def clean_stale_parts(folder: Path, max_age_s: float = STALE_PART_S) -> list[Path]:
    """Remove the temporary files and folders this project's writes and downloads left in
    ``folder`` (names matching :data:`PART_NAME`) untouched for over ``max_age_s`` seconds:
    leftovers of killed runs. Anything else, and a fresh one (a write still running), is
    left alone. Returns what was removed; a leftover that cannot be removed is skipped."""
    removed, now = [], time.time()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        if not PART_NAME.match(path.name):
            continue
        try:
            if now - _newest_change(path) < max_age_s:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            continue
    return removed


def atomic_write(target: Path, write, check=None) -> Path:
    """Write ``target`` through ``write(handle)`` into a temporary file beside it, call
    ``check(temporary_path)`` (which may raise to refuse the content), then rename it into
    place. The temporary file is removed whatever happens; stale ones that killed runs left
    beside it are removed first (:func:`clean_stale_parts`)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target.parent)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=part_prefix(target),
                                suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        if check is not None:
            check(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_arrays(path: Path, key: str, arrays: dict) -> None:
    """Store ``key`` and ``arrays`` (name -> array) at ``path`` atomically, compressed."""
    if "key" in arrays:
        raise ValueError("'key' is reserved for the settings key; rename that array")
    atomic_write(path, lambda handle: np.savez_compressed(handle, key=np.str_(key), **arrays))


def read_arrays(path: Path, key: str, names=None) -> dict:
    """The arrays ``names`` (default: all) of a file :func:`write_arrays` made for ``key``,
    read with ``allow_pickle=False``. Raises ValueError for a file of other settings (and one
    of :data:`UNREADABLE` for a damaged file)."""
    with np.load(path, allow_pickle=False) as stored:
        if str(stored["key"]) != key:
            raise ValueError("it was made with other settings")
        names = [n for n in stored.files if n != "key"] if names is None else names
        return {name: stored[name] for name in names}


def load_or_build(path: Path, key: str, build, to_arrays=None, from_arrays=None,
                  what: str = "cache file", use_cache: bool = True):
    """The cached result for ``key`` at ``path``, else ``build()`` (then stored).

    ``to_arrays(result) -> dict`` and ``from_arrays(dict) -> result`` translate between the
    result and plain arrays (default: the result is the dict of arrays itself);
    ``from_arrays`` may raise ValueError for arrays that do not fit together. A file that
    cannot be used is ignored with a warning naming ``what``; ``use_cache=False`` neither
    reads nor writes.
    """
    to_arrays = to_arrays or (lambda result: result)
    from_arrays = from_arrays or (lambda arrays: arrays)
    path = Path(path)
    if use_cache and path.is_file():
        try:
            return from_arrays(read_arrays(path, key))
        except UNREADABLE as exc:
            warnings.warn(f"ignoring the {what} {path.name} ({exc}); rebuilding it",
                          stacklevel=2)
    result = build()
    if use_cache:
        try:
            write_arrays(path, key, to_arrays(result))
        except OSError as exc:
            warnings.warn(f"could not write the {what} in {path.parent} ({exc}); set "
                          "PLAINCT_DATA to a writable folder to keep it between runs",
                          stacklevel=2)
    return result
