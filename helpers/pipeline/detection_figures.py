"""Figures of whole patients (notebooks 05 and 07): ROC curves, stage 2's answer on one
patient, and every stage of one patient on one axial slice with the truth beside it. Thin
plotting layers over :mod:`helpers.display`. Not for clinical use.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import SimpleITK as sitk
from matplotlib.lines import Line2D

from .. import display
from ..simulate import SUBTYPES, gland
from .evaluation import roc
from .outline_figures import show_outlines


def plot_roc(curves: dict, ax=None):
    """ROC curves ``{name: (labels, scores)}`` on one axis, AUC in the legend."""

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
    lesion, else the gland). ``result``: a :class:`helpers.pipeline.PipelineResult`. The title
    also names the patient's gland fat and drawn secondary signs (:func:`case_details`)."""

    scan = getattr(case, image)
    details = case_details(case)
    title = f"{title}\n{details}" if title and details else title or details or None
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
                         zoom_mm=zoom_mm, figsize=(11, 4.6), score_cmap=display.HEAT_CMAP)



def case_details(case) -> str:
    """A virtual patient's gland fat and its lesion's drawn secondary signs, in words (what
    the simulator recorded; empty for a case that records neither)."""
    parts = []
    if getattr(case, "gland_fat", None) is not None:
        parts.append(f"gland fat scale {case.gland_fat:.2f} ({gland.fat_group(case.gland_fat)})")
    if getattr(case, "subtype", None) and hasattr(case, "signs"):
        drawn = [name for name, present in case.signs.items() if present]
        parts.append("secondary signs: " + (", ".join(drawn) if drawn else "none"))
    return "; ".join(parts)


def _centre_mm(mask: sitk.Image | None):
    if mask is None or not sitk.GetArrayViewFromImage(mask).any():
        return None
    return display.label_centroid_mm(sitk.Cast(mask > 0, sitk.sitkUInt8), 1)


def _crop(ax, masks, margin_px):
    """Zoom an axial panel onto the masks' footprint (seen from above) plus a margin."""
    union = None
    for mask in masks:
        if mask is not None:
            footprint = sitk.GetArrayFromImage(display.to_lps(mask)).any(axis=0)  # LPS [z, y, x]
            union = footprint if union is None else union | footprint
    if union is None or not union.any():
        return
    rows, cols = np.nonzero(union)
    ax.set_xlim(max(cols.min() - margin_px, -0.5), min(cols.max() + margin_px,
                                                       union.shape[1] - 0.5))
    ax.set_ylim(min(rows.max() + margin_px, union.shape[0] - 0.5),
                max(rows.min() - margin_px, -0.5))


# Outline colours of the patient figure (Okabe-Ito): what the pipeline found is solid, the
# reference and the truth are dashed, so the pairs differ in line style as well as hue.
PATIENT_COLOURS = {"stage 1 pancreas": display.RESULT_COLOUR,
                   "reference pancreas": display.REFERENCE_COLOUR,
                   "reported lesion": display.OKABE_ITO["yellow"],
                   "true lesion": display.OKABE_ITO["vermillion"]}


def _dashed(name: str) -> str:
    return "--" if name.startswith(("ref", "true")) else "-"


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
    truth_known = truth_lesion is not None
    point = (_centre_mm(truth_lesion) if truth_known else None)
    point = point if point is not None else _centre_mm(result.lesion)
    point = point if point is not None else _centre_mm(result.pancreas)
    k = display.point_to_slice_indices(scan, point)["axial"]
    prob = sitk.Resample(result.probability, scan, sitk.Transform(), sitk.sitkLinear, 0.0,
                         sitk.sitkFloat32) if result.probability is not None else None
    fig, axes = plt.subplots(1, 4, figsize=figsize, layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1, 0.8]})
    outlines = [("stage 1 pancreas", result.pancreas, 1), ("reference pancreas", truth_pancreas, 1),
                ("reported lesion", result.lesion, 2), ("true lesion", truth_lesion, 2)]
    grey, heat = _slice_panels(axes[:3], scan, k, prob, outlines, window,
                               [result.pancreas, truth_pancreas], margin_mm)
    axes[0].set_title(f"(a) plain CT, axial slice {k}", fontsize=10)
    axes[1].set_title("(b) stage 1: pancreas", fontsize=10)
    axes[2].set_title(f"(c) stage 2: P(lesion), score {result.score:.2f}", fontsize=10)
    width, level = display.resolve_window(window)
    display.hu_colorbar(fig, grey, axes[0], window,
                        f"HU ({window.replace('_', ' ')} W {width:.0f} / L {level:.0f})")
    if heat is not None:
        fig.colorbar(heat, ax=axes[2], shrink=0.8, label="stage 2 P(lesion), 0..1")
    reported = sitk.GetArrayViewFromImage(result.lesion)
    if reported.any() and not reported[k].any():
        away = abs(_centre_mm(result.lesion)[2] - point[2])
        axes[2].text(0.02, 0.03, f"the reported lesion is on other slices\n(its centre is "
                     f"{away:.0f} mm from this one)", transform=axes[2].transAxes, fontsize=8,
                     va="bottom", color="black", bbox={"facecolor": "white", "alpha": 0.85})
    _subtype_bars(axes[3], result.subtype_probs, subtype, truth_known, SUBTYPES)
    given = [name for name, mask, _ in outlines if mask is not None]
    fig.legend(handles=[Line2D([], [], color=PATIENT_COLOURS[n], lw=2, label=n, ls=_dashed(n))
                        for n in given],
               loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _slice_panels(axes, scan, k, prob, outlines, window, crop_to, margin_mm):
    """Panels (a)-(c): the windowed slice, stage 2's map on (c), each outline on its panel.
    Returns the grey and the heat-map artists (for colour bars; heat None without a map)."""
    hu, aspect = display.extract_slice(scan, "axial", k)
    heat = None
    for n, ax in enumerate(axes):
        grey = ax.imshow(display.apply_window(hu, window), cmap="gray", vmin=0, vmax=1,
                         aspect=aspect, interpolation="nearest")
        if n == 2 and prob is not None:
            heat_cut, _ = display.extract_slice(prob, "axial", k)
            heat = ax.imshow(np.ma.masked_less(heat_cut, 0.05), cmap=display.HEAT_CMAP, vmin=0,
                             vmax=1, alpha=0.65, aspect=aspect, interpolation="nearest")
        for name, mask, panel in outlines:
            if mask is not None and panel == n:
                cut, _ = display.extract_slice(mask, "axial", k)
                if cut.any():
                    ax.contour(cut > 0, levels=[0.5], colors=[PATIENT_COLOURS[name]],
                               linewidths=1.6, linestyles=_dashed(name))
        _crop(ax, crop_to, margin_mm / scan.GetSpacing()[0])
        display.add_edge_letters(ax, "axial")
        ax.set_xticks([])
        ax.set_yticks([])
    return grey, heat


def _subtype_bars(ax, probs, subtype, truth_known, subtypes):
    """Panel (d): stage 3's probabilities as horizontal bars; the true subtype is marked."""
    values = [probs.get(s, 0.0) for s in subtypes]
    colours = [display.HIGHLIGHT_COLOUR if s == subtype else display.OKABE_ITO["grey"]
               for s in subtypes]
    ax.barh(list(subtypes), values, color=colours)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("stage 3 probability")
    name = next(n for n, c in display.OKABE_ITO.items() if c == display.HIGHLIGHT_COLOUR)
    truth = (f"truth: {subtype} ({name} bar)" if subtype else "truth: healthy, no lesion"
             if truth_known else "truth unknown: no lesion annotated")
    ax.set_title(f"(d) stage 3: subtype\n{truth}", fontsize=10)
    if not probs:
        ax.text(0.5, 0.5, "not run:\nno lesion reported", ha="center", va="center",
                transform=ax.transAxes, fontsize=10)

