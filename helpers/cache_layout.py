"""Where the project writes inside its cache folder: the one list of it.

Standard library only: ``run.py`` loads this file by its path (``load_by_path``) before any
environment exists, so that ``python3 run.py clean`` works on a bare Python. Every writer
(``helpers.cache``, the pipeline's tables, notebook 03's table, the network's data) names its
sub-folder from here, ``run.py clean`` deletes only what is listed here (and the samples' own
files, from ``helpers/data/registry.py``), and ``python -m helpers.data verify`` reports it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
DATA_VARIABLE = "PLAINCT_DATA"  # set it to keep the cache elsewhere (a shared drive, a copy)

# The project's own sub-folders of the cache, one per writer.
# Virtual and foreign patients are no longer written (rebuilt from their seed in about 0.25 s);
# their folders stay listed so that `run.py clean` removes what earlier versions stored.
VIRTUAL_PATIENTS = "virtual_patients"  # helpers.simulate.patients, until issue 31
PIPELINE = "pipeline"  # helpers.pipeline.training_cache and helpers.registration.study: tables
FOREIGN = "foreign"  # helpers.simulate.foreign, until issue 31
DEEP = "deep"  # helpers.pipeline.unet_cache: the network's crops and weights
OWN_SUBFOLDERS = (VIRTUAL_PATIENTS, PIPELINE, FOREIGN, DEEP)

# The temporary names this project makes (tempfile's 8 random characters): ".<target>.XXXXXXXX
# .part" (files of atomic_write, folders of a download) and ".write-test-XXXXXXXX" (the
# writability probe of helpers.data). Only these, and only when stale, are ever cleaned up.
PART_NAME = re.compile(r"^\..{1,40}\.[a-z0-9_]{8}\.part$|^\.write-test-[a-z0-9_]{8}$")


def cache_dir() -> Path:
    """The cache folder: ``$PLAINCT_DATA`` if set, else ``data_samples/cache/``."""
    env = os.environ.get(DATA_VARIABLE)
    return Path(env).expanduser() if env else REPOSITORY / "data_samples" / "cache"


def own_entries(folder: Path, sample_tops: set[str]) -> list[Path]:
    """What the project wrote directly inside ``folder``: its sub-folders, the samples' files
    and folders (their first path part, ``sample_tops``) and its temporary files. Anything
    else (a user's own file) is not listed, so never deleted."""
    own = set(OWN_SUBFOLDERS) | set(sample_tops)
    return sorted(p for p in Path(folder).iterdir() if p.name in own or PART_NAME.match(p.name))


def sizes_by_subfolder(folder: Path | None = None) -> dict[str, int]:
    """Bytes in each of the project's sub-folders of the cache (0 when absent)."""
    folder = cache_dir() if folder is None else Path(folder)
    return {name: sum(f.stat().st_size for f in (folder / name).rglob("*") if f.is_file())
            for name in OWN_SUBFOLDERS}


def load_by_path(relative: str, name: str):
    """Import one stdlib-only module of this repository by its file path, without running
    the ``helpers`` package's ``__init__`` files (which need the installed packages)."""
    spec = importlib.util.spec_from_file_location(name, REPOSITORY / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
