"""How good is the toy pipeline? Stage 1's Dice and volume error; case-level ROC, sensitivity
at high specificity, per-size sensitivity, false positives per scan, lesion Dice and subtype
accuracy; one row per patient with what happened, and an interval for a rate.

:func:`evaluate` runs a fitted :class:`helpers.pipeline.Pipeline` on held-out virtual patients
and returns one row per patient (a pandas DataFrame); the other functions summarise such a
table. ROC, AUC, the confusion matrix and balanced accuracy come from scikit-learn. The
operating threshold was chosen on training patients (see :mod:`.stage2`), never on
the patients evaluated here; "sensitivity at 95 % specificity" reads the held-out ROC curve
(a property of the score, not a tuned threshold). Not for clinical use.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import SimpleITK as sitk
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)
from tqdm.auto import tqdm

from .. import metrics
from ..checks import EmptyMaskError, check_mask_pair
from ..simulate import SUBTYPES, gland
from .stage1 import PancreasNotFoundError
from .stage2.labels import case_arrays
from .stage3 import lesion_features

SIZE_BINS_MM = (5, 10, 15, 20, 30, 40)
OUTCOMES = ("true positive", "found elsewhere", "missed", "false alarm", "true negative")


# ------------------------------------------------------------------------- stage 1
SEARCH_MARGIN_MM = 10.0  # later stages look at the mask's bounding box plus this margin


def measure(mask: sitk.Image, reference: sitk.Image, lesion: sitk.Image | None = None) -> dict:
    """How good is a stage-1 mask? Dice, 95th-percentile Hausdorff (mm), volumes (mL), signed
    volume error (%; negative = too small), and, when a ``lesion`` mask is given, how much
    of the lesion lies inside the mask and inside the search box (the mask's bounding box
    plus :data:`SEARCH_MARGIN_MM`) that a later stage would look at. An empty mask gets
    Dice 0 and HD95 NaN. All images are binary masks on one grid
    (:class:`helpers.checks.GridMismatchError` otherwise, naming what differs), and the
    reference must not be empty (:class:`helpers.checks.EmptyMaskError`: every score would be
    undefined); an empty ``lesion`` adds no lesion columns.
    """
    check_mask_pair(mask, reference, ("mask", "reference"))
    if lesion is not None:
        check_mask_pair(lesion, reference, ("lesion", "reference"))
    if not sitk.GetArrayViewFromImage(reference).any():
        raise EmptyMaskError("the reference is empty (no voxel is set): Dice, HD95 and the "
                             "volume error (relative to the reference volume) are undefined. "
                             "Pass the reference mask of this scan (e.g. case.pancreas_plain).")
    voxel_ml = float(np.prod(reference.GetSpacing())) / 1000
    found_a = sitk.GetArrayViewFromImage(mask) != 0
    found, truth = int(found_a.sum()), int(np.count_nonzero(sitk.GetArrayViewFromImage(reference)))
    empty = found == 0
    row = {"dice": 0.0 if empty else metrics.dice(mask, reference),
           "hd95_mm": np.nan if empty else metrics.hausdorff95(mask, reference),
           "volume_ml": found * voxel_ml, "reference_ml": truth * voxel_ml,
           "volume_error_pct": 100 * (found - truth) / truth}
    lesion_a = None if lesion is None else sitk.GetArrayViewFromImage(lesion) != 0
    if lesion_a is not None and lesion_a.any():
        box = np.zeros_like(found_a)
        if not empty:
            pad = np.ceil(SEARCH_MARGIN_MM / np.asarray(reference.GetSpacing()[::-1])).astype(int)
            where = np.argwhere(found_a)
            lo, hi = np.maximum(where.min(0) - pad, 0), where.max(0) + pad + 1
            box[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
        row["lesion_in_mask_pct"] = 100 * float(found_a[lesion_a].mean())
        row["lesion_in_box_pct"] = 100 * float(box[lesion_a].mean())
    return row


def evaluate_stage1(segment, cases, method: str, keep: dict | None = None) -> list[dict]:
    """Run ``segment(plain_ct) -> mask`` on every case and :func:`measure` it (one dict per
    case, with the seconds it took). A :class:`PancreasNotFoundError` counts as a miss (an
    empty mask), not a crash. ``keep``: a dict that receives each mask under its case seed.
    """
    rows = []
    for case in cases:
        start = time.perf_counter()
        try:
            mask = segment(case.plain)
        except PancreasNotFoundError:
            mask = sitk.Image(case.pancreas_plain.GetSize(), sitk.sitkUInt8)
            mask.CopyInformation(case.pancreas_plain)
        seconds = time.perf_counter() - start
        if keep is not None:
            keep[case.seed] = mask
        rows.append({"method": method, "seed": case.seed, "subtype": case.subtype or "healthy",
                     "lesion_mm": round(case.lesion_diameter_mm),
                     **measure(mask, case.pancreas_plain, case.lesion_plain),
                     "seconds": seconds})
    return rows


def summarise_stage1(table):
    """Per method: cases, median and worst Dice, median HD95, median |volume error|, the
    worst lesion coverage by the search box, and median seconds per case."""
    if "lesion_in_box_pct" not in table:
        table = table.assign(lesion_in_box_pct=np.nan)
    grouped = table.groupby("method", sort=False)
    return grouped.agg(cases=("dice", "size"), median_dice=("dice", "median"),
                       worst_dice=("dice", "min"), median_hd95_mm=("hd95_mm", "median"),
                       median_abs_volume_error_pct=("volume_error_pct",
                                                    lambda v: v.abs().median()),
                       worst_lesion_in_box_pct=("lesion_in_box_pct", "min"),
                       median_seconds=("seconds", "median")).round(3)



# ------------------------------------------------------------------------- stages 2 and 3
def evaluate(pipeline, cases, pancreas: str = "stage1", progress: bool = False):
    """Run ``pipeline`` on every case; one row per case (a DataFrame).

    ``pancreas``: "stage1" (the chained pipeline: stage 1 finds the pancreas) or "reference"
    (the simulator's mask: stage 2 and 3 alone). The scan is the plain one, or the contrast
    one for a pipeline with ``image="contrast"``; the truth is the simulator's exact lesion
    on that scan. Columns: seed, subtype ("healthy"), diameter_mm, abnormal, gland_fat (the
    gland's fat scale, :mod:`helpers.simulate.gland`), score, found,
    hit (found and overlapping the true lesion), false_positive (found elsewhere or in a
    healthy scan), lesion_dice, predicted (subtype or ""), one probability column per
    subtype, and seconds.
    """

    if pancreas not in ("stage1", "reference"):
        raise ValueError(f"pancreas must be 'stage1' or 'reference', got {pancreas!r}")
    rows = []
    for case in tqdm(list(cases), desc="held-out patients", disable=not progress):
        scan = getattr(case, pipeline.image)
        truth = sitk.GetArrayFromImage(getattr(case, f"lesion_{pipeline.image}")) > 0
        start = time.perf_counter()
        try:
            gland = getattr(case, f"pancreas_{pipeline.image}") if pancreas == "reference" \
                else None
            result = pipeline.predict(scan, gland)
            score, found = result.score, sitk.GetArrayFromImage(result.lesion) > 0
            probs = result.subtype_probs
        except PancreasNotFoundError:  # stage 1 missed: nothing can be found
            score, found, probs = 0.0, np.zeros_like(truth), {}
        overlap = bool((found & truth).any())
        rows.append({"seed": case.seed, "subtype": case.subtype or "healthy",
                     "diameter_mm": case.lesion_diameter_mm, "abnormal": case.subtype is not None,
                     "gland_fat": getattr(case, "gland_fat", np.nan),
                     "score": score, "found": bool(found.any()), "hit": overlap,
                     "false_positive": bool(found.any()) and not overlap,
                     "lesion_dice": metrics.dice(found, truth) if truth.any() else np.nan,
                     "predicted": max(probs, key=probs.get) if probs else "",
                     **{f"p_{s}": probs.get(s, np.nan) for s in SUBTYPES},
                     "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def by_fat_group(table) -> pd.DataFrame:
    """Detection on normal glands (fat scale at most :data:`helpers.simulate.gland.NORMAL_MAX`),
    fatty ones (at least :data:`~helpers.simulate.gland.FATTY_MIN`) and all: patients, AUC over
    all lesions, AUC of PDAC and cysts against healthy, sensitivity and specificity at the
    operating threshold. One row per group (from :func:`evaluate`'s table)."""
    groups = table["gland_fat"].map(gland.fat_group)
    rows = {}
    for name, pick in (("normal", groups == "normal"), ("fatty", groups == "fatty"),
                       ("all", np.ones(len(table), bool))):
        part = table[np.asarray(pick)]
        if part["abnormal"].nunique() < 2:
            rows[name] = {"patients": len(part)}
            continue
        two = part[part["subtype"].isin(["healthy", "PDAC", "cyst"])]
        rows[name] = {"patients": len(part), "auc": roc(part["abnormal"], part["score"])["auc"],
                      "auc PDAC+cyst": roc(two["abnormal"], two["score"])["auc"]
                      if two["abnormal"].nunique() == 2 else np.nan,
                      "sensitivity": float(part.loc[part["abnormal"], "hit"].mean()),
                      "specificity": float(1 - part.loc[~part["abnormal"], "found"].mean())}
    return pd.DataFrame(rows).T


def roc(labels, scores) -> dict:
    """scikit-learn's ROC curve and AUC: ``{"fpr", "tpr", "thresholds", "auc"}``."""

    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        raise ValueError("ROC needs both healthy and lesion cases among the labels")
    fpr, tpr, thresholds = roc_curve(labels, scores)
    return {"fpr": fpr, "tpr": tpr, "thresholds": thresholds,
            "auc": float(roc_auc_score(labels, scores))}


def auc_interval(labels, scores, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval for the AUC: resample the healthy and the lesion cases
    (each group with replacement, keeping its size) ``n_boot`` times. With a few dozen cases
    it is wide, which is the point: it shows how much of a difference is noise."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    pos, neg = scores[labels], scores[~labels]
    a = rng.choice(pos, (n_boot, len(pos)))[:, :, None]
    b = rng.choice(neg, (n_boot, len(neg)))[:, None, :]
    # AUC = P(lesion score > healthy score) + half the ties (Mann-Whitney), per resample
    aucs = ((a > b).mean((1, 2)) + 0.5 * (a == b).mean((1, 2)))
    low, high = np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def auc_by_size(table, edges=(0, 20, 40)):
    """AUC of all healthy cases against the lesions of each size range (nominal diameter, mm):
    a pandas Series indexed like ``"0-20 mm (n lesions)"``."""

    out = {}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        pick = ~table["abnormal"] | table["diameter_mm"].between(lo, hi, inclusive="right")
        part = table[pick]
        n = int(part["abnormal"].sum())
        out[f"{lo}-{hi} mm ({n} lesions)"] = (roc(part["abnormal"], part["score"])["auc"]
                                             if n else np.nan)
    return pd.Series(out)


def sensitivity_at_specificity(labels, scores, specificity: float = 0.95) -> float:
    """The highest sensitivity on the ROC curve whose specificity is at least ``specificity``
    (with n healthy cases, specificity moves in steps of 1/n)."""
    curve = roc(labels, scores)
    ok = curve["fpr"] <= 1 - specificity + 1e-12
    return float(curve["tpr"][ok].max())


def size_sensitivity(table, bins=SIZE_BINS_MM):
    """Per lesion-size bin (nominal diameter, mm): lesions, how many were found *at the right
    place* (``hit``) and that fraction. A DataFrame indexed by the bin."""

    lesions = table[table["abnormal"]]
    size = pd.cut(lesions["diameter_mm"], list(bins), include_lowest=True)
    grouped = lesions.groupby(size, observed=False)["hit"]
    return pd.DataFrame({"lesions": grouped.size(), "found": grouped.sum(),
                         "sensitivity": grouped.mean().round(3)})


def summary(table) -> dict:
    """The headline numbers of an :func:`evaluate` table (operating point: the threshold
    chosen on training patients)."""
    labels, scores = table["abnormal"].to_numpy(bool), table["score"].to_numpy(float)
    healthy = ~labels
    return {"cases": len(table), "lesion_cases": int(labels.sum()),
            "auc": roc(labels, scores)["auc"],
            "sens_at_95_spec": sensitivity_at_specificity(labels, scores, 0.95),
            "sens_at_99_spec": sensitivity_at_specificity(labels, scores, 0.99),
            "operating_sensitivity": float(table.loc[labels, "hit"].mean()),
            "operating_specificity": float(1 - table.loc[healthy, "found"].mean()),
            "fp_per_scan": float(table["false_positive"].mean()),
            "median_lesion_dice_found": float(table.loc[table["hit"], "lesion_dice"].median()),
            "mean_lesion_dice": float(table.loc[labels, "lesion_dice"].mean()),
            "median_seconds": float(table["seconds"].median())}


def subtype_report(true, predicted, labels=SUBTYPES):
    """``(confusion, balanced_accuracy)``: scikit-learn's confusion matrix as a DataFrame
    (rows: true subtype, columns: predicted) and balanced accuracy (mean per-class recall)."""

    true, predicted = np.asarray(true, str), np.asarray(predicted, str)
    matrix = confusion_matrix(true, predicted, labels=list(labels))
    frame = pd.DataFrame(matrix, index=pd.Index(labels, name="true"),
                         columns=pd.Index(labels, name="predicted"))
    return frame, float(balanced_accuracy_score(true, predicted))


def lesion_feature_rows(cases, image: str = "plain", label_source: str = "exact"):
    """Stage 3's ``(x, subtypes)`` for the lesion cases among ``cases``, measured on
    ``image`` with its reference pancreas and lesion masks (``label_source`` for plain)."""
    rows, names = [], []
    for case in cases:
        if case.subtype is None:
            continue
        hu, gland, lesion = case_arrays(case, label_source, image)
        if lesion.any():
            rows.append(lesion_features(hu, lesion, gland))
            names.append(case.subtype)
    return np.asarray(rows), np.asarray(names, str)



# ------------------------------------------------------------------------- one row per patient
def outcome(abnormal: bool, found: bool, hit: bool) -> str:
    """Name what happened: a lesion patient is a *true positive* (found where it is),
    *found elsewhere* (a lesion reported, but not overlapping the real one: a miss and a false
    alarm at once) or *missed*; a healthy patient is a *false alarm* or a *true negative*."""
    if abnormal:
        return "true positive" if hit else ("found elsewhere" if found else "missed")
    return "false alarm" if found else "true negative"


def lesion_dice(found: np.ndarray, truth: np.ndarray) -> float:
    """Dice of the reported lesion against the true one; NaN when there is no true lesion."""
    truth = np.asarray(truth, bool)
    return metrics.dice(found, truth) if truth.any() else float("nan")


def patient_row(name, result, truth_lesion=None, subtype=None, diameter_mm=None) -> dict:
    """One table row: truth against what the pipeline reported (``result``: a
    :class:`helpers.pipeline.PipelineResult`; ``truth_lesion``: a mask on the scan's grid, or
    None when the truth is unknown)."""
    found = sitk.GetArrayFromImage(result.lesion) > 0
    probs = result.subtype_probs
    row = {"patient": str(name), "truth": subtype or ("healthy" if truth_lesion is not None
                                                      else "unknown (real scan)"),
           "diameter_mm": round(diameter_mm) if diameter_mm else np.nan,
           "score": round(float(result.score), 3), "found": bool(found.any())}
    if truth_lesion is None:
        return {**row, "hit": np.nan, "outcome": "no truth", "lesion_dice": np.nan,
                "predicted": max(probs, key=probs.get) if probs else ""}
    check_mask_pair(truth_lesion, result.lesion, ("truth_lesion", "result's lesion mask"))
    truth = sitk.GetArrayFromImage(truth_lesion) > 0
    hit = bool((found & truth).any())
    return {**row, "hit": hit, "outcome": outcome(truth.any(), found.any(), hit),
            "lesion_dice": round(lesion_dice(found, truth), 3),
            "predicted": max(probs, key=probs.get) if probs else ""}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % by default) for a proportion measured as
    ``successes`` of ``n``: how uncertain a rate measured on a few patients is."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0 (got {successes} of {n})")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)

