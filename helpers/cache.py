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
build, store and return. Every way a file can fail to read (a torn or truncated file, a
missing member, an array of the wrong kind) is one kind, :class:`DamagedCacheFile`: the file is
kept aside (:func:`keep_aside`) and rebuilt, with a warning. A file of other settings is
rebuilt. An unwritable cache only costs the speed-up; a full disk says so
(:class:`DiskFullError`: which folder, how much space, what to do). The folder is
``$PLAINCT_DATA`` if set, else ``data_samples/cache/`` in the repository (:func:`cache_dir`);
the downloaded CT samples of :mod:`helpers.data` live there too and use :func:`atomic_write`
as well.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .cache_layout import PART_NAME, cache_dir  # noqa: F401 (the layout's names, used here)

# A damaged file is refused by any of these (np.load, a missing key, a truncated zip, a block
# torn inside a compressed member: zlib.error, which is none of the others).
UNREADABLE = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error)
# What a cache file may hold: booleans, numbers and text. Anything else (object, structured or
# void arrays) was not written by write_arrays, so the file is damaged or foreign.
PLAIN_KINDS = "biufcUS"
QUIET_VARIABLE = "PLAINCT_QUIET"  # set to 1: no progress bars even while a cache is built


class DamagedCacheFile(ValueError):
    """A cache file that cannot be read back (torn, truncated, a member missing or of the wrong
    kind): :func:`load_or_build` keeps it aside and rebuilds it."""


class OtherSettingsError(ValueError):
    """A readable cache file made for other settings (its stored key differs)."""


class DiskFullError(OSError):
    """A write met a full disk (ENOSPC); the message names the folder, the space the step
    needs and what to do. Nothing partial is left (:func:`atomic_write`)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.errno = errno.ENOSPC  # still recognisable as ENOSPC by code that checks errno


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError whose cause is a full disk (ENOSPC)."""
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def size_text(n_bytes: float) -> str:
    """A byte count for people: kB, MB or GB."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes / 1024:.0f} kB"


def bytes_in(path: Path) -> int:
    """The bytes of a file, or of every file in a folder (0 when it is gone)."""
    path = Path(path)
    files = [path] if path.is_file() else list(path.rglob("*"))
    return sum(f.stat().st_size for f in files if f.is_file())


def disk_full_message(folder: Path, needed: str, what: str) -> str:
    """What to say when writing ``what`` into ``folder`` met a full disk: the folder, the
    space the step needs (``needed``, e.g. "about 2.1 MB"), the space free, and what to do."""
    try:
        free = f"{size_text(shutil.disk_usage(folder).free)} are free there"
    except OSError:
        free = "the free space could not be read"
    return (f"the disk holding {folder} is full (no space left on device) while writing "
            f"{what}: this step needs {needed}, and {free}. Nothing partial was left. Free "
            "some space on that disk (`python3 run.py clean` deletes what this project wrote "
            "there; it is rebuilt or fetched again when needed), or point PLAINCT_DATA at a "
            "folder on a disk with room (e.g. export PLAINCT_DATA=/other/disk/plainct-data).")


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


def atomic_write(target: Path, write, check=None, needed: str | None = None,
                 what: str | None = None) -> Path:
    """Write ``target`` through ``write(handle)`` into a temporary file beside it, call
    ``check(temporary_path)`` (which may raise to refuse the content), then rename it into
    place. The temporary file is removed whatever happens; stale ones that killed runs left
    beside it are removed first (:func:`clean_stale_parts`). A full disk raises
    :class:`DiskFullError` naming the folder, ``what`` is written (default: the file's name)
    and the space it needs (``needed``, e.g. "about 2 MB"; default: more than was written)."""
    target, tmp = Path(target), None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_parts(target.parent)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=part_prefix(target),
                                    suffix=".part")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        if check is not None:
            check(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        written = bytes_in(tmp) if tmp is not None else 0
        needed = needed or f"more than the {size_text(written)} written when it stopped"
        raise DiskFullError(disk_full_message(target.parent, needed,
                                              what or target.name)) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return target


def write_arrays(path: Path, key: str, arrays: dict, what: str = "cache file") -> None:
    """Store ``key`` and ``arrays`` (name -> array) at ``path`` atomically, compressed (a full
    disk: :class:`DiskFullError`, with the arrays' size as the space needed at most)."""
    if "key" in arrays:
        raise ValueError("'key' is reserved for the settings key; rename that array")
    total = sum(np.asarray(a).nbytes for a in arrays.values())
    atomic_write(path, lambda handle: np.savez_compressed(handle, key=np.str_(key), **arrays),
                 needed=f"up to {size_text(total)} (the arrays before compression)",
                 what=f"the {what} {Path(path).name}")


def _read(path: Path, key: str, names) -> dict:
    """:func:`read_arrays` without the translation of errors."""
    with np.load(path, allow_pickle=False) as stored:
        if "key" not in stored.files:
            raise DamagedCacheFile("its settings key is missing")
        stored_key = stored["key"]
        if stored_key.dtype.kind != "U" or stored_key.shape != ():
            raise DamagedCacheFile(f"its settings key has the wrong dtype ({stored_key.dtype})")
        if str(stored_key) != key:
            raise OtherSettingsError("it was made with other settings")
        names = [n for n in stored.files if n != "key"] if names is None else list(names)
        missing = [n for n in names if n not in stored.files]
        if missing:
            raise DamagedCacheFile(f"member(s) {', '.join(missing)} missing")
        arrays = {name: stored[name] for name in names}
    wrong = [f"{n} ({a.dtype})" for n, a in arrays.items() if a.dtype.kind not in PLAIN_KINDS]
    if wrong:
        raise DamagedCacheFile(f"array(s) of the wrong dtype: {', '.join(wrong)}")
    return arrays


def read_arrays(path: Path, key: str, names=None) -> dict:
    """The arrays ``names`` (default: all) of a file :func:`write_arrays` made for ``key``,
    read with ``allow_pickle=False``. Raises :class:`OtherSettingsError` (a ValueError) for a
    file of other settings and :class:`DamagedCacheFile` (a ValueError) for any other failure
    to read it: torn or truncated (zlib.error, EOFError, BadZipFile, ...), a member missing,
    an array of the wrong dtype."""
    try:
        return _read(Path(path), key, names)
    except (DamagedCacheFile, OtherSettingsError):
        raise
    except FileNotFoundError:
        raise  # not damaged: not there (e.g. removed by a clean meanwhile)
    except UNREADABLE as exc:
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            raise DamagedCacheFile("an array of the wrong dtype (object: reading it would "
                                   "need a pickle, never allowed here)") from exc
        kind = type(exc)  # zlib's "error" means nothing without its module's name
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__name__}"
        raise DamagedCacheFile(f"torn or truncated, {name}: {exc}") from exc


def aside_name(path: Path, hidden: bool = False) -> Path:
    """A free name beside ``path`` for keeping a damaged file aside:
    ``<name>.corrupt-<time>`` (``-1``, ``-2``... when taken); with a leading dot when
    ``hidden`` (a file of a sample folder, so that reading the folder skips it)."""
    path = Path(path)
    base = f"{'.' if hidden else ''}{path.name}{KEPT_ASIDE_MARK}{time.strftime('%Y%m%d-%H%M%S')}"
    aside, n = path.with_name(base), 1
    while aside.exists():
        aside, n = path.with_name(f"{base}-{n}"), n + 1
    return aside


def keep_aside(path: Path) -> Path | None:
    """Rename a damaged file to :func:`aside_name` (never read again, never deleted: it can be
    looked at, and ``run.py clean`` removes it with its folder). Returns the new path, or None
    when it could not be renamed (e.g. another process did it first)."""
    aside = aside_name(path)
    try:
        os.replace(path, aside)
    except OSError:
        return None
    return aside


def load_or_build(path: Path, key: str, build, to_arrays=None, from_arrays=None,
                  what: str = "cache file", use_cache: bool = True):
    """The cached result for ``key`` at ``path``, else ``build()`` (then stored).

    ``to_arrays(result) -> dict`` and ``from_arrays(dict) -> result`` translate between the
    result and plain arrays (default: the result is the dict of arrays itself);
    ``from_arrays`` may raise ValueError, KeyError or TypeError for arrays that do not fit
    together. A file that cannot be read, or whose arrays do not fit, is damaged: it is kept
    aside (:func:`keep_aside`) and rebuilt, with a warning naming ``what``; a file of other
    settings is rebuilt over. ``use_cache=False`` neither reads nor writes.
    """
    to_arrays = to_arrays or (lambda result: result)
    from_arrays = from_arrays or (lambda arrays: arrays)
    path = Path(path)
    if use_cache and path.is_file():
        try:
            return from_arrays(read_arrays(path, key))
        except OtherSettingsError as exc:
            warnings.warn(f"ignoring the {what} {path.name} ({exc}); rebuilding it",
                          stacklevel=2)
        except FileNotFoundError:
            pass  # removed meanwhile (a clean in another process): simply build it
        except (*UNREADABLE, DamagedCacheFile) as exc:
            aside = keep_aside(path)
            kept = (f"it was kept aside as {aside.name} (never read again; delete it when you "
                    "like)" if aside else "it could not be kept aside (moved meanwhile?)")
            warnings.warn(f"ignoring the {what} {path.name}: it is damaged ({exc}); {kept}; "
                          "rebuilding it", stacklevel=2)
    result = build()
    if use_cache:
        try:
            write_arrays(path, key, to_arrays(result), what)
        except DiskFullError as exc:
            # Not the advice for an unwritable folder: this one is writable but full.
            warnings.warn(f"{exc} The result was built and is used; only keeping it for the "
                          "next run failed.", stacklevel=2)
        except OSError as exc:
            warnings.warn(f"could not write the {what} in {path.parent} ({exc}); set "
                          "PLAINCT_DATA to a writable folder to keep it between runs",
                          stacklevel=2)
    return result


class Memo:
    """What this process built, kept in memory for reuse, by key: at most ``limit`` values,
    the least recently used dropped first. For what is quicker to rebuild than to store on
    disk (virtual patients: about 0.25 s each from their seed), but asked for again within
    one process (a notebook, a benchmark, the warm-up)."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self._values: OrderedDict[str, object] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str, build=None):
        """The value kept for ``key`` (now the most recent), else ``build()``, kept."""
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        if build is None:
            raise KeyError(key)
        return self.put(key, build())

    def put(self, key: str, value):
        """Keep ``value`` under ``key`` (dropping the oldest past the limit); return it."""
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.limit:
            self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        self._values.clear()
