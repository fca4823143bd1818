"""Checkers for notebook 06 (stage 3: naming the lesion's subtype).

Each checker prints instant feedback through :func:`helpers.exercises.feedback` and returns
True/False; it never raises on an unfinished answer. Expected values are computed from the
data passed in (a confusion matrix, a feature table), never typed in.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ..simulate import SUBTYPES
from .feedback import as_array, close_to, feedback, is_answered, not_answered
from .quiz import Question

TOLERANCE = 0.005
EXACT = 1e-6  # a computed answer matches to this; one typed from a printout is rounded


def _matrix(confusion):
    """(counts as a float array, class names) of a confusion matrix (rows: true)."""
    names = list(getattr(confusion, "index", SUBTYPES))
    return np.asarray(confusion, float), [str(n) for n in names]


def per_class_recall(confusion) -> np.ndarray:
    """Recall of each class: correct / all lesions that truly are that class (row sums)."""
    counts, _ = _matrix(confusion)
    return np.diag(counts) / np.maximum(counts.sum(1), 1)


def per_class_precision(confusion) -> np.ndarray:
    """Precision of each class: correct / all lesions predicted as that class (column sums)."""
    counts, _ = _matrix(confusion)
    return np.diag(counts) / np.maximum(counts.sum(0), 1)


def _as_vector(answer, names):
    """The answer as floats in the matrix's class order, or None if it cannot be read."""
    try:
        if hasattr(answer, "items"):  # dict or pandas Series
            found = {str(k): v for k, v in answer.items()}
            if set(found) != set(names):
                return None
            answer = [found[n] for n in names]
        vector = np.asarray(as_array(answer), float).ravel()  # an image: not pixel by pixel
    except (TypeError, ValueError):
        return None
    return vector if vector.size == len(names) and np.all(np.isfinite(vector)) else None


def check_recall(answer, confusion) -> bool:
    """Exercise 1: per-class recall from a confusion matrix (rows: true, columns: predicted)."""
    counts, names = _matrix(confusion)
    expected = per_class_recall(confusion)
    if not is_answered(answer):
        return not_answered("replace None with one recall per subtype (a dict, a pandas Series "
                            "or an array in the order " + ", ".join(names) + "), then run this "
                            "cell again.")
    vector = _as_vector(answer, names)
    if vector is None:
        return feedback(False, "", f"give {len(names)} numbers, one per subtype ("
                        + ", ".join(names) + "); a dict or Series must use exactly these "
                        "names as keys.")
    if close_to(vector, expected, TOLERANCE):
        worst = ", ".join(n for n, r in zip(names, expected, strict=True)
                          if r <= expected.min() + 1e-9)
        return feedback(True, "recall = correct / all lesions that truly are that subtype. "
                        f"Lowest here: {worst} ({expected.min():.2f}).", "")
    if close_to(vector, 100 * expected, 100 * TOLERANCE):
        hint = "those are percentages; give fractions between 0 and 1."
    elif close_to(vector, per_class_precision(confusion), TOLERANCE):
        hint = ("you divided by the column sums: that is *precision* (of all lesions called "
                "PDAC, how many were PDAC). Recall divides by the row sums: of all true PDACs, "
                "how many were called PDAC.")
    elif close_to(vector, np.diag(counts), TOLERANCE):
        hint = ("those are the counts on the diagonal; divide each by the number of lesions "
                "that truly are that subtype (its row sum).")
    else:
        hint = "recall of a subtype = diagonal cell / sum of its row (rows are the truth)."
    return feedback(False, "", hint)


def check_balanced_accuracy(answer, confusion) -> bool:
    """Exercise 2: balanced accuracy (mean per-class recall) from a confusion matrix."""
    counts, _ = _matrix(confusion)
    expected = float(per_class_recall(confusion).mean())
    accuracy = float(np.trace(counts) / max(counts.sum(), 1))
    if not is_answered(answer):
        return not_answered("replace None with one number between 0 and 1, then run this cell "
                            "again.")
    if close_to(answer, expected, TOLERANCE) and not close_to(answer, expected, EXACT):
        return feedback(False, "", "nearly: that looks rounded. Compute it from the matrix in "
                        "code (the mean of the per-class recalls) instead of typing it.")
    if close_to(answer, expected, EXACT):
        return feedback(True, f"balanced accuracy {expected:.3f} (plain accuracy "
                        f"{accuracy:.3f}). Every subtype counts the same, however many "
                        "lesions of it there are.", "")
    if close_to(answer, 100 * expected, 100 * TOLERANCE):
        hint = "that is a percentage; give a fraction between 0 and 1."
    elif close_to(answer, accuracy, TOLERANCE):
        hint = ("that is plain accuracy (all correct / all lesions): the common subtypes "
                "dominate it. Average the per-class recalls instead.")
    elif close_to(answer, float(per_class_precision(confusion).mean()), TOLERANCE):
        hint = ("that is the mean precision (column sums). Balanced accuracy averages recall: "
                "divide by the row sums.")
    else:
        hint = "compute each subtype's recall (diagonal / row sum) and take their mean."
    return feedback(False, "", hint)


def separation(table, feature: str, image: str = "plain") -> dict[str, float]:
    """How well ``feature`` sets each subtype apart from the other three on ``image``: the
    one-versus-rest AUC folded to 0.5..1 (0.5: no separation, 1: no overlap at all)."""
    part = table[table["image"] == image]
    out = {}
    for subtype in SUBTYPES:
        labels = (part["subtype"] == subtype).to_numpy()
        if labels.all() or not labels.any():
            continue
        auc = roc_auc_score(labels, part[feature].to_numpy(float))
        out[subtype] = float(max(auc, 1 - auc))
    return out


_SEPARATIONS: dict = {}  # (table identity, feature, image, checksum) -> separation


def _separation_of(table, feature: str, image: str) -> dict[str, float]:
    """:func:`separation`, kept for the last few tables: a checker called many times on one
    table does not redo the ROC curves."""
    values = table[feature].to_numpy(float)
    key = (id(table), feature, image, table.shape, float(np.nansum(values)))
    if key not in _SEPARATIONS:
        if len(_SEPARATIONS) > 8:
            _SEPARATIONS.clear()
        _SEPARATIONS[key] = separation(table, feature, image)
    return dict(_SEPARATIONS[key])


def median_gap(table, feature: str, subtype: str, image: str = "plain") -> float:
    """Median of ``feature`` over ``subtype``'s lesions on ``image``, minus the median over all
    the other lesions on that image."""
    part = table[table["image"] == image]
    mine = part["subtype"] == subtype
    return float(part.loc[mine, feature].median() - part.loc[~mine, feature].median())


def _subtype_named(answer):
    """The subtype an answer names (any case, spaces ignored), or None."""
    if not isinstance(answer, str):
        return None
    return {s.lower(): s for s in SUBTYPES}.get(answer.strip().lower())


def check_separated_subtype(answer, gap, table, feature: str, image: str = "plain",
                            compare=None) -> bool:
    """Exercise 3: which subtype does ``feature`` set apart from the others on ``image``, and
    by how much (``gap``: its median minus the median of all other lesions)? Two answers, so
    that a one-in-four guess of the name alone cannot pass. ``compare``: another feature table
    (the training lesions) whose separation the reply shows beside, once the answer is right.
    No hint names the answer."""
    scores = _separation_of(table, feature, image)
    best = max(scores, key=scores.get)
    if not (is_answered(answer) and is_answered(gap)):
        return not_answered("set answer to one subtype name as a string (one of "
                            + ", ".join(SUBTYPES) + ") and gap to a number computed from the "
                            "table, then run this cell again.")
    chosen = _subtype_named(answer)
    if chosen is None:
        return feedback(False, "", f"{answer!r} is not a subtype here; choose one of "
                        + ", ".join(SUBTYPES) + ".")
    if chosen != best:
        return feedback(False, "", f"{chosen} is not the subtype that '{feature}' sets apart "
                        f"best here (its one-vs-rest AUC is {scores.get(chosen, 0.5):.2f}). "
                        "Compare the standard rules printed in section 1 for all four subtypes "
                        "again, then measure each.")
    expected = median_gap(table, feature, best, image)
    if close_to(gap, expected, 0.005) and not close_to(gap, expected, EXACT):
        return feedback(False, "", f"{best} is right, and the gap is nearly right: it looks "
                        "rounded. Compute it from the table in code instead of typing it.")
    if close_to(gap, expected, EXACT):
        table_text = ", ".join(f"{s} {v:.2f}" for s, v in scores.items())
        extra = ""
        if compare is not None:
            other = _separation_of(compare, feature, image)
            extra = (" On the compared lesions the same feature gives: "
                     + ", ".join(f"{s} {v:.2f}" for s, v in other.items())
                     + f" ({best}'s median gap {median_gap(compare, feature, best, image):+.3f}).")
        return feedback(True, f"'{feature}' on {image} CT sets {best} apart best: its median is "
                        f"{expected:+.3f} from the other lesions' (one-vs-rest AUC, 0.5 = no "
                        f"separation: {table_text}).{extra}", "")
    return feedback(False, "", f"{best} is right; the gap is not. " + _gap_slip(gap, table,
                                                                              feature, best, image))


def _gap_slip(gap, table, feature, subtype, image) -> str:
    """The slip behind a wrong median gap, as far as we can tell."""
    expected = median_gap(table, feature, subtype, image)
    other = "contrast" if image == "plain" else "plain"
    part = table[table["image"] == image]
    mine = part["subtype"] == subtype
    mean_gap = float(part.loc[mine, feature].mean() - part.loc[~mine, feature].mean())
    if close_to(gap, -expected, 0.005):
        return "Check the sign: the subtype's median minus the others'."
    if close_to(gap, median_gap(table, feature, subtype, other), 0.005):
        return f"That is on {other} CT; keep only the rows with image == \"{image}\"."
    if close_to(gap, mean_gap, 0.005):
        return "That uses means; take medians (robust to a few odd lesions)."
    return (f"Take the rows with image == \"{image}\", then the median '{feature}' of "
            f"{subtype} minus the median of all other lesions.")


QUIZ_RECALL = Question(
    "recall or precision", answer="A",
    why="recall divides by the true class (a row of the confusion matrix): of all true PNETs, "
        "the share called PNET.",
    slips={"B": "that is precision: it divides by a column (all lesions *called* PNET).",
           "C": "that is plain accuracy over all subtypes, not a per-class number.",
           "D": "a probability from the forest is not a recall; recall counts decisions on "
                "held-out lesions."})
