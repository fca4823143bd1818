"""Does the pipeline find lesions, or the simulator's signature? Patients made another way.

Run from the repository root: ``.venv/bin/python benchmarks/foreign.py [--test]``.

Patients of the foreign simulator (helpers.simulate.foreign: no mass effect, its own shapes,
intensities, anatomy variation and contrast) beside the main simulator's held-out patients,
for the default pipeline (stage 1 -> 2 -> 3, its stage 2 trained on stage 1's masks) and for
stage 2 alone (trained and tested with the reference pancreas: notebook 05's registered-label
detector). Without ``--test`` it uses the cohort "foreign validation", which design choices may
look at; ``--test`` reports on the cohort "foreign", which no choice may look at. Prints:

* stage 1's lesion coverage: the share of each lesion inside stage 1's pancreas mask;
* stage 2 with the reference pancreas: AUC (all lesions; PDAC and cysts against healthy), the
  cysts of 15 mm or more at 20 HU or more difference found at the operating threshold;
* the chained pipeline: the same AUCs, operating sensitivity and specificity;
* every detector separately on normal glands (fat scale at most 0.2) and fatty ones (at
  least 0.8), foreign and held-out (helpers.simulate.gland; issue 28);
* the issues' targets, met or not (issue 28's on normal glands).
"""

from __future__ import annotations

import argparse
import time


def rates(name, table, evaluation):
    """The headline numbers of one evaluation table, printed in one line."""
    pick = table.subtype.isin(["healthy", "PDAC", "cyst"])
    s = evaluation.summary(table)
    auc_pc = evaluation.roc(table.abnormal[pick], table.score[pick])["auc"]
    print(f"{name:42s} AUC {s['auc']:.3f} (PDAC + cyst {auc_pc:.3f}); operating sensitivity "
          f"{s['operating_sensitivity']:.3f}, specificity {s['operating_specificity']:.3f}")
    return s["auc"], auc_pc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--test", action="store_true",
                        help="report on the cohort 'foreign' (never used for a choice)")
    parser.add_argument("--n", type=int, default=None, help="foreign patients (default all)")
    args = parser.parse_args()

    import numpy as np

    from helpers import pipeline
    from helpers.pipeline import evaluation
    from helpers.simulate import foreign, gland, named_cohort

    name = "foreign" if args.test else "foreign validation"
    start = time.perf_counter()
    model = pipeline.default_pipeline()
    foreigners = foreign.foreign_cohort(args.n, name=name)
    held_out = named_cohort("held-out")
    print(f"default pipeline fitted in {time.perf_counter() - start:.1f} s; {len(foreigners)} "
          f"patients of the cohort {name!r}, {len(held_out)} held-out patients")

    coverage, coverage_fat = [], []
    for case in foreigners:
        if case.subtype:
            try:
                mask = pipeline.segment_pancreas(case.plain)
                coverage.append(pipeline.measure(mask, case.pancreas_plain, case.lesion_plain)[
                    "lesion_in_mask_pct"] / 100)
            except pipeline.PancreasNotFoundError:
                coverage.append(0.0)
            coverage_fat.append(gland.fat_group(case.gland_fat))
    print(f"stage 1 lesion coverage on {name}: median {np.median(coverage):.3f}, 10th "
          f"percentile {np.percentile(coverage, 10):.2f}, lowest {min(coverage):.2f}")
    by_group = {g: [c for c, f in zip(coverage, coverage_fat, strict=True) if f == g]
                for g in ("normal", "fatty")}
    for group, values in by_group.items():
        if values:
            print(f"  {group} glands: {len(values)} lesions, median {np.median(values):.3f}")

    alone = pipeline.make_pipeline()  # registered labels, reference pancreas at training
    reference = evaluation.evaluate(alone, foreigners, pancreas="reference")
    rates(f"{name}, stage 2 alone", reference, evaluation)
    held_alone = evaluation.evaluate(alone, held_out, pancreas="reference")
    rates("held-out, stage 2 alone", held_alone, evaluation)
    delta = np.array([c.plain_delta_hu for c in foreigners])
    cysts = (reference.subtype == "cyst") & (reference.diameter_mm >= 15) & (np.abs(delta) >= 20)
    found = int(reference.hit[cysts].sum())
    print(f"  cysts of 15 mm or more at 20 HU or more: {found} of {int(cysts.sum())} found")
    print("  found per subtype:", reference[reference.abnormal].groupby("subtype")["hit"]
          .mean().round(2).to_dict())
    chained = evaluation.evaluate(model, foreigners)
    _, foreign_pc = rates(f"{name}, chained", chained, evaluation)
    held_table = evaluation.evaluate(model, held_out)
    held_chained, _ = rates("held-out, chained", held_table, evaluation)
    foreign_chained = evaluation.roc(chained.abnormal, chained.score)["auc"]

    print("\n== by the gland's fat (normal: fat scale <= 0.2, fatty: >= 0.8)")
    tables = {f"{name}, stage 2 alone": reference, f"{name}, chained": chained,
              "held-out, stage 2 alone": held_alone, "held-out, chained": held_table}
    groups = {key: evaluation.by_fat_group(t) for key, t in tables.items()}
    for key, frame in groups.items():
        print(f"-- {key}")
        print(frame.round(3).to_string())
    normal = groups[f"{name}, chained"].loc["normal"]
    fatty = groups[f"{name}, chained"].loc["fatty"]
    normal_coverage = np.median(by_group["normal"]) if by_group["normal"] else float("nan")

    print("targets:")
    for text, ok in (
            (f"stage-1 lesion coverage median >= 0.9: {np.median(coverage):.3f}",
             np.median(coverage) >= 0.9),
            (f"cysts >= 15 mm, >= 20 HU found >= 90 %: {found} of {int(cysts.sum())}",
             found >= 0.9 * max(int(cysts.sum()), 1)),
            (f"AUC PDAC + cyst against healthy >= 0.85 (chained): {foreign_pc:.3f}",
             foreign_pc >= 0.85),
            (f"chained AUC within 0.05 of held-out: {foreign_chained:.3f} against "
             f"{held_chained:.3f}", foreign_chained >= held_chained - 0.05),
            (f"normal glands: chained AUC PDAC + cyst >= 0.85: {normal['auc PDAC+cyst']:.3f}",
             normal["auc PDAC+cyst"] >= 0.85),
            (f"normal glands: stage-1 lesion coverage median >= 0.9: {normal_coverage:.3f}",
             normal_coverage >= 0.9),
            (f"fatty glands within 0.05 of normal (chained AUC PDAC + cyst): "
             f"{fatty['auc PDAC+cyst']:.3f} against {normal['auc PDAC+cyst']:.3f}",
             fatty["auc PDAC+cyst"] >= normal["auc PDAC+cyst"] - 0.05)):
        print(f"  {text} -> {'met' if ok else 'NOT met'}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
