"""helpers.workers.map_ordered: the same list as a plain loop, whether the jobs ran in worker
processes or here, in the order of the inputs, with a job's own error reaching the caller.

The jobs are module-level functions (a worker process must be able to import them) and take
milliseconds, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import ctypes.util
import functools
import os
import platform
import time

import numpy as np
import pytest
import SimpleITK as sitk

from helpers import workers

ENOUGH = workers.MIN_ITEMS + 4  # enough items for worker processes


def later_ones_finish_first(i: int) -> int:
    # The first items sleep longest, so a worker finishes them after later ones: results in
    # completion order would come back shuffled.
    time.sleep(0.002 * (ENOUGH - i))
    return i * i


def where_it_ran(_item) -> tuple[int, int]:
    return os.getpid(), sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()


def seeded_job(seed: int) -> list[float]:
    return np.random.default_rng(seed).normal(size=3).tolist()


def power(base: int, exponent: int) -> int:
    return base**exponent


def no_pancreas_in_patient_7(i: int) -> int:
    if i == 7:
        raise ValueError(f"patient {i}: no pancreas found")
    return i


def test_results_come_back_in_the_order_of_the_inputs():
    items = list(range(ENOUGH))
    serial = [later_ones_finish_first(i) for i in items]
    assert workers.map_ordered(later_ones_finish_first, items, n_jobs=2) == serial
    assert workers.map_ordered(later_ones_finish_first, iter(items), n_jobs=2) == serial


def test_enough_items_run_in_worker_processes_with_one_simpleitk_thread_each():
    ran = workers.map_ordered(where_it_ran, range(ENOUGH), n_jobs=2)
    pids = {pid for pid, _ in ran}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {threads for _, threads in ran} == {1}  # two workers share two cores


@pytest.mark.parametrize("n_items, n_jobs", [(workers.MIN_ITEMS - 1, 2), (ENOUGH, 1)],
                         ids=["too few items for processes", "one worker"])
def test_few_items_or_one_worker_run_here(n_items, n_jobs):
    ran = workers.map_ordered(where_it_ran, range(n_items), n_jobs=n_jobs)
    assert len(ran) == n_items and {pid for pid, _ in ran} == {os.getpid()}


def test_no_items_give_an_empty_list():
    assert workers.map_ordered(where_it_ran, [], n_jobs=2) == []
    assert workers.map_ordered(where_it_ran, iter(()), n_jobs=1) == []


def test_seeded_jobs_give_the_same_results_whichever_worker_ran_them():
    seeds = range(100, 100 + ENOUGH)
    serial = [seeded_job(s) for s in seeds]
    assert workers.map_ordered(seeded_job, seeds, n_jobs=2) == serial
    assert workers.map_ordered(seeded_job, seeds, n_jobs=2) == serial
    assert workers.map_ordered(seeded_job, seeds, n_jobs=1) == serial


def test_a_partial_of_a_module_level_function_is_a_job():
    cube = functools.partial(power, exponent=3)
    assert workers.map_ordered(cube, range(ENOUGH), n_jobs=2) == [i**3 for i in range(ENOUGH)]


@pytest.mark.parametrize("n_jobs", [2, 1], ids=["in workers", "here"])
def test_a_failing_job_raises_its_own_error_in_the_caller(n_jobs):
    with pytest.raises(ValueError, match=r"^patient 7: no pancreas found$"):
        workers.map_ordered(no_pancreas_in_patient_7, range(ENOUGH), n_jobs=n_jobs)


@pytest.mark.parametrize("n_jobs", [2, 1], ids=["in workers", "here"])
def test_the_progress_bar_counts_every_item_and_only_when_asked(n_jobs, capsys):
    workers.map_ordered(where_it_ran, [], n_jobs=n_jobs)  # nothing to do, nothing shown
    workers.map_ordered(seeded_job, range(ENOUGH), n_jobs=n_jobs, desc="registering")
    assert capsys.readouterr().err == ""
    workers.map_ordered(seeded_job, range(ENOUGH), n_jobs=n_jobs, desc="registering",
                        progress=True)
    err = capsys.readouterr().err
    assert "registering" in err and f"{ENOUGH}/{ENOUGH}" in err


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_memory_looks_libc_up_once_per_process(monkeypatch):
    workers._malloc_trim.cache_clear()
    assert workers.release_memory() is True
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: pytest.fail("looked up again"))
    assert workers.release_memory() is True


def test_release_memory_is_a_no_op_without_glibc(monkeypatch):
    workers._malloc_trim.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)  # as on macOS/musl
    try:
        assert workers.release_memory() is False
    finally:
        workers._malloc_trim.cache_clear()  # the next caller looks the real libc up
