"""Build every slow cache of notebooks 03-07 ahead of time (``python -m helpers.pipeline.warmup
warm``): virtual patients, notebook 03's registration table and the training data of the
pipelines the notebooks refit. Not for clinical use.
"""

from __future__ import annotations

import argparse
import time

from .. import cache, cohorts
from ..registration import study
from . import stage1, stage3
from .default import DEFAULT_STAGE3_OUTLINES, DEFAULT_TRAINING_PANCREAS, make_pipeline
from .model import Pipeline
from .stage1 import N_LABELLED
from .training import (
    HELD_OUT,
    NOTEBOOK_HELD_OUT,
    cached_training_table,
    held_out_cohort,
)

# Every training table the notebooks refit from (05: the four label sources / images and the
# hard-motion pair; 06: contrast; 07: the default). The plain scan of a patient is the same at
# every motion level (only the contrast scan moves), so "exact" needs no hard-motion table.
WARM_TABLES = (("registered", "plain", "typical"), ("exact", "plain", "typical"),
               ("copied", "plain", "typical"), ("registered", "contrast", "typical"),
               ("registered", "plain", "hard"), ("copied", "plain", "hard"))


def warm_caches(progress: bool = False, report=print) -> list[tuple[str, float]]:
    """Build (or check) every cache notebooks 03-07 and the benchmark read: notebook 03's
    registration table (:func:`helpers.registration.study.method_comparison`), stage 1's
    labelled patients, notebook 06's lesion-only cohorts, the held-out cohorts (the
    benchmark's and notebook 05's), for each of :data:`WARM_TABLES` the training table
    (of the training cohort and stage 3's lesion-only training cohort), and the default
    pipeline's rows in stage 2's outlines (:func:`cached_detected_rows`). Reports
    each item and its seconds through ``report`` and returns ``[(item, seconds), ...]``.
    Slow only the first time (simulating a patient takes about a second, an affine label
    transfer well under one; about 5-6 minutes in all on 2 cores, of which notebook 03's 20
    B-spline registrations take about 2 and stage 3's extra lesion rows, with the hard-motion
    copies of their patients, 1-1.5); afterwards seconds.
    Run it as ``python -m helpers.pipeline.warmup warm``.
    """
    done = []

    def step(name, build):
        start = time.perf_counter()
        build()
        done.append((name, time.perf_counter() - start))
        report(f"  {name}: {done[-1][1]:.1f} s")

    report(f"warming the pipeline caches in {cache.cache_dir()}")
    step("notebook 03's registration table (20 patients)",
         lambda: study.method_comparison(progress=progress))
    step(f"stage 1 labelled patients ({N_LABELLED})",
         lambda: stage1.cohort("labelled", N_LABELLED, progress=progress))
    for role in stage3.ROLES:  # notebook 06's lesion-only patients
        step(f"stage 3 {role} lesion patients ({cohorts.cohort(f'stage3 {role}').n})",
             lambda role=role: stage3.lesion_cohort(role, progress=progress))
    for n in sorted({cohorts.cohort(HELD_OUT).n, NOTEBOOK_HELD_OUT}):
        step(f"held-out patients ({n})", lambda n=n: held_out_cohort(n, progress))
    for label_source, image, motion in WARM_TABLES:
        pipeline = Pipeline(label_source=label_source, image=image)
        name = (f"training table: {image} CT, {label_source} labels, {motion} motion"
                if image == "plain" else f"training table: {image} CT, {motion} motion")
        step(name, lambda p=pipeline, m=motion: cached_training_table(p, progress=progress,
                                                                      motion=m))
    step("the default pipeline (stage 1's masks of its training patients, stage 3's rows in "
         "stage 2's outlines)", lambda: make_pipeline(
             progress=progress, training_pancreas=DEFAULT_TRAINING_PANCREAS,
             stage3_outlines=DEFAULT_STAGE3_OUTLINES))
    report(f"done in {sum(s for _, s in done):.1f} s")
    return done


def main(argv=None) -> int:
    """Command line: ``python -m helpers.pipeline.warmup warm [--progress]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline.warmup",
                                     description="Build the pipeline's caches ahead of time.")
    parser.add_argument("command", choices=["warm"], help="warm: build every cache now")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args(argv)
    if args.command == "warm":
        warm_caches(progress=args.progress)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
