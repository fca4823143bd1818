"""Slow, independent jobs (one per patient) on both cores of a laptop, in a fixed order.

Building a table of training patients runs one registration per patient; finding the pancreas
of many patients runs six. Those jobs do not depend on each other, so :func:`map_ordered` runs
them in worker processes and returns the results in the order of the inputs (each job is seeded
on its own, so the results do not depend on which worker ran it), with a progress bar that shows
the time left. Each worker lets SimpleITK use one thread, so two workers share two cores instead
of fighting over them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from concurrent.futures import ProcessPoolExecutor

import SimpleITK as sitk
from tqdm.auto import tqdm

JOBS = min(2, os.cpu_count() or 1)  # a 2-core laptop stays responsive with two workers
MIN_ITEMS = 16  # a smaller batch finishes in seconds anyway: not worth starting processes


def _one_thread() -> None:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def map_ordered(func, items, n_jobs: int = JOBS, desc: str | None = None,
                progress: bool = False) -> list:
    """``[func(item) for item in items]``, in ``n_jobs`` processes when there are enough
    items, with a progress bar (``desc``) when ``progress``. ``func`` must be a module-level
    function (or a ``functools.partial`` of one), so that a worker can import it."""
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, disable=not progress)
    results = []
    try:
        if n_jobs > 1 and len(items) >= MIN_ITEMS:
            with ProcessPoolExecutor(max_workers=n_jobs, initializer=_one_thread) as pool:
                for result in pool.map(func, items):
                    results.append(result)
                    bar.update()
        else:
            for item in items:
                results.append(func(item))
                bar.update()
    finally:
        bar.close()
    return results


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, looked up once per process (``find_library`` runs a
    subprocess on Linux); None without glibc (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    if not name or "libc" not in name:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_memory() -> bool:
    """Hand memory this process has freed back to the system (glibc's ``malloc_trim``; a
    no-op elsewhere). Many freed SimpleITK images leave the freed memory in the allocator,
    where it still counts against a notebook's 2 GB budget. True when it could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
