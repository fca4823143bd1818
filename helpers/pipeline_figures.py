"""Notebook 07: the whole toy pipeline on patients it has never seen.

One figure per patient shows every stage on the same axial slice (the plain CT, stage 1's
pancreas, stage 2's probability map and lesion, stage 3's subtype probabilities) with the
truth beside it; one table row per patient says what happened. Also: never-seen virtual
patients (checked against every cohort the pipeline learnt from or was tuned on) and a
confidence interval for a rate measured on a handful of patients. Not for clinical use.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from . import metrics

NEVER_SEEN_COHORT = 7707  # notebook 07's own cohort seed; checked by check_never_seen
OUTCOMES = ("true positive", "found elsewhere", "missed", "false alarm", "true negative")


# ------------------------------------------------------------------------- who is new
def cohorts_in_use(others: int = 64) -> dict[str, set[int]]:
    """Patient seeds of every cohort the pipeline used: stage 1's labelled, validation and
    test patients (the first ``others`` of each), the pipeline's training, held-out and
    validation cohorts (:mod:`helpers.pipeline_cache`) and stage 3's lesion-only cohorts (the
    default pipeline's stage 3 also learns from the training one)."""
    from . import pipeline_cache, simulate, stage1, stage3

    used = {role: {s for s, _ in simulate.cohort_plan(others, seed)}
            for role, seed in stage1.COHORTS.items()}
    for role, settings in (("pipeline training", pipeline_cache.TRAINING_COHORT),
                           ("pipeline held-out", pipeline_cache.HELD_OUT_COHORT),
                           ("pipeline validation", pipeline_cache.VALIDATION_COHORT)):
        plan = simulate.cohort_plan(max(others, settings["n"]), settings["seed"],
                                    healthy_fraction=settings["healthy_fraction"])
        used[role] = {s for s, _ in plan}
    for role, settings in stage3.COHORTS.items():
        used[f"stage-3 {role}"] = set(stage3.cohort_seeds(role, max(others, settings["n"])))
    return used


def check_never_seen(seeds) -> None:
    """Raise ``ValueError`` if any patient seed belongs to a cohort in :func:`cohorts_in_use`."""
    seeds = {int(s) for s in seeds}
    for role, used in cohorts_in_use().items():
        shared = seeds & used
        if shared:
            raise ValueError(f"patients {sorted(shared)} are also in the {role} cohort: they "
                             "are not new to the pipeline; pick another cohort seed")


def never_seen_patients(n: int, seed: int = NEVER_SEEN_COHORT, progress: bool = False):
    """``n`` virtual patients (half healthy) that no stage has seen, cached on disk."""
    from . import simulate

    cases = simulate.make_cohort(n, seed, progress=progress)
    check_never_seen(c.seed for c in cases)
    return cases


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


# ------------------------------------------------------------------------- one figure per patient
def _centre_mm(mask: sitk.Image | None):
    if mask is None or not sitk.GetArrayViewFromImage(mask).any():
        return None
    from .display import label_centroid_mm

    return label_centroid_mm(sitk.Cast(mask > 0, sitk.sitkUInt8), 1)


def _crop(ax, masks, margin_px):
    """Zoom an axial panel onto the masks' footprint (seen from above) plus a margin."""
    from .display import to_lps

    union = None
    for mask in masks:
        if mask is not None:
            footprint = sitk.GetArrayFromImage(to_lps(mask)).any(axis=0)  # LPS [z, y, x]
            union = footprint if union is None else union | footprint
    if union is None or not union.any():
        return
    rows, cols = np.nonzero(union)
    ax.set_xlim(max(cols.min() - margin_px, -0.5), min(cols.max() + margin_px,
                                                       union.shape[1] - 0.5))
    ax.set_ylim(min(rows.max() + margin_px, union.shape[0] - 0.5),
                max(rows.min() - margin_px, -0.5))


def show_patient(scan: sitk.Image, result, truth_lesion=None, truth_pancreas=None,
                 subtype=None, title: str | None = None, window: str = "soft_tissue",
                 margin_mm: float = 30.0, figsize=(15, 3.9)):
    """Every stage of one patient on one axial slice, with the truth beside it.

    Panels: (a) the plain CT as a reader sees it; (b) stage 1's pancreas (and the reference
    pancreas when known); (c) stage 2's lesion probability with the reported lesion and the
    true lesion; (d) stage 3's subtype probabilities with the true subtype marked. The slice
    goes through the true lesion if there is one, else the reported lesion, else the pancreas.
    ``truth_lesion=None`` means the truth is unknown (a real scan). Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from . import display
    from .lesions import SUBTYPES

    truth_known = truth_lesion is not None
    point = (_centre_mm(truth_lesion) if truth_known else None)
    point = point if point is not None else _centre_mm(result.lesion)
    point = point if point is not None else _centre_mm(result.pancreas)
    k = display.point_to_slice_indices(scan, point)["axial"]
    hu, aspect = display.extract_slice(scan, "axial", k)
    prob = sitk.Resample(result.probability, scan, sitk.Transform(), sitk.sitkLinear, 0.0,
                         sitk.sitkFloat32) if result.probability is not None else None
    fig, axes = plt.subplots(1, 4, figsize=figsize, layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1, 0.8]})
    colours = {"stage 1 pancreas": "#00ff00", "reference pancreas": "#ffff00",
               "reported lesion": "#ff00ff", "true lesion": "#00ffff"}
    outlines = [("stage 1 pancreas", result.pancreas, 1), ("reference pancreas", truth_pancreas, 1),
                ("reported lesion", result.lesion, 2), ("true lesion", truth_lesion, 2)]
    for n, ax in enumerate(axes[:3]):
        grey = ax.imshow(display.apply_window(hu, window), cmap="gray", vmin=0, vmax=1,
                         aspect=aspect, interpolation="nearest")
        if n == 2 and prob is not None:
            heat_cut, _ = display.extract_slice(prob, "axial", k)
            heat = ax.imshow(np.ma.masked_less(heat_cut, 0.05), cmap="inferno", vmin=0, vmax=1,
                             alpha=0.65, aspect=aspect, interpolation="nearest")
        for name, mask, panel in outlines:
            if mask is not None and panel == n:
                cut, _ = display.extract_slice(mask, "axial", k)
                if cut.any():
                    ax.contour(cut > 0, levels=[0.5], colors=[colours[name]], linewidths=1.6,
                               linestyles="--" if name.startswith(("ref", "true")) else "-")
        _crop(ax, [result.pancreas, truth_pancreas], margin_mm / scan.GetSpacing()[0])
        display.add_edge_letters(ax, "axial")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title(f"(a) plain CT, axial slice {k}", fontsize=10)
    axes[1].set_title("(b) stage 1: pancreas", fontsize=10)
    axes[2].set_title(f"(c) stage 2: P(lesion), score {result.score:.2f}", fontsize=10)
    width, level = display.resolve_window(window)
    display.hu_colorbar(fig, grey, axes[0], window,
                        f"HU ({window.replace('_', ' ')} W {width:.0f} / L {level:.0f})")
    if prob is not None:
        fig.colorbar(heat, ax=axes[2], shrink=0.8, label="stage 2 P(lesion), 0..1")
    reported = sitk.GetArrayViewFromImage(result.lesion)
    if reported.any() and not reported[k].any():
        away = abs(_centre_mm(result.lesion)[2] - point[2])
        axes[2].text(0.02, 0.03, f"the reported lesion is on other slices\n(its centre is "
                     f"{away:.0f} mm from this one)", transform=axes[2].transAxes, fontsize=8,
                     va="bottom", color="black", bbox={"facecolor": "white", "alpha": 0.85})
    _subtype_bars(axes[3], result.subtype_probs, subtype, truth_known, SUBTYPES)
    given = [name for name, mask, _ in outlines if mask is not None]
    fig.legend(handles=[Line2D([], [], color=colours[n], lw=2, label=n,
                               ls="--" if n.startswith(("ref", "true")) else "-")
                        for n in given],
               loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _subtype_bars(ax, probs, subtype, truth_known, subtypes):
    """Panel (d): stage 3's probabilities as horizontal bars; the true subtype is marked."""
    values = [probs.get(s, 0.0) for s in subtypes]
    colours = ["#d62728" if s == subtype else "#7f7f7f" for s in subtypes]
    ax.barh(list(subtypes), values, color=colours)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("stage 3 probability")
    truth = (f"truth: {subtype} (red bar)" if subtype else "truth: healthy, no lesion"
             if truth_known else "truth unknown: no lesion annotated")
    ax.set_title(f"(d) stage 3: subtype\n{truth}", fontsize=10)
    if not probs:
        ax.text(0.5, 0.5, "not run:\nno lesion reported", ha="center", va="center",
                transform=ax.transAxes, fontsize=10)
