"""Building every slow cache ahead of time (helpers.pipeline.warmup), on toy cohorts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk
from toy_cases import kinds, small_voxel_model  # noqa: F401 (small_voxel_model: autouse)

from helpers import cache
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
                        lambda scan, method="atlas", **options: sitk.Cast(scan > -1000,
                                                                          sitk.sitkUInt8))
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


def test_the_warm_up_trains_the_network_and_runs_the_contest_only_with_the_extra(monkeypatch):
    named = {}
    for installed in (False, True):
        monkeypatch.setattr(unet, "available", lambda installed=installed: installed)
        named[installed] = [name for name, _ in warmup.warmup_steps(progress=False)]
    network = [name for name in named[True] if "network" in name]
    assert len(network) == 1 and "notebook 08" in network[0]
    # the contest needs two detectors: without the network there is nothing to compare
    contest = [name for name in named[True] if "contest" in name]
    assert len(contest) == 1 and named[True].index(contest[0]) > named[True].index(network[0])
    assert named[False] == [name for name in named[True] if name not in network + contest]


# One process of the warm-up on toy cohorts (stage 1 a threshold, a small boosting model): it
# builds the default pipeline's cached training data, stage-1 masks, out-of-fold maps and
# stage 3's rows, then prints what the fitted pipeline says of one toy scan, and every warning.
WARM_ONE = """
import warnings
import SimpleITK as sitk
from toy_cases import toy_case, toy_cohort
from helpers.pipeline import chain, default, stage2, training_cache

def cohort(name, n=None, *, motion="typical", progress=False, n_jobs=1, cache=True):
    if name == training_cache.TRAINING:
        return toy_cohort(9)
    return [c for c in toy_cohort(9, start=100) if c.subtype]

training_cache.named_cohort = cohort
chain.segment_pancreas = lambda scan, method="atlas", **options: sitk.Cast(scan > -1000,
                                                                          sitk.sitkUInt8)
stage2.boosted.VOXEL_MODEL["max_iter"] = 20
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = default.make_pipeline(training_pancreas=default.DEFAULT_TRAINING_PANCREAS,
                                  stage3_outlines=default.DEFAULT_STAGE3_OUTLINES)
result = model.predict(toy_case(50, "PDAC").plain)
print("RESULT", repr(round(result.score, 12)), sorted(result.subtype_probs.items()))
print("WARNINGS", [str(w.message) for w in caught])
"""


@pytest.mark.slow  # two processes at once, about 30 s
def test_two_processes_warming_one_empty_cache_agree_and_read_no_partial_file(tmp_path):
    """Two warm-ups started together on one empty cache both build (and write) the same
    entries: they give the same pipeline, no process meets a damaged file, nothing is kept
    aside, no temporary file is left, and a third process then reads what they stored."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PLAINCT_DATA=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(root), str(root / "tests")]))
    runs = [subprocess.Popen([sys.executable, "-c", WARM_ONE], cwd=root, env=env, text=True,
                             stdout=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert outputs[0] == outputs[1]
    assert "WARNINGS []" in outputs[0]  # no damaged or foreign file was met
    stored = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert len([n for n in stored if n.endswith(".npz")]) == 4  # table, masks, maps, rows
    assert not [n for n in stored if n.endswith(".part") or cache.KEPT_ASIDE_MARK in n]
    written = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.npz")}
    third = subprocess.run([sys.executable, "-c", WARM_ONE], cwd=root, env=env, text=True,
                           capture_output=True, timeout=600, check=True)
    assert third.stdout == outputs[0]
    assert {p: p.stat().st_mtime_ns for p in written} == written  # read, not built again
