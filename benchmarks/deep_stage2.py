"""Stage 2 as a neural network beside the boosted features, on validation and held-out patients.

Run from the repository root: ``.venv/bin/python benchmarks/deep_stage2.py [--retrain]``
(needs the optional extra: ``python3 run.py lab --deep``).

Both detectors learn from the same training patients and the same registered labels
(notebook 05's detector (a) and notebook 08's network) and search the reference pancreas. The
network chose its epoch and threshold on the cohort "validation"; the held-out cohort (all 64)
made no choice. Prints, per detector and cohort: AUC (95 % bootstrap interval), sensitivity at
95 % specificity, lesions found in place per size band, median lesion Dice of the found
lesions, training and predict seconds, and the AUC on normal and on fatty glands (the
foreign cohort too, never used for a choice); then, on the validation cohort only, the AUC of
each case score the network can give (the choice of ``UNetSettings.score``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time


def report(name, table, evaluation, train_seconds):
    """One detector on one cohort, in a few lines."""
    s = evaluation.summary(table)
    low, high = evaluation.auc_interval(table.abnormal, table.score)
    sizes = evaluation.size_sensitivity(table)
    bands = ", ".join(f"{str(k)}: {int(r.found)}/{int(r.lesions)}" for k, r in sizes.iterrows())
    print(f"  {name:17s} AUC {s['auc']:.3f} ({low:.3f}-{high:.3f}), sens@95%spec "
          f"{s['sens_at_95_spec']:.3f}, operating sens {s['operating_sensitivity']:.3f} / spec "
          f"{s['operating_specificity']:.3f}, lesion Dice (found) "
          f"{s['median_lesion_dice_found']:.3f}; train {train_seconds:.0f} s, predict "
          f"{s['median_seconds']:.2f} s/patient (median)")
    print(f"  {'':17s} found in place per size (mm): {bands}")
    groups = evaluation.by_fat_group(table)
    print(f"  {'':17s} by the gland's fat: " + "; ".join(
        f"{g} {int(r.patients)} patients, AUC {r.get('auc', float('nan')):.3f}"
        for g, r in groups.iterrows()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--retrain", action="store_true",
                        help="train the network again instead of reading the cache")
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from helpers.pipeline import evaluation, make_pipeline, unet_cache
    from helpers.pipeline.stage2 import unet
    from helpers.pipeline.stage2 import unet_training as ut
    from helpers.simulate import foreign, named_cohort

    start = time.perf_counter()
    boosted = make_pipeline(label_source="registered")
    boosted_seconds = time.perf_counter() - start
    start = time.perf_counter()
    detector = unet_cache.warm_unet(progress=True, use_cache=not args.retrain)
    load_seconds = time.perf_counter() - start
    history = detector.history
    print(f"network: trained {history['seconds']:.0f} s ({len(history['train_loss'])}"
          f" epochs, kept {detector.history['best_epoch'] + 1}); loaded or trained here in "
          f"{load_seconds:.1f} s; boosted features refitted in {boosted_seconds:.1f} s")
    network = dataclasses.replace(boosted, detector=detector)
    cohorts = {"validation": named_cohort("validation"), "held-out": named_cohort("held-out"),
               "foreign": foreign.foreign_cohort()}
    for cohort, cases in cohorts.items():
        print(f"{cohort} cohort ({len(cases)} patients, "
              f"{sum(c.subtype is not None for c in cases)} with a lesion):")
        for name, model, seconds in (("neural network", network, detector.history["seconds"]),
                                     ("boosted features", boosted, boosted_seconds)):
            report(name, evaluation.evaluate(model, cases, pancreas="reference"), evaluation,
                   seconds)
    validation = unet_cache.cohort_crops("validation", detector.settings)
    for how in unet.SCORES:
        scores = ut.crop_scores(detector.net, validation,
                                dataclasses.replace(detector.settings, score=how))
        print(f"validation AUC with score={how!r}: "
              f"{roc_auc_score(validation['abnormal'], scores):.3f}")


if __name__ == "__main__":
    main()
