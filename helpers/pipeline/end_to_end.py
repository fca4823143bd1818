"""Notebook 07's end-to-end table: each stage 2 behind stage 1, on patients never seen.

Not for clinical use.
"""

from __future__ import annotations

import numpy as np

from . import detectors, evaluation
from .chain import Pipeline
from .default import default_pipeline


def end_to_end_row(name: str, model: Pipeline, cases, results=None) -> dict:
    """One summary row of a pipeline run end to end (stage 1's own masks) on ``cases``:
    lesions found in place, false alarms among the healthy, lesion Dice of the found ones.
    ``results`` (seed -> :class:`PipelineResult`) reuses predictions already made."""
    results = results or {}
    rows = [evaluation.patient_row(c.seed, results.get(c.seed) or model.predict(c.plain),
                                   c.lesion_plain, c.subtype, c.lesion_diameter_mm)
            for c in cases]
    lesion = [r for r in rows if r["truth"] != "healthy"]
    healthy = [r for r in rows if r["truth"] == "healthy"]
    dice = [r["lesion_dice"] for r in lesion if r["hit"]]
    return {"stage 2": name, "lesions found in place": f"{sum(r['hit'] for r in lesion)} of "
            f"{len(lesion)}", "false alarms": f"{sum(r['found'] for r in healthy)} of "
            f"{len(healthy)}", "median lesion Dice (found)": round(float(
                np.median(dice)), 3) if dice else float("nan")}


def end_to_end_rows(cases, seed: int = 0, boosted_results=None) -> list[dict]:
    """:func:`end_to_end_row` for each stage-2 detector of the registry
    (:func:`.detectors.detector_names`, labelled by its entry: notebook 07's table); a detector
    that cannot run here gets a row saying what to install (the network: PyTorch).
    ``boosted_results`` (seed -> result) are the default pipeline's predictions, if already
    made."""
    rows = []
    for name in detectors.detector_names():
        entry = detectors.get(name)
        if not entry.available():
            rows.append({"stage 2": entry.label,
                         "lesions found in place": f"not run: {entry.missing}"})
            continue
        reuse = boosted_results if name == detectors.DEFAULT else None
        rows.append(end_to_end_row(entry.label, default_pipeline(seed, name), cases, reuse))
    return rows
