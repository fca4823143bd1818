"""What several test modules of the pipeline share: its training cache, in a temporary folder
with toy cohorts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from toy_cases import toy_cohort

from helpers.pipeline import training_cache


@pytest.fixture
def toy_cache(tmp_path, monkeypatch):
    """The cache in a temporary folder; toy cohorts stand in for the training cohort (9
    patients, 6 with a lesion) and for stage 3's extra lesion-only cohort (6 lesions). Returns
    the folder and a record of which cohort was built, once per build."""
    monkeypatch.setattr(training_cache, "cache_folder", lambda: tmp_path)
    built = SimpleNamespace(tables=[], extras=[])

    def cohort(name, n=None, *, motion="typical", progress=False, n_jobs=1, cache=True):
        if name == training_cache.TRAINING:
            built.tables.append(motion)
            return toy_cohort(9)
        assert name == training_cache.EXTRA_LESIONS
        built.extras.append(motion)
        return [c for c in toy_cohort(9, start=100) if c.subtype]

    monkeypatch.setattr(training_cache, "named_cohort", cohort)
    training_cache._unkept_cohort.cache_clear()  # hard-motion patients are kept per process
    yield tmp_path, built
    training_cache._unkept_cohort.cache_clear()
