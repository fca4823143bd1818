"""Stage 2 as a neural network beside the boosted features, behind stage 1 and on the reference
pancreas, on validation, held-out and foreign patients.

Run from the repository root: ``.venv/bin/python benchmarks/deep_stage2.py [--retrain]
[--cohorts validation held-out foreign] [--masks stage1 reference]`` (needs the optional
extra: ``python3 run.py lab --deep``).

The two detectors are those of the default pipeline's registry (``default_pipeline(detector=
...)``): both learn from the same training patients and registered labels inside stage 1's
pancreas masks. The network chose its epoch and threshold on the cohort "validation"; the
held-out cohort (all 64) and the foreign one made no choice. "stage1": notebook 08's contest
(``helpers.pipeline.contest``: each scan's pancreas is stage 1's, run once per patient and
shared by both detectors; a patient without one scores 0 and is found nowhere, as in the
chained pipeline; cached, and rebuilt with ``--retrain``); "reference": the simulator's mask
(stage 2 alone). Prints, per cohort, mask and detector: AUC (95 % bootstrap interval),
sensitivity at 95 % specificity, false alarms among the healthy, lesions found in place per
size band, median lesion Dice of the found lesions, training and predict seconds; then the
winner by AUC on each cohort, and, on the validation cohort only, the AUC of each case score
the network can give (the choice of ``UNetSettings.score``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

NAMES = {"unet": "neural network", "boosted": "boosted features"}


def report(summary, sizes, train_seconds) -> None:
    """Each detector's row of ``summary`` (one cohort and mask), and its found lesions by
    size band (``sizes``: one column per detector)."""
    for name, row in summary.iterrows():
        bands = ", ".join(f"{band}: {int(found)}/{int(n)}" for band, (n, found) in
                          sizes[["lesions", name]].iterrows())
        print(f"  {NAMES[name]:17s} AUC {row.auc:.3f} ({row.auc_low:.3f}-{row.auc_high:.3f}), "
              f"sens@95%spec {row.sens_at_95_spec:.3f}, false alarms {int(row.false_alarms)} "
              f"of {int(row.healthy)} healthy, found in place {int(row.found_in_place)} of "
              f"{int(row.lesions)}, lesion Dice (found) {row.lesion_dice_found:.3f}; train "
              f"{train_seconds[name]:.0f} s, predict {row.seconds:.2f} s/patient (median)")
        print(f"  {'':17s} found in place per size (mm): {bands}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--retrain", action="store_true",
                        help="train the network and run the contest again, not from the cache")
    parser.add_argument("--cohorts", nargs="+", default=["validation", "held-out", "foreign"])
    parser.add_argument("--masks", nargs="+", default=["stage1", "reference"])
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from helpers.pipeline import contest, default_pipeline, evaluation, unet_cache
    from helpers.pipeline.stage2 import unet
    from helpers.pipeline.stage2 import unet_training as ut

    start = time.perf_counter()
    models = {"boosted": default_pipeline()}
    boosted_seconds = time.perf_counter() - start
    start = time.perf_counter()
    detector = unet_cache.warm_unet(progress=True, use_cache=not args.retrain)
    history = detector.history
    print(f"network: trained {history['seconds']:.0f} s ({len(history['train_loss'])}"
          f" epochs, kept {history['best_epoch'] + 1}); loaded or trained here in "
          f"{time.perf_counter() - start:.1f} s; boosted pipeline fitted or read in "
          f"{boosted_seconds:.1f} s")
    models["unet"] = dataclasses.replace(models["boosted"], detector=detector)
    train_seconds = {"unet": history["seconds"], "boosted": boosted_seconds}
    for masks in args.masks:
        if masks == "stage1":
            start = time.perf_counter()
            tables = contest.contest_tables(args.cohorts, list(NAMES), progress=True,
                                            use_cache=not args.retrain)
            print(f"behind stage 1 (notebook 08's contest, read or run in "
                  f"{time.perf_counter() - start:.0f} s):")
        else:
            tables = {(cohort, name): evaluation.evaluate(
                          models[name], contest.cohort_cases(cohort), pancreas="reference")
                      for cohort in args.cohorts for name in NAMES}
            print("on the reference pancreas:")
        summary = contest.contest_summary(tables)
        for cohort in args.cohorts:
            print(f" {cohort}:")
            report(summary.loc[cohort], contest.found_by_size(tables, cohort), train_seconds)
        for cohort, row in contest.winners(summary).iterrows():
            print(f" higher AUC ({cohort}, {masks}): {NAMES[row['higher AUC']]} by "
                  f"{row.margin:.3f}; 95 % intervals overlap: {row['intervals overlap']}")
    validation = unet_cache.cohort_crops("validation", detector.settings)
    for how in unet.SCORES:
        scores = ut.crop_scores(detector.net, validation,
                                dataclasses.replace(detector.settings, score=how))
        print(f"validation AUC with score={how!r}: "
              f"{roc_auc_score(validation['abnormal'], scores):.3f}")


if __name__ == "__main__":
    main()
