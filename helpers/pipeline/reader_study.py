"""A classroom reader study (notebook 07): you against the model on the same plain-CT patients.

PANDA's paper compared its network with radiologists reading the same plain CT. Here a student
reads a fixed list of never-seen virtual patients (the cohort ``"reader study"`` of
:mod:`helpers.cohorts`), rates each from 1 (surely normal) to 5 (surely a lesion) and may mark
where the lesion is; the ratings are then scored exactly like the model's case scores.

* the case list: :func:`reading_cases` (fixed by the cohort's seed, shown in that order);
* ratings: ``{patient number: Reading}`` (patients numbered 1..N), kept in the kernel, saved
  to and loaded from a small CSV (:func:`save_ratings`, :func:`load_ratings`; a malformed file
  raises :class:`RatingsFileError` naming the line);
* scripted readers (:func:`scripted_ratings`): a perfect one, one that rates by the gland's mean
  HU, and a random one, for the solutions notebook, CI and the static figure;
* the model's case scores on the same patients, cached (:mod:`.reader_model`);
* the comparison (:mod:`.reader_compare`).

Simulated patients, student readers, one anatomy: not for clinical use.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..simulate import named_cohort

COHORT = "reader study"
RATINGS = (1, 2, 3, 4, 5)
RATING_WORDS = {1: "surely normal", 2: "probably normal", 3: "unsure", 4: "probably a lesion",
                5: "surely a lesion"}
YOUR_THRESHOLD = 4  # a rating at or above it calls a lesion ("probably a lesion" or surer)
HIT_DISTANCE_MM = 10.0  # a mark this close to the true lesion (its nearest voxel) is a hit
CSV_FIELDS = ("patient", "seed", "rating", "x_mm", "y_mm", "z_mm")
SCRIPTED_READERS = ("perfect", "gland HU", "random")


class RatingsFileError(ValueError):
    """A ratings CSV that cannot be read: the message names the file and the line."""


@dataclass(frozen=True)
class Reading:
    """One patient's reading: a rating 1-5 and, optionally, where the lesion is (mm, LPS)."""

    rating: int
    point_mm: tuple[float, float, float] | None = None


def reading_cases(progress: bool = False) -> list:
    """The reader study's virtual patients, in the fixed order they are read (patient 1 first):
    the cohort ``"reader study"``, checked to share no patient with any other cohort."""
    return named_cohort(COHORT, progress=progress)


def check_rating(rating) -> int:
    """``rating`` as an int of :data:`RATINGS`, else a ValueError saying what is allowed."""
    if isinstance(rating, bool) or not isinstance(rating, int | np.integer) \
            or int(rating) not in RATINGS:
        raise ValueError(f"a rating is a whole number from 1 (surely normal) to 5 (surely a "
                         f"lesion), got {rating!r}")
    return int(rating)


def check_point(point_mm) -> tuple[float, float, float] | None:
    """A mark as three finite floats (x, y, z in mm), or None for no mark."""
    if point_mm is None:
        return None
    values = tuple(float(v) for v in point_mm)
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"a mark is three finite coordinates (x, y, z) in mm, got {point_mm!r}")
    return values


def rate(ratings: dict, patient: int, rating, point_mm=None, n: int | None = None) -> dict:
    """Record ``rating`` (and a mark, or None) for ``patient`` (1..n) in ``ratings``; returns
    ``ratings``. ``rating=None`` removes the patient's reading."""
    if n is not None and not 1 <= int(patient) <= n:
        raise ValueError(f"patient numbers run from 1 to {n}, got {patient}")
    if rating is None:
        ratings.pop(int(patient), None)
    else:
        ratings[int(patient)] = Reading(check_rating(rating), check_point(point_mm))
    return ratings


def progress_line(ratings: dict, n: int) -> str:
    """``"7 of 20 patients rated (13 to go), 2 lesions marked"``."""
    done = sum(1 for p in ratings if 1 <= p <= n)
    marked = sum(1 for p, r in ratings.items() if 1 <= p <= n and r.point_mm is not None)
    rest = f"{n - done} to go" if done < n else "all done: run the comparison below"
    return f"{done} of {n} patients rated ({rest}), {marked} marked"


def is_complete(ratings: dict, n: int) -> bool:
    """True when every patient 1..n has a rating."""
    return all(p in ratings for p in range(1, n + 1))


# ------------------------------------------------------------------------ the CSV file
def save_ratings(ratings: dict, cases, path) -> Path:
    """Write ``ratings`` to a CSV (one line per rated patient: patient number, the case's seed,
    rating, and the mark's x, y, z in mm or empty). Floats are written in full (``repr``), so
    :func:`load_ratings` gives back exactly what was saved. Returns the path."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for patient in sorted(ratings):
            reading = ratings[patient]
            point = ["", "", ""] if reading.point_mm is None else [repr(v) for v in
                                                                    reading.point_mm]
            writer.writerow([patient, int(cases[patient - 1].seed), reading.rating, *point])
    return path


def _number(text: str, what: str, where: str, kind=float):
    try:
        value = kind(text)
    except ValueError:
        raise RatingsFileError(f"{where}: {what} {text!r} is not a number") from None
    if kind is float and not math.isfinite(value):
        raise RatingsFileError(f"{where}: {what} {text!r} is not a finite number")
    return value


def parse_row(row: list[str], where: str, cases) -> tuple[int, Reading]:
    """One data line of a ratings CSV as ``(patient, Reading)``; a :class:`RatingsFileError`
    naming ``where`` (file and line) and what is wrong."""
    if len(row) != len(CSV_FIELDS):
        raise RatingsFileError(f"{where}: expected {len(CSV_FIELDS)} fields "
                               f"({','.join(CSV_FIELDS)}), found {len(row)}")
    patient = _number(row[0], "patient", where, int)
    if not 1 <= patient <= len(cases):
        raise RatingsFileError(f"{where}: patient {patient} is not in 1..{len(cases)}")
    seed = _number(row[1], "seed", where, int)
    if seed != int(cases[patient - 1].seed):
        raise RatingsFileError(f"{where}: patient {patient} has seed {seed}, but this case "
                               f"list's patient {patient} is seed {cases[patient - 1].seed}: "
                               "the file belongs to another case list")
    rating = _number(row[2], "rating", where, int)
    if rating not in RATINGS:
        raise RatingsFileError(f"{where}: rating {rating} is not one of 1-5")
    given = [text.strip() != "" for text in row[3:]]
    if any(given) and not all(given):
        raise RatingsFileError(f"{where}: a mark needs all three of x_mm, y_mm, z_mm (or none)")
    point = tuple(_number(t, name, where) for t, name in zip(row[3:], CSV_FIELDS[3:],
                                                             strict=True)) if all(given) else None
    return patient, Reading(rating, point)


def load_ratings(path, cases) -> dict:
    """The ratings saved by :func:`save_ratings` for this case list. A malformed file raises
    :class:`RatingsFileError` naming the file, the line and the problem."""
    path = Path(path)
    ratings = {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != list(CSV_FIELDS):
            raise RatingsFileError(f"{path.name}, line 1: expected the header "
                                   f"{','.join(CSV_FIELDS)!r}, found {','.join(header or [])!r}")
        for row in reader:
            where = f"{path.name}, line {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            patient, reading = parse_row(row, where, cases)
            if patient in ratings:
                raise RatingsFileError(f"{where}: patient {patient} is rated twice")
            ratings[patient] = reading
    return ratings


# ------------------------------------------------------------------------ scripted readers
def gland_mean_hu(case) -> float:
    """The mean plain-CT HU inside the case's pancreas mask."""
    gland = sitk.GetArrayViewFromImage(case.pancreas_plain) > 0
    return float(sitk.GetArrayViewFromImage(case.plain)[gland].mean())


def lesion_centre_mm(case) -> tuple[float, float, float] | None:
    """The physical centre (mm) of the case's true lesion on the plain scan, None if healthy."""
    index = np.argwhere(sitk.GetArrayViewFromImage(case.lesion_plain) > 0)
    if len(index) == 0:
        return None
    centre = index.mean(axis=0)[::-1]  # [z, y, x] -> (i, j, k)
    return tuple(float(v) for v in
                 case.lesion_plain.TransformContinuousIndexToPhysicalPoint(centre.tolist()))


def distance_to_lesion_mm(case, point_mm) -> float:
    """How far a point (mm) lies from the nearest voxel centre of the case's true lesion
    (infinity for a healthy case)."""
    index = np.argwhere(sitk.GetArrayViewFromImage(case.lesion_plain) > 0)[:, ::-1]
    if len(index) == 0:
        return math.inf
    image = case.lesion_plain
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    points = np.asarray(image.GetOrigin()) + (index * np.asarray(image.GetSpacing())) @ direction.T
    return float(np.min(np.linalg.norm(points - np.asarray(point_mm, float), axis=1)))


def scripted_ratings(cases, reader: str, seed: int = 0) -> dict:
    """The ratings of a scripted reader (never a person) on ``cases``:

    * ``"perfect"``: 5 for every lesion patient (marked at the lesion's centre), 1 otherwise;
    * ``"gland HU"``: the darker the gland on plain CT (lower mean HU inside the pancreas), the
      higher the rating, in five equal groups of the case list: a naive reading rule, which a
      fatty gland fools as much as a lesion;
    * ``"random"``: a rating drawn uniformly from 1-5 per patient (``seed``).
    """
    if reader not in SCRIPTED_READERS:
        raise ValueError(f"unknown scripted reader {reader!r}; choose one of "
                         f"{', '.join(SCRIPTED_READERS)}")
    n = len(cases)
    if reader == "perfect":
        return {p: Reading(5 if c.subtype else 1, lesion_centre_mm(c))
                for p, c in enumerate(cases, 1)}
    if reader == "random":
        drawn = np.random.default_rng(seed).integers(1, 6, n)
        return {p: Reading(int(r)) for p, r in enumerate(drawn, 1)}
    order = np.argsort([-gland_mean_hu(c) for c in cases], kind="stable")  # brightest first
    ratings = {}
    for rank, index in enumerate(order):
        ratings[int(index) + 1] = Reading(1 + (rank * len(RATINGS)) // n)
    return ratings
