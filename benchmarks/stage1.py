"""Print how well and how fast stage 1 finds the pancreas on held-out virtual patients.

Run from the repository root: ``.venv/bin/python benchmarks/stage1.py [--test 20]``.

Held-out patients come from the "test" cohort seed (never atlases or training data: checked).
For each method it prints per-case and summary Dice, 95th-percentile Hausdorff distance and
volume error, and seconds per case; then the same patients re-framed (cropped field of view,
another table position), which real unseen patients would be. Targets from issue 6: median
Dice >= 0.75 and <= 20 s per case on 2 cores, for the default method. Not a timed test:
timings on a shared machine vary, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--test", type=int, default=20, help="held-out patients (default 20)")
    parser.add_argument("--validation", type=int, default=10,
                        help="validation patients for the classifier's threshold curve (10)")
    parser.add_argument("--quiet", action="store_true", help="summaries only, no per-case rows")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import SimpleITK as sitk

    from helpers import cohorts, metrics, pipeline
    from helpers.pipeline import evaluation, stage1
    from helpers.pipeline.stage1 import atlas
    from helpers.simulate import named_cohort

    pd.set_option("display.width", 140)
    start = time.perf_counter()
    test = named_cohort("stage1 test", args.test)
    cohorts.check_disjoint(sizes={"stage1 test": len(test)})
    print(f"held-out patients: {len(test)} ({time.perf_counter() - start:.1f} s to build or "
          "load from the cache)")
    start = time.perf_counter()
    atlases = stage1.default_atlases()
    print(f"labelled patients: {len(atlases)} (the atlases; also the classifier's training "
          f"data), {time.perf_counter() - start:.1f} s one-off")
    forest = stage1.default_classifier()
    print(f"voxel classifier: fitted in {forest.seconds:.1f} s (one-off)")

    if args.validation:  # how the default thresholds were chosen: on validation patients only
        curves = {"atlas votes": {}, "classifier probability": {}}
        n = len(atlases)
        at_least = [(k - 0.5) / n for k in (n // 2, n // 2 + 1, n // 2 + 2)]  # k of n atlases
        for case in named_cohort("stage1 validation", args.validation):
            hu = sitk.GetArrayFromImage(case.plain)
            truth = sitk.GetArrayFromImage(case.pancreas_plain)
            scores = {"atlas votes": (atlas.atlas_votes(case.plain, atlases).votes, at_least),
                      "classifier probability": (forest.probability(hu),
                                                 (0.5, 0.55, 0.6, 0.65, 0.7))}
            for name, (score, thresholds) in scores.items():
                for t in thresholds:
                    mask = stage1.clean_mask(score, hu, t)
                    curves[name].setdefault(t, []).append(
                        (metrics.dice(mask, truth), 100 * (mask.sum() / (truth > 0).sum() - 1)))
        for name, curve in curves.items():
            print(f"{name} threshold on {args.validation} validation patients (median Dice / "
                  "median volume error %): " + ", ".join(
                      f"{t:.2f}: {np.median([d for d, _ in v]):.3f} / "
                      f"{np.median([e for _, e in v]):+.0f}" for t, v in curve.items()))
        print(f"pipeline defaults: {stage1.THRESHOLDS}")

    def copy_one_atlas(plain):  # the 'do nothing' baseline: no registration at all
        return sitk.Resample(atlases[0].mask, plain, sitk.Transform(), sitk.sitkNearestNeighbor)

    methods = {
        "no registration (copy atlas 1)": copy_one_atlas,
        "multi-atlas (default)": lambda p: pipeline.segment_pancreas(p, "atlas"),
        "voxel classifier": lambda p: pipeline.segment_pancreas(p, "classifier"),
    }
    rows = []
    for name, segment in methods.items():
        rows += evaluation.evaluate_stage1(segment, test, name)
    table = pd.DataFrame(rows)
    if not args.quiet:
        print("\nper case (held-out, as simulated):")
        print(table.drop(columns=["reference_ml"]).round(3).to_string(index=False))
    print("\nsummary, held-out patients as simulated:")
    print(evaluation.summarise_stage1(table).to_string())

    moved = [stage1.reframe_case(c) for c in test]  # framed like someone else's scan
    rows = []
    for name in methods:
        rows += evaluation.evaluate_stage1(methods[name], moved, name)
    print("\nsummary, the same patients re-framed (6 slices fewer at the head end, 36 mm "
          "narrower, table moved):")
    print(evaluation.summarise_stage1(pd.DataFrame(rows)).to_string())

    default = table[table.method == "multi-atlas (default)"]
    dice, seconds = default.dice.median(), default.seconds.median()
    print(f"\ntarget median Dice >= 0.75: {dice:.3f} -> {'met' if dice >= 0.75 else 'NOT met'}")
    print(f"target <= 20 s per case: median {seconds:.1f} s, slowest {default.seconds.max():.1f}"
          f" s -> {'met' if default.seconds.max() <= 20 else 'NOT met'}")
    print(f"cpu count: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
