"""Print a ceiling for stage-2 detection on plain CT: a location-known intensity oracle.

Run from the repository root: ``.venv/bin/python benchmarks/detection_ceiling.py [--test 64]``.

The oracle is told *where* the lesion is (the simulator's exact mask) and asks only whether
the HU inside differs from the rest of the gland more than noise would explain:

    z = |mean HU in the region - mean HU of the rest of the pancreas| / (sd * sqrt(1/n))

with ``sd`` the standard deviation of the rest of the pancreas's voxels and ``n`` the region's
voxel count (the standard error of a mean of ``n`` independent voxels). For a lesion patient
the region is its true lesion; for a healthy patient it is a compact region of a lesion's
voxel count (at most half the gland, so that a rest remains) placed at random (seeded) inside
its pancreas: the voxel count is drawn from the lesions being compared (all of them, or those
of one size band or subtype). The region is centred where the simulator would centre a lesion
of its size (helpers.simulate.choose_center: the roomier, deeper part of the gland), so that
healthy regions and lesions sit alike; the column "auc, anywhere" centres it on any pancreas
voxel instead (more of it then lies at the gland's edge, where partial volume with fat moves
the mean). The AUC (scikit-learn's ``roc_auc_score``) of ``z`` between
lesion and healthy patients says how well intensity alone separates them *when the place is
known*; it does not see shape, texture or the mass effect on the gland, so a detector can
beat it only through those. Patients: the pipeline benchmark's held-out cohort
(the cohort "held-out" of helpers.cohorts). The contrast scan is shown beside the plain one for
scale. Seconds, not minutes: it reads cached virtual patients and fits no model. Not for
clinical use.
"""

from __future__ import annotations

import argparse
import os
import time
import zlib

import numpy as np


def intensity_z(hu: np.ndarray, region: np.ndarray, pancreas: np.ndarray) -> float:
    """``|mean(hu[region]) - mean(hu[rest])| / (sd(hu[rest]) / sqrt(n))``, with ``rest`` the
    pancreas outside ``region`` and ``n`` the region's voxel count (NaN when either side has
    fewer than 2 voxels)."""
    region = np.asarray(region, bool)
    rest = np.asarray(pancreas, bool) & ~region
    n = int(region.sum())
    if n < 2 or rest.sum() < 2:
        return float("nan")
    inside, outside = hu[region], hu[rest]
    standard_error = float(outside.std(ddof=1)) / np.sqrt(n)
    return float(abs(inside.mean() - outside.mean()) / max(standard_error, 1e-6))


PLACEMENTS = ("lesion-like", "anywhere")


def region_centre(pancreas: np.ndarray, n: int, rng: np.random.Generator, spacing_mm,
                  placement: str = "lesion-like") -> np.ndarray:
    """A random centre (voxel index) for a region of ``n`` voxels: ``"lesion-like"`` by the
    simulator's rule for a lesion of that volume (any pancreas voxel if none fits),
    ``"anywhere"``: any pancreas voxel."""
    from helpers import simulate as lesions

    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}; choose one of {PLACEMENTS}")
    if placement == "lesion-like":
        radius_mm = float(np.cbrt(3 * n * np.prod(spacing_mm) / (4 * np.pi)))
        try:
            return np.array(lesions.choose_center(pancreas, spacing_mm, radius_mm, rng)[0])
        except lesions.LesionDoesNotFitError:
            pass
    where = np.argwhere(pancreas)
    return where[rng.integers(len(where))]


def random_region(pancreas: np.ndarray, n: int, rng: np.random.Generator,
                  spacing_mm=(1.0, 1.0, 1.0), placement: str = "lesion-like") -> np.ndarray:
    """A compact region of ``n`` pancreas voxels (at most half of them): the voxels nearest
    (in mm) to a centre from :func:`region_centre`."""
    where = np.argwhere(pancreas)
    n = int(max(min(n, len(where) // 2), 1))
    centre = region_centre(pancreas, n, rng, spacing_mm, placement)
    distance = np.linalg.norm((where - centre) * np.asarray(spacing_mm, float), axis=1)
    nearest = where[np.argsort(distance, kind="stable")[:n]]
    region = np.zeros(pancreas.shape, bool)
    region[tuple(nearest.T)] = True
    return region


def patient_arrays(case, image: str):
    """``(hu, pancreas, lesion, spacing_zyx_mm)`` of one patient's ``image`` scan, with the
    simulator's reference pancreas and exact lesion drawn on that scan."""
    import SimpleITK as sitk

    scan = getattr(case, image)
    hu, gland, lesion = (sitk.GetArrayFromImage(v) for v in
                         (scan, getattr(case, f"pancreas_{image}"),
                          getattr(case, f"lesion_{image}")))
    return hu.astype(np.float32), gland > 0, lesion > 0, scan.GetSpacing()[::-1]


def oracle_auc(lesion_z, lesion_n, healthy, seed: int, group: str,
               placement: str = "lesion-like") -> tuple[float, list]:
    """ROC AUC of the oracle for lesions ``lesion_z`` (voxel counts ``lesion_n``) against the
    healthy patients ``healthy`` (``[(patient seed, hu, pancreas, spacing), ...]``), each
    given a random region (:func:`random_region`) whose voxel count is drawn from
    ``lesion_n``; ``group`` names the comparison (it seeds the draws with ``seed``). Returns
    the AUC and the healthy scores."""
    from sklearn.metrics import roc_auc_score

    healthy_z = []
    for patient, hu, gland, spacing in healthy:
        rng = np.random.default_rng([seed, patient, zlib.crc32(group.encode())])
        region = random_region(gland, int(rng.choice(lesion_n)), rng, spacing, placement)
        healthy_z.append(intensity_z(hu, region, gland))
    labels = np.r_[np.ones(len(lesion_z)), np.zeros(len(healthy_z))]
    return float(roc_auc_score(labels, np.r_[lesion_z, healthy_z])), healthy_z


def size_band(diameter_mm: float, edges) -> str:
    """``"lo-hi mm"``: the band of ``edges`` holding the diameter (``lo < d <= hi``; the
    first band also holds its lower edge), or ``"other"``."""
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        if low < diameter_mm <= high or diameter_mm == edges[0] == low:
            return f"{low}-{high} mm"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", type=int, default=64, help="held-out patients (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="where healthy regions go (0)")
    args = parser.parse_args()

    import pandas as pd

    from helpers.pipeline import evaluation as pipeline_eval
    from helpers.simulate import named_cohort

    pd.set_option("display.width", 150)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    start = time.perf_counter()
    test = named_cohort("held-out", args.test)  # checked: no training patient
    lesion_cases = [c for c in test if c.subtype is not None]
    print(f"held-out patients: {len(test)} ({len(test) - len(lesion_cases)} healthy, "
          f"{len(lesion_cases)} with a lesion; {time.perf_counter() - start:.1f} s to load)")

    bins = pipeline_eval.SIZE_BINS_MM
    for image in ("plain", "contrast"):
        start = time.perf_counter()
        healthy, rows = [], []
        for case in test:
            hu, gland, lesion, spacing = patient_arrays(case, image)
            if case.subtype is None:
                healthy.append((case.seed, hu, gland, spacing))
            else:
                rows.append({"seed": case.seed, "subtype": case.subtype,
                             "diameter_mm": case.lesion_diameter_mm,
                             "voxels": int(lesion.sum()),
                             "z": intensity_z(hu, lesion, gland)})
        lesions = pd.DataFrame(rows)
        lesions["size"] = [size_band(d, bins) for d in lesions["diameter_mm"]]
        bands = [f"{lo}-{hi} mm" for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
        groups = {"all lesions": lesions}
        groups.update({band: lesions[lesions["size"] == band] for band in bands + ["other"]
                       if (lesions["size"] == band).any()})
        groups.update({subtype: part for subtype, part in lesions.groupby("subtype")})
        table = {}
        for name, part in groups.items():
            z, n = part["z"].to_numpy(), part["voxels"].to_numpy()
            auc, healthy_z = oracle_auc(z, n, healthy, args.seed, name)
            anywhere, _ = oracle_auc(z, n, healthy, args.seed, name, "anywhere")
            table[name] = {"lesions": len(part), "healthy": len(healthy_z), "auc": auc,
                           "median z, lesions": part["z"].median(),
                           "median z, healthy": float(np.median(healthy_z)),
                           "auc, anywhere": anywhere}
        print(f"\n== location-known intensity oracle, {image} CT ({time.perf_counter() - start:.1f}"
              " s)")
        print(pd.DataFrame(table).T.round(3).to_string())
    print("\nThe oracle knows where each lesion is and still uses intensity only: the mean HU "
          "inside against the rest of the gland, scaled by the noise expected for that many "
          "voxels. Shape, texture and the lesion's mass effect on the gland are not in it, so "
          "its plain-CT AUC is a ceiling only for what intensity can tell; a detector that "
          "also has to find the place can exceed it only through those other cues. Healthy "
          "regions are drawn with the voxel counts of the lesions they are compared with "
          f"(seed {args.seed}) and centred like the simulator's lesions; with a few lesions "
          "per band, each band's AUC is rough.")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
