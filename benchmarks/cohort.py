"""Print how long virtual patients take to build: per case, and a cohort of 100.

Run from the repository root: ``.venv/bin/python benchmarks/cohort.py [--n 100] [--jobs 1 2]``.
The cohort is built from the seeds (a cold build, what a notebook's first use of a cohort
costs: virtual patients are not stored on disk), then asked for again in the same process
(kept in memory). Also printed: what storing them would have saved, the seconds to read the
same cases back from ``.npz`` files, and the bytes those files take. Target from the issue:
100 cases in under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import SimpleITK as sitk


def record_arrays(case) -> dict:
    """A case's scans (int16 HU) and masks (uint8), as the cache stored them before issue 31."""
    arrays = {"plain": case.plain, "contrast": case.contrast, "lesion_plain": case.lesion_plain,
              "lesion_contrast": case.lesion_contrast, "pancreas_plain": case.pancreas_plain,
              "pancreas_contrast": case.pancreas_contrast}
    return {k: sitk.GetArrayFromImage(v).astype(np.int16 if k in ("plain", "contrast")
                                               else np.uint8) for k, v in arrays.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100, help="cohort size (default 100)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2],
                        help="process counts to time (default: 1 2)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PLAINCT_DATA"] = tmp  # a cold, private cache; the real data is re-read
        from helpers import simulate
        from helpers.simulate import case as virtual_patients
        from helpers.simulate import patients

        start = time.perf_counter()
        simulate.load_base()
        for phase in simulate.PHASES:
            virtual_patients._components(phase)
        print(f"one-off set-up (load, denoise, enhancement maps): "
              f"{time.perf_counter() - start:.2f} s")

        for subtype in (None, "PDAC", "SPT"):
            times = []
            for seed in range(5):
                start = time.perf_counter()
                simulate.make_case(seed, subtype)
                times.append(time.perf_counter() - start)
            print(f"make_case({subtype}): median {sorted(times)[2]:.3f} s over 5 seeds")

        for jobs in args.jobs:
            patients.KEPT.clear()
            start = time.perf_counter()
            cases = simulate.make_cohort(args.n, args.seed, progress=False, n_jobs=jobs)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            simulate.make_cohort(args.n, args.seed, progress=False)
            warm = time.perf_counter() - start
            print(f"cohort of {len(cases)} with n_jobs={jobs}: {cold:.1f} s cold "
                  f"({cold / len(cases):.3f} s per case), {warm:.2f} s kept in memory")
        stored = os.path.join(tmp, "stored")
        os.makedirs(stored)
        for n, case in enumerate(cases):  # what the cache held before issue 31
            np.savez_compressed(os.path.join(stored, f"{n}.npz"), **record_arrays(case))
        start = time.perf_counter()
        for n in range(len(cases)):
            with np.load(os.path.join(stored, f"{n}.npz")) as z:
                {k: z[k] for k in z.files}
        read = time.perf_counter() - start
        size = sum(os.path.getsize(os.path.join(stored, f)) for f in os.listdir(stored))
        print(f"stored instead: {read / len(cases):.3f} s per case to read back, "
              f"{size / len(cases) / 1e6:.2f} MB per case on disk")
    print(f"cpu count: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
