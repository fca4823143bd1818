"""The reader study's widgets (notebook 07): read and rate the patients, then reveal them.

:class:`ReaderWidget` shows one patient at a time (three plain-CT slices through the gland,
window and level adjustable, a slider that moves the three slices together), takes a rating
from 1 to 5 and, optionally, a mark placed with a cross, and saves or loads the ratings as a
CSV. :class:`RevealWidget` shows, for a chosen patient, the contrast scan and the true lesion.
Both are thin layers of ipywidgets over the pure functions of :mod:`.reader_study` and
:mod:`.reader_figures`, so every callback can be called, and tested, without a browser.
Not for clinical use.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt

from .. import display
from .reader_compare import disagreements
from .reader_figures import PANELS, point_of, prepare_reading, render_reading_png, show_reveal
from .reader_study import RATING_WORDS, RATINGS, load_ratings, progress_line, rate, save_ratings

DEFAULT_FILE = "my_reading.csv"


class ReaderWidget(display.viewer.WindowSync):
    """Read the case list and rate each patient; ``ratings`` (patient -> Reading) is the same
    dict the caller passed in, filled as the student rates. Display it by leaving it as the
    last expression of a cell. Callbacks: ``on_patient``, ``on_view``, ``on_rating``,
    ``on_mark``, ``on_previous``, ``on_next``, ``on_save``, ``on_load``."""

    def __init__(self, cases, ratings: dict, window: str = "pancreas",
                 path: str = DEFAULT_FILE):
        import ipywidgets as w  # slow to import, and only needed with a live kernel

        self.cases, self.ratings = cases, ratings
        self.views = {}
        self._syncing = False
        slider = dict(continuous_update=False, style={"description_width": "110px"},
                      layout=w.Layout(width="380px"))
        self.patient = w.IntSlider(value=1, min=1, max=len(cases), description="patient",
                                   **slider)
        self.previous, self.next = w.Button(description="< previous"), w.Button(
            description="next >")
        self.shift = w.IntSlider(value=0, description="move slices", **slider)
        self.preset = w.Dropdown(options=[*display.WINDOW_PRESETS, "custom"], value=window,
                                 description="window")
        width, level = display.resolve_window(window)
        self.width = w.IntSlider(value=int(width), min=1, max=2000, description="width (HU)",
                                 **slider)
        self.level = w.IntSlider(value=int(level), min=-500, max=500, description="level (HU)",
                                 **slider)
        self.rating = w.ToggleButtons(options=[(f"{r} {RATING_WORDS[r]}", r) for r in RATINGS],
                                      value=None, description="your rating",
                                      style={"button_width": "120px"})
        self.panel = w.Dropdown(options=[(name, i) for i, name in enumerate(PANELS)], value=1,
                                description="cross on")
        self.row, self.col = (w.IntSlider(description=d, **slider) for d in
                              ("cross row", "cross column"))
        self.mark = w.Checkbox(value=False, description="a lesion is under the cross")
        self.file = w.Text(value=path, description="file")
        self.save, self.load = w.Button(description="save"), w.Button(description="load")
        self.picture, self.status, self.log = w.Image(format="png"), w.HTML(), w.Output()
        self.widget = w.VBox([
            w.HBox([self.patient, self.previous, self.next]), self.picture,
            w.HBox([w.VBox([self.shift, self.preset, self.width, self.level]),
                    w.VBox([self.panel, self.row, self.col, self.mark])]),
            self.rating, w.HBox([self.file, self.save, self.load]), self.status, self.log])
        for control, callback in ((self.patient, self.on_patient), (self.shift, self.on_view),
                                  (self.width, self.on_window), (self.level, self.on_window),
                                  (self.preset, self.on_preset), (self.panel, self.on_view),
                                  (self.row, self.on_view), (self.col, self.on_view),
                                  (self.rating, self.on_rating), (self.mark, self.on_mark)):
            control.observe(callback, names="value")
        self.previous.on_click(self.on_previous)
        self.next.on_click(self.on_next)
        self.save.on_click(self.on_save)
        self.load.on_click(self.on_load)
        self._show_patient()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def view(self, patient: int):
        """The patient's prepared slices (made on first view)."""
        if patient not in self.views:
            self.views[patient] = prepare_reading(self.cases[patient - 1])
        return self.views[patient]

    def _show_patient(self) -> None:
        """Set every control from the current patient's stored reading, then redraw."""
        view, reading = self.view(self.patient.value), self.ratings.get(self.patient.value)
        self._syncing = True
        try:
            self.shift.min, self.shift.max = -view.max_shift, view.max_shift
            self.row.max, self.col.max = view.hu.shape[1] - 1, view.hu.shape[2] - 1
            self.rating.value = None if reading is None else reading.rating
            self.mark.value = reading is not None and reading.point_mm is not None
        finally:
            self._syncing = False
        self.redraw()

    def state(self) -> dict:
        """The patient, the window, the cross and the current patient's reading."""
        return {"patient": self.patient.value, "shift": self.shift.value,
                "window": (float(self.width.value), float(self.level.value)),
                "cross": (self.panel.value, self.row.value, self.col.value),
                "reading": self.ratings.get(self.patient.value)}

    def cross_point(self):
        """The physical point (mm) under the cross."""
        return point_of(self.view(self.patient.value), self.panel.value, self.row.value,
                        self.col.value, self.shift.value)

    def redraw(self) -> None:
        """Render the slices and the progress line from the widgets' values."""
        state = self.state()
        reading = state["reading"]
        self.picture.value = render_reading_png(
            self.view(state["patient"]), state["shift"], state["window"], state["cross"],
            None if reading is None else reading.point_mm,
            title=f"patient {state['patient']} of {len(self.cases)}")
        rated = "not rated yet" if reading is None else f"rated {reading.rating}"
        self.status.value = (f"<b>{progress_line(self.ratings, len(self.cases))}</b>; "
                             f"patient {state['patient']}: {rated}")

    def _changed(self) -> None:
        # Inside the Output widget, an error in a callback shows up under the reader (and in
        # the saved notebook) instead of vanishing into the kernel log.
        with self.log:
            self.redraw()

    def on_patient(self, _change=None) -> None:
        with self.log:
            self._show_patient()

    def on_view(self, _change=None) -> None:
        if not self._syncing:
            self._changed()

    def _store(self) -> None:
        point = self.cross_point() if self.mark.value else None
        rate(self.ratings, self.patient.value, self.rating.value, point, len(self.cases))

    def on_rating(self, _change=None) -> None:
        if not self._syncing:
            with self.log:
                self._store()
            self._changed()

    def on_mark(self, _change=None) -> None:
        if self._syncing:
            return
        if self.rating.value is None and self.mark.value:
            self._syncing = True
            try:
                self.mark.value = False
            finally:
                self._syncing = False
            self.status.value = "Choose a rating first, then mark the lesion."
            return
        with self.log:
            self._store()
        self._changed()

    def on_previous(self, _button=None) -> None:
        self.patient.value = max(1, self.patient.value - 1)

    def on_next(self, _button=None) -> None:
        self.patient.value = min(len(self.cases), self.patient.value + 1)

    def on_save(self, _button=None) -> None:
        with self.log:
            path = save_ratings(self.ratings, self.cases, self.file.value)
            self.status.value = f"saved {len(self.ratings)} ratings to {path}"

    def on_load(self, _button=None) -> None:
        with self.log:
            try:
                loaded = load_ratings(self.file.value, self.cases)
            except (OSError, ValueError) as exc:
                self.status.value = f"<b>not loaded</b>: {exc}"
                return
            self.ratings.clear()
            self.ratings.update(loaded)
            self._show_patient()


class RevealWidget:
    """Choose a patient (by default those of ``patients``, e.g. the disagreements) and see the
    contrast scan and the true lesion beside the plain scan as read (:func:`show_reveal`)."""

    def __init__(self, cases, ratings: dict, model, patients=None):
        import ipywidgets as w  # slow to import, and only needed with a live kernel

        self.cases, self.ratings, self.model = cases, ratings, model
        patients = list(patients) if patients is not None else list(range(1, len(cases) + 1))
        self.choice = w.Dropdown(options=patients or [1], value=(patients or [1])[0],
                                 description="reveal")
        self.picture, self.log = w.Image(format="png"), w.Output()
        self.widget = w.VBox([self.choice, self.picture, self.log])
        self.choice.observe(self.on_choice, names="value")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def redraw(self) -> None:
        patient = self.choice.value
        fig = show_reveal(self.cases[patient - 1], patient, self.ratings.get(patient),
                          self.model)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        self.picture.value = buffer.getvalue()

    def on_choice(self, _change=None) -> None:
        with self.log:
            self.redraw()


def reveal_disagreements(comparison):
    """A :class:`RevealWidget` over the patients where the reader and the model disagree
    (every patient when they never do); None, and "Not answered yet", without a comparison."""
    if comparison is None:
        print("Not answered yet: nothing to reveal before every patient is rated (see above).")
        return None
    patients = [int(p) for p in disagreements(comparison).index]
    return RevealWidget(comparison.cases, comparison.ratings, comparison.model,
                        patients or range(1, len(comparison.cases) + 1))
