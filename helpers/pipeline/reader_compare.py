"""The reader study's comparison (notebook 07): a student's ratings against the model's scores
on the same patients, and the whole class's files at once.

:func:`compare` scores a complete set of ratings like the model's case scores (ROC, AUC with a
bootstrap interval: :func:`helpers.pipeline.evaluation.roc` and
:func:`~helpers.pipeline.evaluation.auc_interval`), at the student's own threshold and at the
model's operating point; :func:`disagreements` lists the patients where the two disagree;
:func:`localisation` counts the marks that hit the true lesion. With ratings missing,
:func:`compare` prints "Not answered yet" and returns None, and every function here accepts
that None, so a lesson runs to the end without a reader. Not for clinical use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .evaluation import auc_interval, roc
from .reader_model import ModelReading
from .reader_study import (
    HIT_DISTANCE_MM,
    YOUR_THRESHOLD,
    RatingsFileError,
    distance_to_lesion_mm,
    is_complete,
    load_ratings,
    progress_line,
)

SMALL_LESION_MM = 20.0  # "small": a nominal diameter below this (the checked exercise)


def reading_not_finished(what_to_do: str) -> None:
    """Print that the reading is not finished, with what to do (as the exercises' checkers
    do); return None."""
    print("Not answered yet: " + what_to_do)


@dataclass(frozen=True)
class Comparison:
    """A complete reading against the model's on the same patients."""

    cases: list
    ratings: dict  # patient number -> Reading
    model: ModelReading
    threshold: int  # the reader's: a rating at or above it calls a lesion

    @property
    def truth(self) -> np.ndarray:
        """True for the lesion patients, in reading order."""
        return np.array([bool(c.subtype) for c in self.cases])

    @property
    def rating_values(self) -> np.ndarray:
        """The ratings as integers, in reading order."""
        return np.array([self.ratings[p].rating for p in range(1, len(self.cases) + 1)])

    @property
    def reader_calls(self) -> np.ndarray:
        """True where the reader calls a lesion (rating at or above their threshold)."""
        return self.rating_values >= self.threshold


def compare(cases, ratings: dict, model: ModelReading, threshold: int = YOUR_THRESHOLD):
    """A :class:`Comparison`, or None (printing "Not answered yet" and the progress) while
    some patient has no rating."""
    if not is_complete(ratings, len(cases)):
        done = progress_line(ratings, len(cases))
        reading_not_finished(f"rate every patient in the reader above first ({done}), or load your "
                     "saved ratings; then run this cell again.")
        return None
    return Comparison(list(cases), dict(ratings), model, int(threshold))


def call_rates(truth, calls) -> dict:
    """Sensitivity and specificity of yes/no calls, with their counts."""
    truth, calls = np.asarray(truth, bool), np.asarray(calls, bool)
    hits, lesions = int((calls & truth).sum()), int(truth.sum())
    quiet, healthy = int((~calls & ~truth).sum()), int((~truth).sum())
    return {"sensitivity": hits / lesions, "specificity": quiet / healthy,
            "lesions called": f"{hits} of {lesions}", "healthy called normal":
            f"{quiet} of {healthy}"}


def reader_summary(comparison: Comparison | None) -> pd.DataFrame | None:
    """One row for the reader (ROC AUC, its 95 % bootstrap interval, sensitivity and
    specificity at their threshold) and one for the model (at its operating point)."""
    if comparison is None:
        return reading_not_finished("no comparison without your ratings (see above).")
    c, rows = comparison, []
    for name, scores, calls in ((f"you (a rating of {c.threshold} or more calls a lesion)",
                                 c.rating_values, c.reader_calls),
                                (f"the model (score {c.model.threshold:.3f} or more)",
                                 c.model.scores, c.model.calls)):
        low, high = auc_interval(c.truth, scores)
        rows.append({"reader": name, "AUC": roc(c.truth, scores)["auc"],
                     "AUC 95 % interval": f"{low:.2f}-{high:.2f}", **call_rates(c.truth, calls)})
    return pd.DataFrame(rows).set_index("reader")


def disagreements(comparison: Comparison | None) -> pd.DataFrame | None:
    """The patients where the reader's call (at their threshold) and the model's (at its
    operating point) differ, with the truth and who was right."""
    if comparison is None:
        return reading_not_finished("no table without your ratings (see above).")
    c, rows = comparison, []
    for i, case in enumerate(c.cases):
        if c.reader_calls[i] == c.model.calls[i]:
            continue
        right = "you" if c.reader_calls[i] == c.truth[i] else "the model"
        rows.append({"patient": i + 1, "truth": case.subtype or "healthy",
                     "diameter_mm": round(case.lesion_diameter_mm, 1),
                     "gland_fat": round(float(case.gland_fat), 2),
                     "your rating": int(c.rating_values[i]),
                     "model score": round(float(c.model.scores[i]), 3), "right": right})
    columns = ["patient", "truth", "diameter_mm", "gland_fat", "your rating", "model score",
               "right"]
    return pd.DataFrame(rows, columns=columns).set_index("patient")


def localisation(comparison: Comparison | None, distance_mm: float = HIT_DISTANCE_MM):
    """Per lesion patient: the reader's mark and the model's reported lesion centre, each a hit
    when within ``distance_mm`` of the true lesion's nearest voxel (None: not marked or not
    reported)."""
    if comparison is None:
        return reading_not_finished("no localisation without your ratings (see above).")
    c, rows = comparison, []
    for i, case in enumerate(c.cases):
        if not case.subtype:
            continue
        mark = c.ratings[i + 1].point_mm
        centre = c.model.centres_mm[i]
        reported = c.model.calls[i] and np.isfinite(centre).all()
        yours = None if mark is None else distance_to_lesion_mm(case, mark)
        model = distance_to_lesion_mm(case, centre) if reported else None
        rows.append({"patient": i + 1, "truth": case.subtype,
                     "diameter_mm": round(case.lesion_diameter_mm, 1),
                     "your mark (mm away)": None if yours is None else round(yours, 1),
                     "your hit": None if yours is None else yours <= distance_mm,
                     "model's lesion (mm away)": None if model is None else round(model, 1),
                     "model's hit": None if model is None else model <= distance_mm})
    return pd.DataFrame(rows).set_index("patient")


def subset_auc(comparison: Comparison, keep, scores=None) -> float:
    """The ROC AUC of the reader's ratings (or of ``scores``) on the patients where ``keep``
    is True."""
    keep = np.asarray(keep, bool)
    scores = comparison.rating_values if scores is None else np.asarray(scores)
    return roc(comparison.truth[keep], scores[keep])["auc"]


def small_lesion_mask(comparison: Comparison, below_mm: float = SMALL_LESION_MM) -> np.ndarray:
    """True for every healthy patient and every lesion smaller than ``below_mm`` (nominal
    diameter)."""
    sizes = np.array([c.lesion_diameter_mm for c in comparison.cases])
    return ~comparison.truth | (sizes < below_mm)


def read_ratings_folder(folder, cases) -> tuple[dict, list[str]]:
    """Every ``*.csv`` of ``folder`` as ratings, ``({file stem: ratings}, problems)``: a file
    that cannot be read, or that leaves patients unrated, is left out and named in
    ``problems`` (with the line, for a malformed one)."""
    readers, problems = {}, []
    for path in sorted(Path(folder).glob("*.csv")):
        try:
            ratings = load_ratings(path, cases)
        except (RatingsFileError, OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name} left out: {exc}")
            continue
        if not is_complete(ratings, len(cases)):
            problems.append(f"{path.name} left out: {progress_line(ratings, len(cases))}")
            continue
        readers[path.stem] = ratings
    return readers, problems


def class_table(cases, readers: dict, model: ModelReading,
                threshold: int = YOUR_THRESHOLD) -> pd.DataFrame:
    """One row per reader of ``readers`` (name -> complete ratings) and one for the model:
    AUC, its bootstrap interval, sensitivity and specificity at each one's threshold."""
    rows = []
    for name, ratings in readers.items():
        table = reader_summary(Comparison(list(cases), ratings, model, threshold))
        rows.append(table.iloc[[0]].rename(index={table.index[0]: name}))
    truth = np.array([bool(c.subtype) for c in cases])
    low, high = auc_interval(truth, model.scores)
    rows.append(pd.DataFrame([{"reader": f"the model (score {model.threshold:.3f} or more)",
                               "AUC": roc(truth, model.scores)["auc"],
                               "AUC 95 % interval": f"{low:.2f}-{high:.2f}",
                               **call_rates(truth, model.calls)}]).set_index("reader"))
    return pd.concat(rows)
