"""Stage 2 as a neural network beside the boosted features, behind stage 1 and on the reference
pancreas, on validation, held-out and foreign patients.

Run from the repository root: ``.venv/bin/python benchmarks/deep_stage2.py [--retrain]
[--cohorts validation held-out foreign] [--masks stage1 reference]`` (needs the optional
extra: ``python3 run.py lab --deep``).

The two detectors are those of the default pipeline's registry (``default_pipeline(detector=
...)``): both learn from the same training patients and registered labels inside stage 1's
pancreas masks. The network chose its epoch and threshold on the cohort "validation"; the
held-out cohort (all 64) and the foreign one made no choice. "stage1": each scan's pancreas is
stage 1's (run once per patient and shared by both detectors; a patient without one scores 0
and is found nowhere, as in the chained pipeline); "reference": the simulator's mask (stage 2
alone). Prints, per cohort, mask and detector: AUC (95 % bootstrap interval), sensitivity at
95 % specificity, false alarms among the healthy, lesions found in place per size band, median
lesion Dice of the found lesions, training and predict seconds; then the winner by AUC on each
cohort, and, on the validation cohort only, the AUC of each case score the network can give
(the choice of ``UNetSettings.score``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time


class GivenMasks:
    """A fitted pipeline whose ``predict`` uses stage 1's masks made beforehand (keyed by the
    scan's identity) instead of running stage 1 again; None stands for no pancreas found."""

    def __init__(self, model, masks: dict, not_found):
        self.model, self.masks, self.not_found, self.image = model, masks, not_found, "plain"

    def predict(self, scan, pancreas=None):
        mask = self.masks[id(scan)]
        if mask is None:
            raise self.not_found("stage 1 found no pancreas")
        return self.model.predict(scan, mask)


def stage1_masks(cases, segment, not_found) -> dict:
    """Stage 1's mask of every case (None where it finds none), by the identity of its scan."""
    masks = {}
    for case in cases:
        try:
            masks[id(case.plain)] = segment(case.plain)
        except not_found:
            masks[id(case.plain)] = None
    return masks


def report(name, table, evaluation, train_seconds):
    """One detector on one cohort, in a few lines; returns its AUC."""
    s = evaluation.summary(table)
    low, high = evaluation.auc_interval(table.abnormal, table.score)
    sizes = evaluation.size_sensitivity(table)
    bands = ", ".join(f"{str(k)}: {int(r.found)}/{int(r.lesions)}" for k, r in sizes.iterrows())
    healthy = table[~table.abnormal]
    print(f"  {name:17s} AUC {s['auc']:.3f} ({low:.3f}-{high:.3f}), sens@95%spec "
          f"{s['sens_at_95_spec']:.3f}, false alarms {int(healthy.found.sum())} of "
          f"{len(healthy)} healthy, operating sens {s['operating_sensitivity']:.3f}, lesion "
          f"Dice (found) {s['median_lesion_dice_found']:.3f}; train {train_seconds:.0f} s, "
          f"predict {s['median_seconds']:.2f} s/patient (median)")
    print(f"  {'':17s} found in place per size (mm): {bands}")
    return s["auc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--retrain", action="store_true",
                        help="train the network again instead of reading the cache")
    parser.add_argument("--cohorts", nargs="+", default=["validation", "held-out", "foreign"])
    parser.add_argument("--masks", nargs="+", default=["stage1", "reference"])
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from helpers.pipeline import PancreasNotFoundError, default_pipeline, evaluation, unet_cache
    from helpers.pipeline.stage1 import segment_pancreas
    from helpers.pipeline.stage2 import unet
    from helpers.pipeline.stage2 import unet_training as ut
    from helpers.simulate import foreign, named_cohort

    start = time.perf_counter()
    boosted = default_pipeline()
    boosted_seconds = time.perf_counter() - start
    start = time.perf_counter()
    detector = unet_cache.warm_unet(progress=True, use_cache=not args.retrain)
    load_seconds = time.perf_counter() - start
    history = detector.history
    print(f"network: trained {history['seconds']:.0f} s ({len(history['train_loss'])}"
          f" epochs, kept {history['best_epoch'] + 1}); loaded or trained here in "
          f"{load_seconds:.1f} s; boosted pipeline fitted or read in {boosted_seconds:.1f} s")
    network = dataclasses.replace(boosted, detector=detector)
    load = {"validation": lambda: named_cohort("validation"),
            "held-out": lambda: named_cohort("held-out"), "foreign": foreign.foreign_cohort}
    for cohort in args.cohorts:
        cases = load[cohort]()
        print(f"{cohort} cohort ({len(cases)} patients, "
              f"{sum(c.subtype is not None for c in cases)} with a lesion):")
        for masks in args.masks:
            models = {"neural network": network, "boosted features": boosted}
            if masks == "stage1":
                start = time.perf_counter()
                given = stage1_masks(cases, segment_pancreas, PancreasNotFoundError)
                print(f" behind stage 1 ({time.perf_counter() - start:.0f} s for stage 1; "
                      f"{sum(m is None for m in given.values())} patients without a mask):")
                models = {k: GivenMasks(m, given, PancreasNotFoundError)
                          for k, m in models.items()}
            else:
                print(" on the reference pancreas:")
            aucs = {name: report(name, evaluation.evaluate(model, cases, pancreas="stage1"
                                                           if masks == "stage1" else masks),
                                 evaluation, history["seconds"] if name == "neural network"
                                 else boosted_seconds)
                    for name, model in models.items()}
            print(f"  higher AUC ({cohort}, {masks}): {max(aucs, key=aucs.get)}")
    validation = unet_cache.cohort_crops("validation", detector.settings)
    for how in unet.SCORES:
        scores = ut.crop_scores(detector.net, validation,
                                dataclasses.replace(detector.settings, score=how))
        print(f"validation AUC with score={how!r}: "
              f"{roc_auc_score(validation['abnormal'], scores):.3f}")


if __name__ == "__main__":
    main()
