"""What a test's sensitivity and specificity mean when a whole population is screened.

Notebook 07 uses these to turn a detector's operating point into people: how many of the
people who have the condition are found, how many are missed, and how many people without it
are recalled for a work-up they did not need. The condition is whatever the sensitivity and
specificity were measured for: PANDA's published real-world figures are for detecting **any
pancreatic lesion** (cysts included), so notebook 07 counts lesions, not cancers. The
prevalence is always an input stated by the caller (an assumption, not a fact about any real
population).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreeningOutcome:
    """Expected counts when ``screened`` people are tested once (rounded only for display)."""

    screened: int
    prevalence: float
    sensitivity: float
    specificity: float
    true_positives: float
    false_negatives: float
    false_positives: float
    true_negatives: float

    @property
    def ppv(self) -> float:
        """Positive predictive value: the share of positive results that truly have the
        condition (for a lesion detector: a lesion)."""
        positives = self.true_positives + self.false_positives
        return self.true_positives / positives if positives else float("nan")

    @property
    def npv(self) -> float:
        """Negative predictive value: the share of negative results that truly do not have the
        condition."""
        negatives = self.true_negatives + self.false_negatives
        return self.true_negatives / negatives if negatives else float("nan")

    @property
    def false_alarms_per_case_found(self) -> float:
        """People without the condition recalled for each person with it that the test finds
        (for a lesion detector: false alarms per lesion found)."""
        if not self.true_positives:
            return float("inf")
        return self.false_positives / self.true_positives

    @property
    def false_alarms_per_cancer_found(self) -> float:
        """:attr:`false_alarms_per_case_found`, under the name it had when the condition was
        always a cancer (kept for older code)."""
        return self.false_alarms_per_case_found

    def as_row(self, label: str, condition: str = "cancer") -> dict[str, object]:
        """A table row for notebooks: counts rounded to whole people, rates in %.
        ``condition`` names what the test detects, in the column names (notebook 07:
        ``"lesion"``, since PANDA's published figures are for any pancreatic lesion)."""
        return {"operating point": label,
                "sensitivity %": round(100 * self.sensitivity, 1),
                "specificity %": round(100 * self.specificity, 2),
                f"{condition}s found": round(self.true_positives),
                f"{condition}s missed": round(self.false_negatives),
                "false alarms": round(self.false_positives),
                "PPV %": round(100 * self.ppv, 1),
                f"false alarms per {condition} found": round(self.false_alarms_per_case_found,
                                                             2)}


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction between 0 and 1 (got {value:g}); "
                         f"write 99.9 % as 0.999.")
    return value


def screening_outcome(sensitivity: float, specificity: float, prevalence: float,
                      screened: int = 100_000) -> ScreeningOutcome:
    """Expected results of screening ``screened`` people once.

    ``prevalence`` is the fraction of screened people who have the condition the test detects
    at the time of the scan; ``sensitivity`` and ``specificity`` are fractions (0.929, not 92.9).
    """
    sensitivity = _check_fraction("sensitivity", sensitivity)
    specificity = _check_fraction("specificity", specificity)
    prevalence = _check_fraction("prevalence", prevalence)
    if int(screened) <= 0:
        raise ValueError(f"screened must be a positive number of people (got {screened}).")
    sick = screened * prevalence
    healthy = screened - sick
    return ScreeningOutcome(
        screened=int(screened), prevalence=prevalence, sensitivity=sensitivity,
        specificity=specificity,
        true_positives=sick * sensitivity, false_negatives=sick * (1 - sensitivity),
        false_positives=healthy * (1 - specificity), true_negatives=healthy * specificity)
