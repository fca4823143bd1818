"""The reader study of notebook 07: the fixed case list, the ratings file, the scripted readers,
the scoring, the model's cached reading, the widgets' callbacks (headless) and the checked
exercise (right answers pass, slips get their hint, nothing on screen passes)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk

from helpers import cohorts, simulate
from helpers.exercises import nb07 as ex
from helpers.pipeline import reader_compare as rc
from helpers.pipeline import reader_figures as rf
from helpers.pipeline import reader_model as rm
from helpers.pipeline import reader_study as rs
from helpers.pipeline import stage2
from helpers.pipeline.chain import Pipeline, PipelineResult

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def cases(ct_sm):
    return rs.reading_cases()


def fake_model_reading(cases, seed: int = 0) -> rm.ModelReading:
    """A model's reading without the model: scores that rank the lesions higher, with noise."""
    rng = np.random.default_rng(seed)
    truth = np.array([bool(c.subtype) for c in cases])
    scores = np.clip(0.3 * truth + rng.uniform(0, 0.7, len(cases)), 0, 1)
    centres = np.array([rs.lesion_centre_mm(c) or (np.nan,) * 3 for c in cases], float)
    return rm.ModelReading(scores, centres, 0.5)


# ------------------------------------------------------------------------- the case list
def test_the_case_list_is_fixed_by_its_seed_and_disjoint_from_every_cohort(cases):
    spec = cohorts.cohort(rs.COHORT)
    assert 16 <= spec.n <= 24 and spec.healthy_fraction == 0.5
    assert [c.seed for c in cases] == cohorts.patient_seeds(rs.COHORT)
    assert [c.seed for c in rs.reading_cases()] == [c.seed for c in cases]
    cohorts.check_disjoint()  # the cohort table's check, over every pair of cohorts
    others = {s for name in cohorts.COHORTS if name != rs.COHORT
              for s in cohorts.patient_seeds(name, max(cohorts.cohort(name).n,
                                                       cohorts.CHECK_DEPTH))}
    assert not others & {c.seed for c in cases}


def test_the_case_list_mixes_subtypes_sizes_and_fat(cases):
    lesions = [c for c in cases if c.subtype]
    assert len(lesions) == len(cases) // 2
    assert {c.subtype for c in lesions} == set(simulate.SUBTYPES)
    sizes = [c.lesion_diameter_mm for c in lesions]
    assert min(sizes) < rc.SMALL_LESION_MM < max(sizes)
    assert sum(s < rc.SMALL_LESION_MM for s in sizes) >= 2  # the exercise needs small ones
    fat = [c.gland_fat for c in cases]
    assert min(fat) < 0.3 and max(fat) > 0.7


# ------------------------------------------------------------------------- scoring
def test_the_perfect_reader_scores_auc_one_and_hits_every_lesion(cases):
    model = fake_model_reading(cases)
    comparison = rc.compare(cases, rs.scripted_ratings(cases, "perfect"), model)
    table = rc.reader_summary(comparison)
    assert table["AUC"].iloc[0] == 1.0
    assert table["sensitivity"].iloc[0] == table["specificity"].iloc[0] == 1.0
    hits = rc.localisation(comparison)
    assert hits["your hit"].all() and len(hits) == len(cases) // 2


def test_a_random_reader_scores_about_one_half_over_seeds(cases):
    model = fake_model_reading(cases)
    aucs = [rc.reader_summary(rc.compare(cases, rs.scripted_ratings(cases, "random", seed=s),
                                  model))["AUC"].iloc[0] for s in range(40)]
    assert abs(np.mean(aucs) - 0.5) <= 0.15


def test_the_gland_hu_reader_rates_darker_glands_higher(cases):
    ratings = rs.scripted_ratings(cases, "gland HU")
    hu = np.array([rs.gland_mean_hu(c) for c in cases])
    values = np.array([ratings[p].rating for p in range(1, len(cases) + 1)])
    assert sorted(np.bincount(values)[1:]) == [len(cases) // 5] * 5
    assert values[np.argmin(hu)] == 5 and values[np.argmax(hu)] == 1
    with pytest.raises(ValueError, match="unknown scripted reader"):
        rs.scripted_ratings(cases, "psychic")


def test_without_every_rating_the_comparison_says_not_answered_yet(cases, capsys):
    ratings = {1: rs.Reading(3)}
    model = fake_model_reading(cases)
    assert rc.compare(cases, ratings, model) is None
    out = capsys.readouterr().out
    assert out.startswith("Not answered yet") and f"1 of {len(cases)} patients rated" in out
    for show in (rc.reader_summary, rc.disagreements, rc.localisation, rf.plot_comparison):
        assert show(None) is None
        assert "Not answered yet" in capsys.readouterr().out
    assert not ex.check_small_lesion_auc(0.5, None)
    assert "Not answered yet" in capsys.readouterr().out


def test_disagreements_name_who_was_right(cases):
    model = fake_model_reading(cases)
    ratings = rs.scripted_ratings(cases, "perfect")
    table = rc.disagreements(rc.compare(cases, ratings, model))
    truth = np.array([bool(c.subtype) for c in cases])
    differ = np.flatnonzero(truth != model.calls) + 1
    assert list(table.index) == differ.tolist() and (table["right"] == "you").all()


def test_marks_count_as_hits_within_the_stated_distance(cases):
    case = next(c for c in cases if c.subtype)
    centre = np.array(rs.lesion_centre_mm(case))
    assert rs.distance_to_lesion_mm(case, centre) < 3.0
    far = centre + [0.0, 0.0, 60.0]
    assert rs.distance_to_lesion_mm(case, far) > rs.HIT_DISTANCE_MM
    healthy = next(c for c in cases if not c.subtype)
    assert rs.distance_to_lesion_mm(healthy, centre) == np.inf


# ------------------------------------------------------------------------- the ratings file
def test_ratings_round_trip_exactly_through_the_csv(cases, tmp_path):
    ratings = {}
    rs.rate(ratings, 1, 5, (0.1 + 0.2, -123.456789012345678, 1e-7), n=len(cases))
    rs.rate(ratings, 3, np.int64(2))
    rs.rate(ratings, len(cases), 4, (np.float32(12.3), 45.0, -0.0))
    path = rs.save_ratings(ratings, cases, tmp_path / "me.csv")
    assert rs.load_ratings(path, cases) == ratings
    perfect = rs.scripted_ratings(cases, "perfect")
    assert rs.load_ratings(rs.save_ratings(perfect, cases, tmp_path / "p.csv"), cases) == perfect
    rs.rate(ratings, 3, None)
    assert 3 not in ratings
    with pytest.raises(ValueError, match="whole number from 1"):
        rs.rate(ratings, 2, 6)
    with pytest.raises(ValueError, match="patient numbers run from 1"):
        rs.rate(ratings, 0, 3, n=len(cases))


@pytest.mark.parametrize("lines, line, problem", [
    (["patient,rating"], 1, "expected the header"),
    (["{header}", "1,{seed1},3,,,", "2,{seed2},seven,,,"], 3, "rating 'seven' is not a number"),
    (["{header}", "1,{seed1},6,,,"], 2, "rating 6 is not one of 1-5"),
    (["{header}", "1,{seed2},3,,,"], 2, "belongs to another case list"),
    (["{header}", "1,{seed1},3,1.0,2.0,"], 2, "all three of x_mm"),
    (["{header}", "1,{seed1},3,,,", "", "1,{seed1},4,,,"], 4, "rated twice"),
    (["{header}", "1,{seed1},3"], 2, "expected 6 fields"),
    (["{header}", "99,{seed1},3,,,"], 2, "patient 99 is not in 1.."),
    (["{header}", "1,{seed1},3,nan,1,2"], 2, "not a finite number"),
])
def test_a_malformed_csv_names_its_line(cases, tmp_path, lines, line, problem):
    text = "\n".join(lines).format(header=",".join(rs.CSV_FIELDS), seed1=cases[0].seed,
                                   seed2=cases[1].seed)
    path = tmp_path / "bad.csv"
    path.write_text(text + "\n")
    with pytest.raises(rs.RatingsFileError, match=rf"bad\.csv, line {line}: .*"
                                                   rf"{re.escape(problem)}"):
        rs.load_ratings(path, cases)


def test_a_class_folder_keeps_complete_files_and_names_the_others(cases, tmp_path):
    rs.save_ratings(rs.scripted_ratings(cases, "perfect"), cases, tmp_path / "ana.csv")
    rs.save_ratings(rs.scripted_ratings(cases, "random", 3), cases, tmp_path / "ben.csv")
    rs.save_ratings({1: rs.Reading(2)}, cases, tmp_path / "cleo.csv")
    (tmp_path / "dan.csv").write_text("patient,rating\n")
    readers, problems = rc.read_ratings_folder(tmp_path, cases)
    assert sorted(readers) == ["ana", "ben"]
    assert len(problems) == 2 and problems[0].startswith("cleo.csv left out: 1 of")
    assert "dan.csv, line 1" in problems[1]
    model = fake_model_reading(cases)
    table = rc.class_table(cases, readers, model)
    assert list(table.index[:2]) == ["ana", "ben"] and table["AUC"].iloc[0] == 1.0
    assert table.index[-1].startswith("the model")
    assert rf.plot_class(cases, readers, model).get_legend() is not None


# ------------------------------------------------------------------------- the model's reading
@dataclass
class CountingPipeline(Pipeline):
    """A fitted-looking pipeline whose predictions are counted, not computed."""

    calls: int = 0

    def predict(self, scan, pancreas=None, **_):
        self.calls += 1
        empty = sitk.Image(scan.GetSize(), sitk.sitkUInt8)
        empty.CopyInformation(scan)
        return PipelineResult(empty, empty, 0.25, {})


def test_the_models_reading_is_cached_and_read_again_for_another_model(cases, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    detector = stage2.boosted.Detector(None, 0.5, 0.5, threshold_scores=np.linspace(0, 1, 5))
    model = CountingPipeline(detector=detector,
                             classifier=SimpleNamespace(training_counts={"PDAC": 3}))
    first = rm.model_reading(cases[:3], model)
    assert model.calls == 3 and np.allclose(first.scores, 0.25)
    assert np.isnan(first.centres_mm).all() and not first.calls.any()
    again = rm.model_reading(cases[:3], model)
    assert model.calls == 3 and np.array_equal(again.scores, first.scores)
    other = replace(model, detector=replace(detector, operating_threshold=0.2), calls=0)
    assert rm.model_reading(cases[:3], other).calls.all() and other.calls == 3


# ------------------------------------------------------------------------- the widgets
def test_the_reader_widgets_callbacks_run_headless(cases, tmp_path):
    pytest.importorskip("ipywidgets")
    from helpers.pipeline import reader_widget

    ratings = {}
    reader = reader_widget.ReaderWidget(cases, ratings, path=str(tmp_path / "mine.csv"))
    first = bytes(reader.picture.value)
    assert first.startswith(b"\x89PNG") and "0 of" in reader.status.value
    reader.rating.value = 4
    assert ratings == {1: rs.Reading(4)}
    reader.panel.value, reader.row.value, reader.col.value = 0, 5, 7
    reader.mark.value = True
    assert ratings[1].point_mm == reader.cross_point()
    reader.preset.value = "soft_tissue"
    assert (reader.width.value, reader.level.value) == (400, 40)
    reader.level.value = 10
    assert reader.preset.value == "custom" and bytes(reader.picture.value) != first
    reader.on_next()
    assert reader.patient.value == 2 and reader.rating.value is None and not reader.mark.value
    reader.mark.value = True  # no rating yet: nothing stored, a hint instead
    assert 2 not in ratings and "rating first" in reader.status.value
    reader.rating.value = 1
    reader.shift.value = reader.shift.max
    reader.on_previous()
    assert reader.rating.value == 4 and reader.mark.value
    reader.on_save()
    assert "saved 2 ratings" in reader.status.value
    ratings.clear()
    reader.on_load()
    assert ratings[1].rating == 4 and ratings[2] == rs.Reading(1)
    reader.file.value = str(tmp_path / "missing.csv")
    reader.on_load()
    assert "not loaded" in reader.status.value and len(ratings) == 2
    reader.rating.value = None  # un-rating removes the reading
    assert 1 not in ratings
    assert not reader.log.outputs, reader.log.outputs


def test_the_reveal_widget_draws_each_patient(cases):
    pytest.importorskip("ipywidgets")
    from helpers.pipeline import reader_widget

    model = fake_model_reading(cases)
    ratings = rs.scripted_ratings(cases, "perfect")
    reveal = reader_widget.RevealWidget(cases, ratings, model, patients=[2, 3])
    first = bytes(reveal.picture.value)
    reveal.choice.value = 3
    assert bytes(reveal.picture.value) != first and not reveal.log.outputs


def test_the_reading_figure_shows_no_outline_and_places_the_cross(cases):
    view = rf.prepare_reading(cases[0])
    assert len(set(view.base)) == 3 and view.hu.shape[0] == cases[0].plain.GetSize()[2]
    point = rf.point_of(view, 2, 4, 6, shift=1)
    assert rf.where_on_screen(view, point, shift=1) == (2, 4, 6)
    assert rf.where_on_screen(view, point, shift=0) is None or view.max_shift == 0
    fig = rf.reading_figure(view, 0, "pancreas", cross=(1, 3, 3))
    assert len(fig.axes) == 4  # three panels and the HU bar; no legend of outlines
    assert not any(ax.collections for ax in fig.axes[:3])


# ------------------------------------------------------------------------- the exercise
def shown_numbers(comparison) -> set[float]:
    """Every number the lesson's comparison cells show (tables and the ROC legend), also
    rounded as displayed."""
    values = set()
    for table in (rc.reader_summary(comparison), rc.disagreements(comparison),
                  rc.localisation(comparison)):
        for column in table.columns:
            for value in table[column].tolist():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values.add(float(value))
                elif isinstance(value, str):
                    values |= {float(x) for x in re.findall(r"\d+(?:\.\d+)?", value)}
        values |= {float(v) for v in table.index if isinstance(v, (int, float))}
    legend = rf.plot_comparison(comparison).get_legend()
    for text in legend.get_texts():
        values |= {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text.get_text())}
    return values | {round(v, 2) for v in values} | {v / 100 for v in values}


def test_the_small_lesion_auc_checker(cases, capsys):
    model = fake_model_reading(cases)
    comparison = rc.compare(cases, rs.scripted_ratings(cases, "gland HU"), model)
    keep = rc.small_lesion_mask(comparison)
    right = rc.subset_auc(comparison, keep)
    assert ex.check_small_lesion_auc(right, comparison)
    assert "Correct" in capsys.readouterr().out
    assert ex.check_small_lesion_auc(round(right, 3), comparison)
    assert not ex.check_small_lesion_auc(None, comparison)
    assert "Not answered yet" in capsys.readouterr().out
    slips = {"percentage": 100 * right, "every patient": rc.subset_auc(comparison, keep | True),
             "model's": rc.subset_auc(comparison, keep, model.scores)}
    for hint, value in slips.items():
        if not np.isclose(value, right, atol=1e-3):
            assert not ex.check_small_lesion_auc(value, comparison)
            assert hint in capsys.readouterr().out
    perfect = rc.compare(cases, rs.scripted_ratings(cases, "perfect"), model)
    assert ex.check_small_lesion_auc(1.0, perfect)


def test_no_number_on_screen_passes_the_exercise(cases, capsys):
    model = fake_model_reading(cases, seed=1)
    for reader in ("gland HU", "random"):
        comparison = rc.compare(cases, rs.scripted_ratings(cases, reader, seed=7), model)
        right = rc.subset_auc(comparison, rc.small_lesion_mask(comparison))
        shown = shown_numbers(comparison)
        passed = [v for v in shown if ex.check_small_lesion_auc(v, comparison)]
        capsys.readouterr()
        assert not passed, (reader, right, passed)
