"""Benchmark: should stage 3 also learn from the outlines stage 2 reports? Validation only.

Chained, stage 3 classifies the region stage 2 outlined, not the lesion a radiologist would
draw: it is often larger (gland around the lesion) or smaller (the lesion's core). A
classifier that learnt only from label outlines then reads shifted features. This compares
stage 3 trained on the label outlines ("labels": the training cohort's and stage 3's extra
lesions) with one that also learns from the same lesions as stage 2 outlined them
("labels+stage2": out-of-fold for stage 2's training patients, the fitted detector for the
extra ones), on the validation cohort (the cohort "validation" of helpers.cohorts; never the
held-out patients): balanced accuracy on (a) the lesions stage 2 outlines in place (reference
pancreas; whatever the case score) and (b) their exact outlines. Stage 2 is the same in both.
Repeated over a few forest seeds.

    python benchmarks/stage3_outlines.py [--seeds 3]

Findings (this machine, seeds 0-2): on (a), 24 validation lesions, labels 0.712 / 0.670 /
0.585, labels+stage2 0.839 / 0.768 / 0.804; on (b), 32 lesions, labels 0.781 / 0.750 / 0.812,
labels+stage2 0.719 / 0.719 / 0.688. The chained pipeline only ever sees (a), so the default
pipeline uses labels+stage2 (helpers.pipeline.DEFAULT_STAGE3_OUTLINES).
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="forest seeds 0..N-1 (default 3)")
    args = parser.parse_args()

    import numpy as np
    import SimpleITK as sitk
    from sklearn.metrics import balanced_accuracy_score

    from helpers.pipeline import stage3, training_cache
    from helpers.pipeline.chain import Pipeline
    from helpers.pipeline.grid import to_working
    from helpers.pipeline.stage2 import boosted
    from helpers.simulate import named_cohort

    model = Pipeline()
    table, labels_x, labels_y = training_cache.cached_training_table(model)  # both cohorts
    maps = boosted.out_of_fold_maps(table, model.seed)
    detector = boosted.fit_detector(table, model.seed, maps=maps)
    outline_x, outline_y = training_cache.cached_detected_rows(model, table,
                                                               detector.voxel_threshold, maps)
    print(f"label rows {len(labels_y)}, rows in stage 2's outlines {len(outline_y)} "
          f"(of {len(labels_y)} training lesions, those outlined in place)")

    found_x, found_y, exact_x, exact_y = [], [], [], []
    for case in named_cohort("validation"):
        if case.subtype is None:
            continue
        hu, gland, _ = to_working(case.plain, case.pancreas_plain)
        truth = sitk.GetArrayFromImage(case.lesion_plain) > 0
        exact_x.append(stage3.lesion_features(hu, truth, gland))
        exact_y.append(case.subtype)
        found = boosted.lesion_from_map(detector.probability_map(hu, gland),
                                       detector.voxel_threshold)
        if (found & truth).any():
            found_x.append(stage3.lesion_features(hu, found, gland))
            found_y.append(case.subtype)
    training = {"labels": (labels_x, labels_y),
                "labels+stage2": (np.concatenate([labels_x, outline_x]),
                                  np.concatenate([labels_y, outline_y]))}
    for name, (train_x, train_y) in training.items():
        for what, test_x, test_y in (("(a) stage 2's outlines", found_x, found_y),
                                     ("(b) exact outlines", exact_x, exact_y)):
            scores = [balanced_accuracy_score(test_y, stage3.fit_subtype_classifier(
                train_x, train_y, seed).predict(np.asarray(test_x))) for seed in range(args.seeds)]
            print(f"{name:14s} on {what:22s} ({len(test_y)} lesions): balanced accuracy "
                  f"{np.round(scores, 3).tolist()} (mean {np.mean(scores):.3f})")


if __name__ == "__main__":
    main()
