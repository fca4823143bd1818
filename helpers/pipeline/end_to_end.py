"""Notebook 07's end-to-end table: each stage 2 behind stage 1, on patients never seen.

Not for clinical use.
"""

from __future__ import annotations

import numpy as np

from . import evaluation
from .chain import Pipeline
from .default import default_pipeline
from .stage2 import unet


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
    """:func:`end_to_end_row` for each stage 2 of :data:`DETECTORS` (notebook 07's table);
    the network's row says how to install PyTorch when it is missing. ``boosted_results``
    (seed -> result) are the default pipeline's predictions, if already made."""
    rows = [end_to_end_row("boosted features (default)", default_pipeline(seed), cases,
                           boosted_results)]
    if unet.available():
        rows.append(end_to_end_row("neural network (notebook 08)",
                                   default_pipeline(seed, "unet"), cases))
    else:
        rows.append({"stage 2": "neural network (notebook 08)",
                     "lesions found in place": f"not run: PyTorch missing "
                     f"({unet.INSTALL_COMMAND})"})
    return rows
