"""Print how long virtual patients take to build: per case, and a cohort of 100.

Run from the repository root: ``.venv/bin/python benchmarks/cohort.py [--n 100] [--jobs 1 2]``.
The cohort is built into a temporary cache folder (so the timing is a cold build), then
built again from that cache (the warm time a notebook sees on its second run).
Target from the issue: 100 cases in under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


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
            folder = os.path.join(tmp, f"jobs{jobs}")
            os.environ["PLAINCT_DATA"] = folder
            start = time.perf_counter()
            cases = simulate.make_cohort(args.n, args.seed, progress=False, n_jobs=jobs)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            simulate.make_cohort(args.n, args.seed, progress=False)
            warm = time.perf_counter() - start
            size = sum(f.stat().st_size for f in patients.cache_folder().glob("*.npz"))
            print(f"cohort of {len(cases)} with n_jobs={jobs}: {cold:.1f} s cold "
                  f"({cold / len(cases):.3f} s per case), {warm:.1f} s from the cache; "
                  f"cache {size / 1e6:.0f} MB")
    print(f"cpu count: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
