"""Record how a SimpleITK registration progresses, without global state.

:class:`RegistrationRecorder` attaches callbacks to an ``ImageRegistrationMethod`` and keeps
the metric per iteration and per resolution level in its own lists, so several
registrations can be recorded side by side and plotted (the metric-versus-iteration plot of
notebook 03). :mod:`helpers.registration` exports it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd
import SimpleITK as sitk


@dataclass
class RegistrationRecorder:
    """Metric value at every optimiser iteration, per stage and resolution level.

    Pass one to :func:`register` (``recorder=``) or :meth:`attach` it to your own
    ``sitk.ImageRegistrationMethod``. It keeps its own lists (no global state), so several
    registrations can be recorded side by side.
    """

    rows: list = field(default_factory=list)  # (stage, level, iteration, metric)
    stages: list = field(default_factory=list)  # one dict per finished stage

    def attach(self, method: sitk.ImageRegistrationMethod, stage: str) -> None:
        """Record ``method``'s iterations under the name ``stage``."""
        started = {}

        def on_start():
            started["t"] = time.perf_counter()

        def on_iteration():
            self.rows.append((stage, method.GetCurrentLevel(), method.GetOptimizerIteration(),
                              method.GetMetricValue()))

        def on_end():
            self.stages.append({
                "stage": stage, "iterations": sum(r[0] == stage for r in self.rows),
                "seconds": round(time.perf_counter() - started.get("t", time.perf_counter()), 2),
                "final_metric": method.GetMetricValue(),
                "stop": method.GetOptimizerStopConditionDescription()})

        method.AddCommand(sitk.sitkStartEvent, on_start)
        method.AddCommand(sitk.sitkIterationEvent, on_iteration)
        method.AddCommand(sitk.sitkEndEvent, on_end)

    def __len__(self) -> int:
        return len(self.rows)

    def table(self):
        """The recorded iterations as a pandas DataFrame."""
        return pd.DataFrame(self.rows, columns=["stage", "level", "iteration", "metric"])

    def plot(self, ax=None, title: str | None = None):
        """Metric versus iteration; colours are stages, dotted lines start resolution levels."""
        if not self.rows:
            raise ValueError("nothing recorded yet: run a registration with this recorder first")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
        previous = None
        for n, (stage, level, _, _) in enumerate(self.rows):
            if (stage, level) != previous:
                ax.axvline(n, color="0.6", ls=":", lw=1)
                ax.text(n + 0.5, 1.0, f"{stage}\nlevel {level + 1}", fontsize=8, va="top",
                        transform=ax.get_xaxis_transform(), color="0.3")
                previous = (stage, level)
        for stage in dict.fromkeys(r[0] for r in self.rows):
            x = [n for n, r in enumerate(self.rows) if r[0] == stage]
            ax.plot(x, [self.rows[n][3] for n in x], ".-", ms=3, label=stage)
        ax.set_xlabel("optimiser iteration (all stages and levels, in order)")
        ax.set_ylabel("Mattes MI metric\n(lower = better match)")
        ax.legend(loc="lower left", fontsize=9)
        ax.set_title(title or "Registration progress")
        return ax
