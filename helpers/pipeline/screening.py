"""What a test's sensitivity and specificity mean when a whole population is screened.

Notebook 07 uses these to turn a detector's operating point into people: how many cancers are
found, how many are missed, and how many healthy people are recalled for a work-up they did not
need. The prevalence is always an input stated by the caller (an assumption, not a fact about
any real population).
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
        """Positive predictive value: the share of positive results that are real cancers."""
        positives = self.true_positives + self.false_positives
        return self.true_positives / positives if positives else float("nan")

    @property
    def npv(self) -> float:
        """Negative predictive value: the share of negative results that are truly healthy."""
        negatives = self.true_negatives + self.false_negatives
        return self.true_negatives / negatives if negatives else float("nan")

    @property
    def false_alarms_per_cancer_found(self) -> float:
        """Healthy people recalled for each cancer the test finds."""
        if not self.true_positives:
            return float("inf")
        return self.false_positives / self.true_positives

    def as_row(self, label: str) -> dict[str, object]:
        """A table row for notebooks: counts rounded to whole people, rates in %."""
        return {"operating point": label,
                "sensitivity %": round(100 * self.sensitivity, 1),
                "specificity %": round(100 * self.specificity, 2),
                "cancers found": round(self.true_positives),
                "cancers missed": round(self.false_negatives),
                "false alarms": round(self.false_positives),
                "PPV %": round(100 * self.ppv, 1),
                "false alarms per cancer found": round(self.false_alarms_per_cancer_found, 1)}


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction between 0 and 1 (got {value:g}); "
                         f"write 99.9 % as 0.999.")
    return value


def screening_outcome(sensitivity: float, specificity: float, prevalence: float,
                      screened: int = 100_000) -> ScreeningOutcome:
    """Expected results of screening ``screened`` people once.

    ``prevalence`` is the fraction of screened people who have the disease at the time of the
    scan; ``sensitivity`` and ``specificity`` are fractions (0.929, not 92.9).
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
