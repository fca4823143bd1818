"""Execute every worked-solutions notebook from a fresh kernel, serially, like "Run All"; the
lessons run the same way in tests/test_exercise_integrity.py, with their exercises probed.

Beyond what nbmake checks, this test also fails when an error is raised inside a widget
callback: after the notebook has run, an extra cell moves every slider and dropdown (as a
student would) and the stored widget outputs are searched for errors. It records each
notebook's run time and the kernel's peak memory in build/notebook-report.tsv, and saves the
executed notebook to build/executed/ for the website (scripts/build_site.py reuses it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from build_site import fingerprint, save_executed  # scripts/ is on pytest's pythonpath
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The worked solutions run here too (after the lessons), so CI proves every solution passes.
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
REPORT = ROOT / "build" / "notebook-report.tsv"
CELL_TIMEOUT_S = 300  # a hang guard, not a speed target (benchmarks/ hold those)
MEMORY_BUDGET_MB = 2048  # a notebook must fit an ordinary laptop; unlike time, load-independent
# Notebooks that need the optional deep-learning extra (requirements-deep.txt).
NEEDS_DEEP = ("08_unet_stage2", "08_unet_stage2_solutions")
HAS_DEEP = all(importlib.util.find_spec(m) is not None for m in ("torch", "monai", "safetensors"))

# Runs in the notebook's kernel after the last cell: exercise every interactive control, then
# put it back, so that the widget state saved for the website shows what the notebook showed.
POKE_WIDGETS = r"""
import ipywidgets as _w
_moved = 0
for _widget in list(_w.Widget.widgets.values()):
    if getattr(_widget, "disabled", False):
        continue
    if isinstance(_widget, (_w.IntSlider, _w.FloatSlider, _w.IntText, _w.FloatText)):
        if getattr(_widget, "max", None) is not None:
            _start = _widget.value
            for _value in (_widget.max, _widget.min, _start):
                _widget.value = _value
                _moved += 1
    elif isinstance(_widget, (_w.Dropdown, _w.ToggleButtons, _w.RadioButtons,
                              _w.SelectionSlider)):
        _start = _widget.value
        for _option in list(_widget.options)[-2:]:
            _widget.value = _option[1] if isinstance(_option, tuple) else _option
            _moved += 1
        _widget.value = _start
    elif isinstance(_widget, _w.Checkbox):
        _widget.value = not _widget.value
        _widget.value = not _widget.value
        _moved += 1
print("widgets moved:", _moved)
"""

# VmHWM is the peak resident memory of this process's own address space (reset on exec);
# ru_maxrss is not usable here because a kernel inherits its launcher's high-water mark.
PEAK_MEMORY = """
import re, resource, sys
try:
    with open("/proc/self/status") as _status:
        _kb = int(re.search(r"VmHWM:\\s+(\\d+)", _status.read()).group(1))
except OSError:
    _kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _kb = _kb / 1024 if sys.platform == "darwin" else _kb
print("PEAK_MB", round(_kb / 1024, 1))
"""


def widget_errors(nb) -> list[str]:
    """Error outputs stored inside widgets (e.g. an ``interact`` callback that raised)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    found = []
    for model in state.get("state", {}).values():
        for output in model.get("state", {}).get("outputs", []) or []:
            if output.get("output_type") == "error":
                found.append(f"{output.get('ename')}: {output.get('evalue')}")
            text = output.get("text", "")
            if output.get("name") == "stderr" and "Traceback" in text:
                found.append(text[-500:])
    return found


def output_text(nb) -> str:
    """Everything the executed notebook's cells printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") if isinstance(output.get("text"), str) else "")
            parts.append(str(output.get("data", {}).get("text/plain", "")))
            parts.append(str(output.get("data", {}).get("text/html", "")))
    return "\n".join(parts)


def check_feedback(path: Path, text: str) -> None:
    """A lesson run with no answers must never say "Correct" (no solution runs in it); a
    solutions notebook must pass every checker it calls."""
    if path in SOLUTIONS:
        assert "Correct" in text, f"{path.name}: no checker said Correct"
        for slip in ("not yet", "not answered"):
            assert slip not in text.lower(), f"{path.name}: a worked solution got {slip!r}"
    else:
        assert "Correct" not in text, (
            f"{path.name}: run with no answers, it printed 'Correct': a lesson must not run a "
            "solution (fold it into a <details> block; it runs in notebooks/solutions/)")


def kernel_environment(monkeypatch, plain_ipython) -> None:
    """What every notebook kernel of the tests runs with: no colour codes, inline figures."""
    monkeypatch.setenv("IPYTHONDIR", str(plain_ipython))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


def read_stripped(path: Path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{path.name} is committed with outputs; run nbstripout on it")
    return nb


def run_cell(client, cell, index: int):
    """Execute one cell as Run All would (numbered like JupyterLab numbers it)."""
    return client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)


def finish_run(client, nb, path: Path, seconds: float, source_fingerprint: str) -> None:
    """After the notebook's own cells: move every widget, read the kernel's peak memory, check
    the widgets' stored outputs and the checkers' verdicts, record the run and save the
    executed notebook for the website."""
    for code in (POKE_WIDGETS, PEAK_MEMORY):
        nb.cells.append(nbformat.v4.new_code_cell(code))
        run_cell(client, nb.cells[-1], len(nb.cells) - 1)
    client.set_widgets_metadata()
    errors = widget_errors(nb)
    assert not errors, f"{path.name}: errors inside widget callbacks:\n" + "\n".join(errors)
    check_feedback(path, output_text(nb))
    memory = next((o["text"].split()[1] for o in nb.cells[-1].outputs
                   if o.get("name") == "stdout" and "PEAK_MB" in o.get("text", "")), "?")
    REPORT.parent.mkdir(exist_ok=True)
    with open(REPORT, "a") as report:
        report.write(f"{path.name}\t{seconds:.1f} s\t{memory} MB peak\n")
    print(json.dumps({"notebook": path.name, "seconds": round(seconds, 1), "peak_mb": memory}))
    assert memory != "?", f"{path.name}: the kernel's peak memory could not be read"
    assert float(memory) < MEMORY_BUDGET_MB, (
        f"{path.name} peaked at {memory} MB, over the {MEMORY_BUDGET_MB} MB budget")
    save_executed(nb, path, source_fingerprint, drop_last_cells=2)  # the site reuses it


# The lessons run in tests/test_exercise_integrity.py (cell by cell, with every exercise probed
# and the raises-exception tags ignored, then finish_run): each notebook runs once per session.
@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_notebook_runs_top_to_bottom(path, plain_ipython, monkeypatch):
    if path.stem in NEEDS_DEEP and not HAS_DEEP:
        pytest.skip("needs PyTorch and MONAI, the optional extra: python3 run.py lab --deep "
                    "(or python -m pip install -r requirements-deep.txt)")
    kernel_environment(monkeypatch, plain_ipython)
    source_fingerprint = fingerprint(path)  # before running: an edit meanwhile makes it stale
    nb = read_stripped(path)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(list(nb.cells)):
            run_cell(client, cell, index)  # raises CellExecutionError, naming the cell
        finish_run(client, nb, path, time.perf_counter() - start, source_fingerprint)


def test_harness_catches_errors_inside_widget_callbacks(plain_ipython, monkeypatch):
    """The widget check above must really fail on an ``interact`` callback that raises."""
    monkeypatch.setenv("IPYTHONDIR", str(plain_ipython))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets as w\n"
        "def show(x):\n"
        "    if x > 3:\n"
        "        raise ValueError('slider moved too far')\n"
        "w.interact(show, x=(0, 5));")]
    nb.cells.append(nbformat.v4.new_code_cell(POKE_WIDGETS))
    NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=True).execute()
    assert any("slider moved too far" in e for e in widget_errors(nb))


def test_every_notebook_is_numbered_and_listed():
    names = [p.name for p in NOTEBOOKS]
    assert names and names[0].startswith("00_"), "notebook 00 is missing"
    numbers = [int(n[:2]) for n in names]
    assert numbers == sorted(set(numbers)), f"duplicate or unordered numbers: {names}"
    assert os.path.basename(ROOT / "notebooks") == "notebooks"
    lesson_stems = {p.stem for p in NOTEBOOKS}
    for solution in SOLUTIONS:
        assert solution.stem.removesuffix("_solutions") in lesson_stems, (
            f"{solution.name} does not belong to any lesson")
