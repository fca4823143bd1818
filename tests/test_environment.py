"""Notebook 00's environment report and course map."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import course
from helpers.data import SAMPLES, environment


def test_pinned_versions_are_read_from_requirements():
    pins = environment.pinned_versions()
    assert pins["SimpleITK"] and pins["pydicom"] and pins["pooch"]


def test_package_table_compares_installed_with_pins(tmp_path):
    rows = {row["package"]: row for row in environment.package_table()}
    assert set(rows) == set(environment.KEY_PACKAGES)
    assert all(row["status"] == "ok" for row in rows.values()), rows
    missing = environment.package_table(["no-such-package-xyz"])[0]
    assert missing["installed"] == "missing" and missing["status"] == "MISSING"


def test_machine_summary_reports_cores_and_memory():
    summary = environment.machine_summary()
    assert int(summary["CPU cores"]) >= 1 and "GiB" in summary["memory"]
    # the generic import name "helpers" must be this project's package, and the report says so
    assert Path(summary["helpers imported from"]) == Path(__file__).resolve().parents[1] / "helpers"


def test_data_table_has_a_row_per_sample_and_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    rows = environment.data_table()
    assert [r["sample"] for r in rows] == list(SAMPLES)
    status = {r["sample"]: r["status"] for r in rows}
    assert status["pydicom_ct_small"] == "bundled"
    assert status["totalsegmentator_example_ct_sm"] == "download needed"
    assert not (tmp_path / "cache").exists()


def test_course_map_is_numbered_and_marks_existing_notebooks():
    rows = course.course_table()
    assert [r["notebook"][:2] for r in rows] == [f"{i:02d}" for i in range(9)]
    assert rows[0]["status"] == "ready"
    for row in rows:
        exists = (course.NOTEBOOK_DIR / f"{row['notebook']}.ipynb").exists()
        assert (row["status"] == "ready") == exists


def test_every_place_states_the_same_times():
    """The notebooks, the README's course map and INSTRUCTORS' timings agree with
    helpers.course, and the total of notebooks 00-07 is the one both guides state."""
    root = course.NOTEBOOK_DIR.parent
    readme = (root / "README.md").read_text()
    instructors = (course.NOTEBOOK_DIR / "INSTRUCTORS.md").read_text()
    for stem, _, minutes in course.COURSE:
        nb = json.loads((course.NOTEBOOK_DIR / f"{stem}.ipynb").read_text())
        opening = "".join(nb["cells"][0]["source"])
        stated = re.search(r"\*\*Estimated time:\*\* (\d+) minutes", opening)
        assert stated and int(stated.group(1)) == minutes, f"{stem}: notebook says {stated}"
        row = re.search(rf"^\| {stem[:2]} \| `{stem}`.*\| (\d+) min \|$", readme, re.MULTILINE)
        assert row and int(row.group(1)) == minutes, f"{stem}: README's course map differs"
        timing = re.search(rf"^\| {stem[:2]} [^|]+\| (\d+) min \|", instructors, re.MULTILINE)
        assert timing and int(timing.group(1)) == minutes, f"{stem}: INSTRUCTORS differs"
    total = sum(minutes for _, _, minutes in course.COURSE)  # one total, notebook 08 included
    assert f"({total} min)" in readme and f"{total} minutes" in instructors


def test_stated_times_follow_the_rubric():
    """Each notebook's stated time is what course.rubric_minutes gives it (words read, code
    cells run, the exercises' own stated times, concept questions), within 10 % or 5 min."""
    for stem, _, minutes in course.COURSE:
        expected = course.rubric_minutes(course.NOTEBOOK_DIR / f"{stem}.ipynb")
        assert abs(minutes - expected) <= max(5, 0.1 * expected), (
            f"{stem}: states {minutes} min, the rubric gives {expected} min "
            f"({course.time_parts(course.NOTEBOOK_DIR / f'{stem}.ipynb')})")


def test_the_rubric_counts_words_cells_exercises_and_questions(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("word " * 300),
                nbformat.v4.new_markdown_cell("### Exercise 1: a sum (about 10 min)\n\nDo it."),
                nbformat.v4.new_markdown_cell("### Quick check: which?\n<details>" + "x " * 900
                                              + "</details>"),
                *[nbformat.v4.new_code_cell("1 + 1") for _ in range(3)]]
    path = tmp_path / "00_tiny.ipynb"
    nbformat.write(nb, path)
    assert course.time_parts(path) == {"words": 300 + 9 + 5, "code_cells": 3,
                                       "exercise_minutes": 10, "quick_checks": 1}
    assert course.rubric_minutes(path) == 15  # 314/150 + 3 + 10 + 2 = 17.1 -> 15
    nb.cells[1].source = "### Exercise 1: a sum"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="states no time"):
        course.time_parts(path)
