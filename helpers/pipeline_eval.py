"""How good is the toy pipeline? Case-level ROC, sensitivity at high specificity, per-size
sensitivity, false positives per scan, lesion Dice and subtype accuracy.

:func:`evaluate` runs a fitted :class:`helpers.pipeline.Pipeline` on held-out virtual patients
and returns one row per patient (a pandas DataFrame); the other functions summarise such a
table. ROC, AUC, the confusion matrix and balanced accuracy come from scikit-learn. The
operating threshold was chosen on training patients (see :mod:`helpers.stage2`), never on
the patients evaluated here; "sensitivity at 95 % specificity" reads the held-out ROC curve
(a property of the score, not a tuned threshold). Not for clinical use.
"""

from __future__ import annotations

import time

import numpy as np
import SimpleITK as sitk

from . import metrics
from .lesions import SUBTYPES

SIZE_BINS_MM = (5, 10, 15, 20, 30, 40)


def evaluate(pipeline, cases, pancreas: str = "stage1", progress: bool = False):
    """Run ``pipeline`` on every case; one row per case (a DataFrame).

    ``pancreas``: "stage1" (the chained pipeline: stage 1 finds the pancreas) or "reference"
    (the simulator's mask: stage 2 and 3 alone). The scan is the plain one, or the contrast
    one for a pipeline with ``image="contrast"``; the truth is the simulator's exact lesion
    on that scan. Columns: seed, subtype ("healthy"), diameter_mm, abnormal, score, found,
    hit (found and overlapping the true lesion), false_positive (found elsewhere or in a
    healthy scan), lesion_dice, predicted (subtype or ""), one probability column per
    subtype, and seconds.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from .pipeline import PancreasNotFoundError

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
                     "score": score, "found": bool(found.any()), "hit": overlap,
                     "false_positive": bool(found.any()) and not overlap,
                     "lesion_dice": metrics.dice(found, truth) if truth.any() else np.nan,
                     "predicted": max(probs, key=probs.get) if probs else "",
                     **{f"p_{s}": probs.get(s, np.nan) for s in SUBTYPES},
                     "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def roc(labels, scores) -> dict:
    """scikit-learn's ROC curve and AUC: ``{"fpr", "tpr", "thresholds", "auc"}``."""
    from sklearn.metrics import roc_auc_score, roc_curve

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
    import pandas as pd

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
    import pandas as pd

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
    import pandas as pd
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    true, predicted = np.asarray(true, str), np.asarray(predicted, str)
    matrix = confusion_matrix(true, predicted, labels=list(labels))
    frame = pd.DataFrame(matrix, index=pd.Index(labels, name="true"),
                         columns=pd.Index(labels, name="predicted"))
    return frame, float(balanced_accuracy_score(true, predicted))


def lesion_feature_rows(cases, image: str = "plain", label_source: str = "exact"):
    """Stage 3's ``(x, subtypes)`` for the lesion cases among ``cases``, measured on
    ``image`` with its reference pancreas and lesion masks (``label_source`` for plain)."""
    from . import stage2, stage3

    rows, names = [], []
    for case in cases:
        if case.subtype is None:
            continue
        hu, gland, lesion = stage2.case_arrays(case, label_source, image)
        if lesion.any():
            rows.append(stage3.lesion_features(hu, lesion, gland))
            names.append(case.subtype)
    return np.asarray(rows), np.asarray(names, str)


def plot_roc(curves: dict, ax=None):
    """ROC curves ``{name: (labels, scores)}`` on one axis, AUC in the legend."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    for name, (labels, scores) in curves.items():
        found = roc(labels, scores)
        ax.step(found["fpr"], found["tpr"], where="post", label=f"{name} (AUC {found['auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    ax.set_xlabel("1 - specificity (healthy scans called abnormal)")
    ax.set_ylabel("sensitivity (lesion scans called abnormal)")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def show_detection(case, result, image: str = "plain", title: str | None = None,
                   zoom_mm: float = 60.0):
    """One held-out patient with stage 2's answer: the reference pancreas, the true lesion
    (when there is one) and the lesion stage 2 reported as outlines, and its P(lesion) map as a
    colour overlay, on axial and coronal slices through the reported lesion (else the true
    lesion, else the gland). ``result``: a :class:`helpers.pipeline.PipelineResult`."""
    from . import display
    from .stage1_figures import show_outlines

    scan = getattr(case, image)
    gland, truth = getattr(case, f"pancreas_{image}"), getattr(case, f"lesion_{image}")
    has_lesion = bool(sitk.GetArrayViewFromImage(truth).any())
    # Always the same three entries (same colours in every figure); empty ones say so.
    outlines = {"pancreas (reference)": gland,
                "true lesion (simulator)" if has_lesion else "true lesion: none (healthy)":
                    truth,
                "lesion found by stage 2" if result.found else "found by stage 2: nothing":
                    result.lesion}
    probability = sitk.Resample(result.probability, scan, sitk.Transform(), sitk.sitkLinear,
                                0.0, sitk.sitkFloat32)
    centre = truth if has_lesion else result.lesion if result.found else gland
    point = display.label_centroid_mm(sitk.Cast(centre > 0, sitk.sitkUInt8), 1)
    return show_outlines(scan, outlines, point, score=probability,
                         score_label="stage 2: P(lesion) per voxel", title=title,
                         zoom_mm=zoom_mm, figsize=(11, 4.6), score_cmap="inferno")
