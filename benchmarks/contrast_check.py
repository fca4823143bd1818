"""Print how often the plain-CT check refuses a plain scan, and how often it catches a contrast one.

Run from the repository root: ``.venv/bin/python benchmarks/contrast_check.py [--n 16]``
(``--n 0``: every cohort at its full size; ``--jobs 2``: both cores).

The check (:mod:`helpers.pipeline.contrast_check`) measures each scan's blood pool without
labels and refuses one above ``ENHANCED_HU``. For every cohort of :mod:`helpers.cohorts` (the
first ``--n`` patients of each, as the cohort plans them: its seed, healthy share and lesion
appearance), each patient's plain scan is checked (a refusal there is a *false refusal*: the
target is 0), and the contrast scan of the same patient in each phase the simulator makes
(arterial, pancreatic, portal venous; the foreign simulator makes a pancreatic-phase scan
only) is checked for a *catch*. The real native scans of the registry must pass too; the real
arterial chest CT angiogram is shown for what it is (a limit of the check: see its module).
Patients are built afresh (not cached), so a rerun after a simulator change measures the new
patients. Figures are printed, never stored.
"""

from __future__ import annotations

import argparse
import functools
import time

PHASES = ("arterial", "pancreatic", "portal_venous")
FOREIGN_COHORTS = ("foreign", "foreign validation")


def patients(name: str, n: int | None):
    """``(seed, subtype, appearance)`` of the first ``n`` patients of cohort ``name``."""
    from helpers import cohorts, simulate
    from helpers.simulate.foreign import foreign_plan

    spec = cohorts.cohort(name)
    n = spec.n if not n else min(n, spec.n)
    if name in FOREIGN_COHORTS:
        return [(seed, subtype, "foreign") for seed, subtype in foreign_plan(n, name)]
    if spec.consecutive:  # the registration study: every subtype in turn (its own rule)
        return [(seed, simulate.SUBTYPES[seed % len(simulate.SUBTYPES)], spec.appearance)
                for seed in cohorts.patient_seeds(name, n)]
    return [(seed, subtype, spec.appearance) for seed, subtype in
            simulate.cohort_plan(n, spec.seed, healthy_fraction=spec.healthy_fraction)]


def measure_patient(plan) -> dict:
    """The blood pool's HU on one patient's plain scan and on each contrast scan (None: too
    small to measure, which the check does not judge)."""
    from helpers.pipeline.contrast_check import measure_blood_pool
    from helpers.simulate import make_case
    from helpers.simulate.foreign import foreign_case

    seed, subtype, appearance = plan
    if appearance == "foreign":
        case = foreign_case(seed, subtype, use_cache=False)
        scans = {"plain": case.plain, "pancreatic": case.contrast}
    else:
        scans = {}
        for phase in PHASES:
            case = make_case(seed, subtype, phase=phase, appearance=appearance)
            scans.setdefault("plain", case.plain)  # the same plain scan in every phase
            scans[phase] = case.contrast
    pools = {name: measure_blood_pool(scan) for name, scan in scans.items()}
    return {name: None if pool is None else pool.hu for name, pool in pools.items()}


def cohort_row(name: str, values: list[dict], threshold: float) -> dict:
    """One printed row: false refusals on plain scans, catches per phase, and the margins."""
    plain = [v["plain"] for v in values]
    row = {"cohort": name, "patients": len(values),
           "plain refused": f"{sum(h is not None and h > threshold for h in plain)} of "
                            f"{len(plain)}",
           "plain HU (max)": round(max((h for h in plain if h is not None), default=float(
               "nan")), 1)}
    for phase in PHASES:
        seen = [v[phase] for v in values if phase in v]
        if not seen:
            row[phase] = "not made"
            continue
        caught = sum(h is not None and h > threshold for h in seen)
        low = min((h for h in seen if h is not None), default=float("nan"))
        row[phase] = f"{caught} of {len(seen)} (min {low:.0f} HU)"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=16,
                        help="patients per cohort (default 16; 0: each cohort's full size)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--cohorts", nargs="*", help="only these cohorts (default: all)")
    args = parser.parse_args()

    import pandas as pd

    from helpers import cohorts, data, workers
    from helpers.pipeline.contrast_check import ENHANCED_HU, measure_blood_pool

    names = args.cohorts or list(cohorts.COHORTS)
    print(f"contrast check: a scan is refused when its blood pool is above {ENHANCED_HU:g} HU;"
          f" patients per cohort: {'full' if not args.n else f'first {args.n}'}")
    rows, start = [], time.perf_counter()
    for name in names:
        plans = patients(name, args.n)
        values = workers.map_ordered(functools.partial(measure_patient), plans,
                                     n_jobs=args.jobs, desc=name)
        rows.append(cohort_row(name, values, ENHANCED_HU))
        print(f"  {name}: {rows[-1]}", flush=True)
    table = pd.DataFrame(rows).set_index("cohort")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\n== false refusals (plain scans) and catches (contrast scans), per cohort")
        print(table.to_string())
    total = sum(r["patients"] for r in rows)
    refused = sum(int(r["plain refused"].split(" of ")[0]) for r in rows)
    print(f"\nplain scans refused: {refused} of {total} ({100 * refused / total:.1f} %)")
    for phase in PHASES:
        made = [r[phase] for r in rows if r[phase] != "not made"]
        caught = sum(int(v.split(" of ")[0]) for v in made)
        scans = sum(int(v.split(" of ")[1].split(" ")[0]) for v in made)
        print(f"{phase} scans caught: {caught} of {scans} ({100 * caught / scans:.1f} %)")
    print("\n== real scans of the registry")
    for sample in ("totalsegmentator_example_ct_sm", "totalsegmentator_example_ct",
                   "totalsegmentator_arterial_ct_cropped"):
        pool = measure_blood_pool(data.load_ct(sample))
        verdict = "not judged (too small)" if pool is None else (
            f"{pool.hu:.0f} HU on {pool.slices} slices: "
            + ("refused as contrast" if pool.enhanced else "passes as plain"))
        print(f"  {sample}: {verdict}")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
