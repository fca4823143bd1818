"""Shared test set-up: an isolated data cache per test session, and the mirror."""

from __future__ import annotations

import os
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
    report = ROOT / "build" / "notebook-report.tsv"
    if report.exists():
        report.unlink()


def pytest_terminal_summary(terminalreporter):
    report = ROOT / "build" / "notebook-report.tsv"
    if report.exists():
        terminalreporter.section("notebook run times and peak kernel memory")
        terminalreporter.write(report.read_text())


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
