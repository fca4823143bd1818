"""Repository hygiene: pins in step, notebooks stripped and well-formed, lint clean, docs twin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.data import SAMPLES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
PIN = re.compile(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-]+)\s*$")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.split("#")[0])
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_environment_yml_pins_equal_requirements():
    pip_pins = pins(ROOT / "requirements.txt")
    conda_pins = pins(ROOT / "environment.yml")
    assert pip_pins, "no pins found in requirements.txt"
    assert conda_pins == pip_pins, (
        f"only in requirements.txt: {set(pip_pins.items()) - set(conda_pins.items())}; "
        f"only in environment.yml: {set(conda_pins.items()) - set(pip_pins.items())}")


REQUIREMENT_FILES = sorted(ROOT.glob("requirements*.txt"))


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=lambda p: p.name)
def test_every_requirement_is_pinned(path):
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        assert not line or line.startswith("--") or "==" in line, \
            f"unpinned requirement in {path.name}: {line}"


def test_requirement_files_do_not_pin_a_package_twice():
    seen = {}
    for path in REQUIREMENT_FILES:
        for package in pins(path):
            assert package not in seen, \
                f"{package} is pinned in {seen.get(package)} and {path.name}"
            seen[package] = path.name
    assert {"requirements.txt", "requirements-dev.txt"} <= set(seen.values())


def test_notebooks_are_committed_without_outputs():
    result = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", "--extra-keys",
         "metadata.language_info", *map(str, NOTEBOOKS + SOLUTIONS)],
        capture_output=True, text=True)
    assert result.returncode == 0, f"notebooks carry outputs or metadata:\n{result.stdout}"


def test_ruff_lints_package_tests_and_notebooks():
    targets = [p for p in ("helpers", "tests", "benchmarks", "notebooks", "scripts", "run.py")
               if (ROOT / p).exists()]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", *targets], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_opens_and_closes_like_a_lesson(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0].source.lower()
    for part in ("# ", "question", "objectives", "prerequisites", "time", "data",
                 "not for clinical use"):
        assert part in first, f"{path.name}: the opening cell lacks {part!r}"
    assert "key points" in nb.cells[-1].source.lower(), f"{path.name}: no closing key points"
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if cell.cell_type == "code" and before.cell_type == "code":
            # consecutive code cells are allowed, but a step must not run on for long
            assert len(cell.source.splitlines()) <= 25, f"{path.name}: a long code cell"
    # Run All must never overwrite a student's answer: no executable solution in a lesson.
    assert not [c for c in nb.cells if c.cell_type == "code" and
                "solution" in c.metadata.get("tags", [])], (
        f"{path.name}: a worked solution is an executable cell; fold it into a markdown "
        "<details> block (the solutions notebook runs it)")
    assert len(folded_solutions(nb)) >= 2, (
        f"{path.name}: fewer than two exercises with a folded worked solution")


def folded_solutions(nb) -> list[str]:
    """The code of each worked solution folded into a lesson's markdown (a ``<details>`` block
    whose summary names a solution, holding a fenced ``python`` block)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or not re.search(
                r"<summary>[^<]*solution", cell.source, re.IGNORECASE):
            continue
        found += re.findall(r"```python\n(.*?)```", cell.source, re.DOTALL)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_lesson_has_a_worked_solutions_notebook(path):
    """notebooks/solutions/<stem>_solutions.ipynb answers each exercise and asserts its checker."""
    twin = ROOT / "notebooks" / "solutions" / f"{path.stem}_solutions.ipynb"
    assert twin.exists(), f"no worked solutions for {path.name}: expected {twin.relative_to(ROOT)}"
    lesson = nbformat.read(path, as_version=4)
    solved = "\n".join(c.source for c in nbformat.read(twin, as_version=4).cells
                       if c.cell_type == "code")
    checkers = set(re.findall(r"\b(?:ex\.)?(check_\w+)\(", "\n".join(folded_solutions(lesson))))
    assert checkers, f"{path.name}: its folded worked solutions call no checker"
    for name in sorted(checkers):
        assert re.search(rf"assert\s+(?:ex\.)?{name}\(", solved), (
            f"{twin.name} does not assert {name}")


def test_data_samples_readme_lists_every_sample_with_checksums():
    text = (ROOT / "data_samples" / "README.md").read_text()
    for name, sample in SAMPLES.items():
        assert f"`{name}`" in text, f"data_samples/README.md does not list {name}"
        if len(sample.files) == 1:
            assert sample.files[0].sha256 in text, f"{name}: SHA-256 missing from the README"


def test_readme_quick_start_and_ci_use_the_same_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 run.py lab" in readme and "python3 run.py test" in readme
    assert "python3 run.py test" in ci and "PLAINCT_MIRROR" in ci
    [command] = [line.strip() for line in ci.splitlines() if line.startswith("python3 run.py")]
    assert command in readme, f"CI runs {command!r}, which the README does not show"
    assert "python3 run.py prefetch" in readme
