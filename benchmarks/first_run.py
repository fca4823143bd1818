"""Print how long a new user's first warm-up takes, step by step, and how big the cache gets.

Run from the repository root: ``.venv/bin/python benchmarks/first_run.py [--cache DIR]``.

It starts from an empty cache folder (a new temporary folder unless ``--cache`` names one,
which must be empty or absent), fetches the data samples (from ``$PLAINCT_MIRROR`` when set,
else from their public URLs) and then runs every step of ``python3 run.py prefetch``'s
warm-up (:func:`helpers.pipeline.warmup.warm_caches`), printing the seconds of each step, the
total, and the size of the cache per sub-folder. ``--setup`` first times what ``run.py`` does
on a new machine (a fresh virtual environment with the pinned packages, in a temporary folder);
``--notebooks`` then runs every lesson from a fresh kernel on the warmed cache and prints each
one's seconds (what a student waits after the warm-up). Timings depend on the machine and on
what else runs on it, so the load average is printed too. The temporary folder is deleted at
the end unless ``--keep``. Not for clinical use.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_seconds() -> float:
    """Seconds to create a virtual environment and install requirements.txt into it (pip's
    own cache may make this faster than on a new machine)."""
    with tempfile.TemporaryDirectory(prefix="plainct-venv-") as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        python = Path(folder) / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(ROOT / "requirements.txt")], check=True)
        return time.perf_counter() - start


def notebook_seconds() -> dict[str, float]:
    """Seconds each lesson takes from a fresh kernel, on the cache just warmed."""
    import nbformat
    from nbclient import NotebookClient

    seconds = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except Exception as error:  # e.g. notebook 08 without the optional extra
            print(f"  {path.stem}: did not run ({type(error).__name__})")
            continue
        seconds[path.stem] = time.perf_counter() - start
    return seconds


def folder_sizes(folder: Path) -> dict[str, int]:
    """Bytes per top-level entry of ``folder`` (a sub-folder counts everything inside)."""
    sizes = {}
    for entry in sorted(folder.iterdir()):
        files = [entry] if entry.is_file() else [f for f in entry.rglob("*") if f.is_file()]
        sizes[entry.name] = sum(f.stat().st_size for f in files)
    return sizes


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and by its child processes that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, help="an empty folder to use (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary cache folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--setup", action="store_true", help="also time a fresh environment")
    parser.add_argument("--notebooks", action="store_true",
                        help="then run every lesson on the warmed cache and time it")
    args = parser.parse_args()
    if args.setup:
        print(f"set-up (fresh venv + requirements.txt): {setup_seconds():.0f} s")

    folder = args.cache or Path(tempfile.mkdtemp(prefix="plainct-first-run-"))
    if folder.exists() and any(folder.iterdir()):
        parser.error(f"{folder} is not empty: a first run starts from an empty cache folder")
    os.environ["PLAINCT_DATA"] = str(folder)  # read at call time by helpers.cache.cache_dir

    from helpers.data import prefetch
    from helpers.pipeline.warmup import warmup_steps

    print(f"cache folder: {folder} (empty); mirror: {os.environ.get('PLAINCT_MIRROR', 'none')}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores")
    start = time.perf_counter()
    prefetch(progress=not args.quiet)
    steps = [("data samples (download or mirror, SHA-256 checked)", time.perf_counter() - start)]
    steps = [(*steps[0], cpu_seconds())]
    for name, build in warmup_steps(progress=not args.quiet):
        wall, cpu = time.perf_counter(), cpu_seconds()
        build()
        steps.append((name, time.perf_counter() - wall, cpu_seconds() - cpu))

    # CPU seconds (this process and its finished workers) depend much less on what else runs
    # on the machine than wall seconds do: on an idle 2-core machine wall is about CPU / 2
    # where two workers run, and about CPU where one process does.
    print(f"\n{'step':<70} {'wall s':>8} {'CPU s':>8}")
    for name, seconds, cpu in steps:
        print(f"{name[:70]:<70} {seconds:8.1f} {cpu:8.1f}")
    print(f"{'total':<70} {sum(s[1] for s in steps):8.1f} {sum(s[2] for s in steps):8.1f}")
    sizes = folder_sizes(folder)
    print("\ncache size per entry (MB):")
    for name, size in sizes.items():
        print(f"  {name:<50} {size / 1e6:8.1f}")
    print(f"  {'total':<50} {sum(sizes.values()) / 1e6:8.1f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.notebooks:
        print("\neach lesson after the warm-up (s):")
        for stem, seconds in notebook_seconds().items():
            print(f"  {stem:<50} {seconds:8.1f}")
    if args.cache is None and not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
