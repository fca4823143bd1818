"""Build every slow cache of notebooks 03-08 ahead of time (``python -m helpers.pipeline.warmup
warm``): notebook 03's registration table, the training data of the pipelines the notebooks
refit, notebook 07's reading, notebook 08's network (each stage-2 detector's own step,
from the registry of :mod:`.detectors`) and notebook 08's contest (:mod:`.contest`). Virtual
patients are not stored (they are rebuilt from their seed where needed), so they are no step
of their own. Not for clinical use.
"""

from __future__ import annotations

import argparse
import time

from .. import cache
from ..registration import study
from . import contest, detectors, reader_model, reader_study
from .chain import Pipeline
from .default import DEFAULT_SETTINGS, make_pipeline
from .training_cache import cached_training_table

# The pipelines notebooks 05-07 refit (05: the four label sources / images; 07: the default);
# warming one caches its training table and its out-of-fold maps.
NOTEBOOK_PIPELINES = ({"label_source": "registered"}, {"label_source": "exact"},
                      {"label_source": "copied"}, {"image": "contrast"},
                      DEFAULT_SETTINGS)
# Notebook 05 section 8 compares the labels of the training cohort's patients under hard
# breathing motion (the plain scan is the same at every motion level, so "exact" needs none).
HARD_MOTION_LABELS = ("registered", "copied")


def warmup_steps(progress: bool) -> list[tuple[str, object]]:
    """``(name, build)`` for every cache notebooks 03-08 read, in the order they are built."""
    steps = [("notebook 03's registration table (10 patients x 2 motion levels)",
              lambda: study.method_comparison(progress=progress))]
    for settings in NOTEBOOK_PIPELINES:
        name = ", ".join(f"{k} {v}" for k, v in settings.items())
        steps.append((f"pipeline ({name}): training table and out-of-fold maps",
                      lambda settings=settings: make_pipeline(progress=progress, **settings)))
    steps.append(("notebook 07's reader study: its patients and the model's reading",
                  lambda: reader_model.model_reading(reader_study.reading_cases(progress),
                                                     progress=progress)))
    for name in detectors.detector_names():  # each stage-2 detector's own cache, if any
        entry = detectors.get(name)
        if entry.warmup and entry.available():  # the network: only with its optional extra
            step, build = entry.warmup
            steps.append((step, lambda build=build: build(progress)))
    if sum(detectors.get(n).available() for n in detectors.detector_names()) > 1:
        steps.append(("notebook 08's contest: each stage 2 behind stage 1 on "
                      f"{', '.join(contest.COHORTS)} patients",
                      lambda: contest.warm_contest(progress)))
    for source in HARD_MOTION_LABELS:
        steps.append((f"{source} labels under hard motion (training cohort)",
                      lambda source=source: cached_training_table(
                          Pipeline(label_source=source), progress, motion="hard",
                          extra_lesions=False)))
    return steps


def warm_caches(progress: bool = False, report=print) -> list[tuple[str, float]]:
    """Build (or check) every cache notebooks 03-08 read: notebook 03's registration table,
    the training data (table and out-of-fold maps) of every pipeline they refit, notebook
    07's reading, notebook 08's network and contest, and the hard-motion labels of notebook
    05. Reports each step and its seconds through ``report`` (with ``progress``: a progress
    bar, with the time left, inside every slow step) and returns ``[(step, seconds), ...]``.
    Slow only the first time (``benchmarks/first_run.py`` prints the time of every step from
    an empty cache); afterwards seconds. Run it as ``python -m helpers.pipeline.warmup warm``.
    """
    done = []
    report(f"warming the caches in {cache.cache_dir()}")
    for name, build in warmup_steps(progress):
        start = time.perf_counter()
        build()
        done.append((name, time.perf_counter() - start))
        report(f"  {name}: {done[-1][1]:.1f} s")
    report(f"done in {sum(s for _, s in done):.1f} s")
    return done


def warmup_command(argv=None) -> int:
    """Command line: ``python -m helpers.pipeline.warmup warm [--quiet]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline.warmup",
                                     description="Build the pipeline's caches ahead of time.")
    parser.add_argument("command", choices=["warm"], help="warm: build every cache now")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.command == "warm":
        warm_caches(progress=not args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(warmup_command())
