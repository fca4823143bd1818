"""Notebook 00's environment report and course map."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
        if stem[:2] != "08":  # the optional extra is not part of the classroom timings
            timing = re.search(rf"^\| {stem[:2]} [^|]+\| (\d+) min \|", instructors, re.MULTILINE)
            assert timing and int(timing.group(1)) == minutes, f"{stem}: INSTRUCTORS differs"
    total = sum(minutes for stem, _, minutes in course.COURSE if stem[:2] != "08")
    assert f"({total} min)" in readme and f"{total} minutes" in instructors
