"""Building every slow cache ahead of time (helpers.pipeline.warmup), on toy cohorts."""

from __future__ import annotations

import pytest
import SimpleITK as sitk
from toy_cases import kinds, small_voxel_model  # noqa: F401 (small_voxel_model: autouse)

from helpers.pipeline import chain, warmup
from helpers.pipeline.stage2 import unet


@pytest.mark.slow  # every step, on toy cohorts
def test_warm_caches_builds_every_table_and_reports(toy_cache, monkeypatch):
    folder, built = toy_cache
    monkeypatch.setattr(unet, "available", lambda: False)  # the network: its own test
    monkeypatch.setattr(warmup.reader_study, "reading_cases", lambda progress=False: [])
    read = []
    monkeypatch.setattr(warmup.reader_model, "model_reading",
                        lambda cases, progress=False: read.append(cases))
    monkeypatch.setattr(chain, "segment_pancreas",
                        lambda scan, method="atlas": sitk.Cast(scan > -1000, sitk.sitkUInt8))
    studies = []
    monkeypatch.setattr(warmup.study, "method_comparison",
                        lambda **settings: studies.append(settings))
    lines = []
    done = warmup.warm_caches(report=lines.append)
    found = kinds(folder)
    # every notebook pipeline: its table and its out-of-fold maps; the default pipeline also
    # its stage 1 masks and its rows in stage 2's outlines; and the two hard-motion tables
    pipelines = len(warmup.NOTEBOOK_PIPELINES)
    assert found.count("table") == pipelines + len(warmup.HARD_MOTION_LABELS)
    assert found.count("maps") == pipelines
    assert found.count("masks") == found.count("rows") == 1
    assert built.extras.count("hard") == 0  # the hard-motion labels: the training cohort only
    assert studies == [{"progress": False}]  # the study's own cohort
    assert read == [[]]  # notebook 07's reader study: the model reads its patients once
    # and nothing else: virtual patients are no step (they are never stored)
    assert len(done) == 1 + pipelines + 1 + len(warmup.HARD_MOTION_LABELS)
    assert lines[-1].startswith("done in")
    assert all(seconds >= 0 for _, seconds in done)


def test_the_warm_up_trains_the_network_only_where_the_extra_is_installed(monkeypatch):
    named = {}
    for installed in (False, True):
        monkeypatch.setattr(unet, "available", lambda installed=installed: installed)
        named[installed] = [name for name, _ in warmup.warmup_steps(progress=False)]
    network = [name for name in named[True] if "network" in name]
    assert len(network) == 1 and "notebook 08" in network[0]
    assert named[False] == [name for name in named[True] if name not in network]
