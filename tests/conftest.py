"""Shared test set-up: an isolated data cache per test session, the mirror, the real CT
samples and the toy pipeline several modules test against."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "public_ct"


def pytest_configure(config):
    # Tests and CI read the offline mirror; never the internet.
    if not os.environ.get("PLAINCT_MIRROR") and DEFAULT_MIRROR.is_dir():
        os.environ["PLAINCT_MIRROR"] = str(DEFAULT_MIRROR)
    os.environ.setdefault("PLAINCT_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    for report in (ROOT / "build" / "notebook-report.tsv",
                   ROOT / "build" / "exercise-integrity.json"):
        if report.exists():
            report.unlink()


@pytest.fixture(scope="session")
def plain_ipython(tmp_path_factory):
    """An IPYTHONDIR whose config turns off colour codes in tracebacks (notebook tests)."""
    folder = tmp_path_factory.mktemp("ipython")
    (folder / "profile_default").mkdir()
    (folder / "profile_default" / "ipython_kernel_config.py").write_text(
        "c.InteractiveShell.colors = 'nocolor'\n")
    return folder


def pytest_terminal_summary(terminalreporter):
    report = ROOT / "build" / "notebook-report.tsv"
    if report.exists():
        terminalreporter.section("notebook run times and peak kernel memory")
        terminalreporter.write(report.read_text())


@pytest.fixture(autouse=True)
def close_figures():
    """Close every matplotlib figure a test left open (only where pyplot was imported)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def mirror() -> Path:
    """The offline mirror of the real public CT samples (skip if it is not there)."""
    path = Path(os.environ.get("PLAINCT_MIRROR", DEFAULT_MIRROR))
    if not path.is_dir():
        pytest.skip("no PLAINCT_MIRROR folder with the public CT samples")
    return path


def _real_ct(name: str) -> sitk.Image:
    from helpers import data

    try:
        return data.load_ct(name)
    except data.DataError as exc:
        pytest.skip(f"real CT not available: {exc}")


@pytest.fixture(scope="module")
def ct_sm() -> sitk.Image:
    """The real native upper-abdomen CT (122 x 101 x 30, 3 mm), or a skip if unavailable."""
    return _real_ct("totalsegmentator_example_ct_sm")


@pytest.fixture(scope="module")
def ct_full() -> sitk.Image:
    """The real full abdominal/pelvic CT (112 slices), or a skip if unavailable."""
    return _real_ct("totalsegmentator_example_ct")


@pytest.fixture(scope="module")
def real_series() -> Path:
    """The real 20-slice JPEG 2000 series (from the cache or the offline mirror)."""
    from helpers import data

    try:
        return data.fetch("totalsegmentator_example_ct_dicom")
    except data.DataError as exc:
        pytest.skip(f"real DICOM series not available: {exc}")


@pytest.fixture(scope="module")
def toy_pipeline():
    """Stages 2 and 3 fitted on 12 toy cases (tests/toy_cases.py) with exact labels. Import
    toy_cases' ``small_voxel_model`` into the test module too: it keeps this fit fast."""
    from toy_cases import toy_cohort

    from helpers import pipeline

    return pipeline.Pipeline(label_source="exact").fit(toy_cohort(12))


@pytest.fixture(scope="module")
def toy_pdac():
    """A toy patient with a PDAC-like (darker) lesion, not among toy_pipeline's 12."""
    from toy_cases import toy_case

    return toy_case(60, "PDAC")


# ---- the website and the browser tests: after the notebooks, reusing what they executed ----

LATE_MODULES = ("test_site.py", "test_browser.py")
_failed_notebooks: list[str] = []


def pytest_collection_modifyitems(config, items):
    """Run the website and browser tests last: the site reuses the notebooks the notebook
    tests executed (build/executed/), so each notebook runs once per test session."""
    late = [item for item in items if item.path.name in LATE_MODULES]
    late.sort(key=lambda item: LATE_MODULES.index(item.path.name))  # stable: keeps test order
    items[:] = [item for item in items if item.path.name not in LATE_MODULES] + late


def pytest_runtest_logreport(report):
    if report.failed and ("test_notebook_runs_top_to_bottom" in report.nodeid
                          or "test_lesson_runs_to_the_end" in report.nodeid):
        _failed_notebooks.append(report.nodeid)


@pytest.fixture(scope="session")
def built_site() -> Path:
    """build/site/, built once per session by scripts/build_site.py (which executes only the
    notebooks whose executed copy is missing or stale)."""
    if _failed_notebooks:
        pytest.skip("not building the website: a notebook failed above "
                    f"({', '.join(_failed_notebooks)})")
    import build_site  # scripts/ is on pytest's pythonpath (pyproject.toml)

    summary = build_site.build()
    report = ROOT / "build" / "notebook-report.tsv"
    with open(report, "a") as out:
        out.write(f"website ({summary['notebooks']} notebooks: {summary['reused']} reused, "
                  f"{summary['executed']} executed in {summary['execute_s']:.0f} s)\t"
                  f"{summary['book_s']:.1f} s Jupyter Book\n")
    return build_site.SITE
