"""Exercises that can't be passed by copying, and a Run All that never stops.

Each lesson is run cell by cell from a fresh kernel with every ``raises-exception`` tag removed,
as JupyterLab's Run All would run it: a cell that raises fails the test. After each checked
exercise (a code cell calling ``ex.check_*(...)``; concept questions with ``check_answer`` are
multiple choice and exempt) a probe runs in the same kernel. It gathers every value a student
could copy from what is already there:

- the kernel's variables, the public non-callable attributes of their objects (one level, and
  properties), elements of lists, tuples and dicts, the columns and cells of DataFrames, the
  elements of small arrays;
- the module-level constants of the ``helpers`` modules the lesson imported (not the checker
  module ``ex`` itself: the answer is computed there);
- every number, and every parenthesised tuple of numbers, that any cell so far printed or
  displayed (text, HTML tables), including the exercise cell itself; for "x %" also x / 100;

and calls the checker with each one in place of the answer (the names the lesson sets to
``None`` as placeholders). With two answers it tries every pair of small values (numbers,
strings, tuples). None may pass. The checker prints to a buffer, so the lesson's own outputs
are unchanged. ``build/exercise-integrity.json`` records how many candidates each exercise met.
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from build_site import fingerprint  # scripts/ is on pytest's pythonpath
from nbclient import NotebookClient
from test_notebooks import (
    CELL_TIMEOUT_S,
    HAS_DEEP,
    NEEDS_DEEP,
    finish_run,
    kernel_environment,
    read_stripped,
    run_cell,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPORT = ROOT / "build" / "exercise-integrity.json"
PAIR_LIMIT = 60_000  # checker calls for a two-answer exercise (all pairs of small values)

NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
TUPLE = re.compile(r"[(\[]\s*([-−]?\d[\d.eE+-]*(?:\s*,\s*[-−]?\d[\d.eE+-]*)+)\s*[)\]]")

# Runs in the lesson's kernel; CALL, ANSWERS, PRINTED and LIMIT are filled in per exercise.
PROBE = r'''
def _probe(_call, _answers, _printed):
    import contextlib, dataclasses, io, itertools, json, math, types
    import time
    import numpy as np
    import pandas as pd
    began = time.perf_counter()
    _space = dict(globals())
    _pool, _seen = [], set()

    values = (bool, int, float, str, tuple, list, dict, set, np.ndarray, pd.DataFrame,
              pd.Series)

    def add(value):
        if isinstance(value, (np.generic,)):
            value = value.item()
        if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
            if value.numel() > 100_000:
                return
            value = value.detach().cpu().numpy()  # a tensor, as a student could copy it
        # Only values are answers: a model, a dataset or a data loader is searched for values
        # (expand) but never handed to a checker (np.asarray would iterate a dataset).
        if not isinstance(value, values) and type(value).__name__ != "Image":
            return
        if isinstance(value, (bool, int, float, str)):
            key = ("v", type(value).__name__, round(value, 9) if isinstance(value, float)
                   and math.isfinite(value) else value)
        elif isinstance(value, tuple) and len(value) <= 6 and all(
                isinstance(x, (int, float, np.number)) and not isinstance(x, bool)
                for x in value):
            key = ("t", tuple(float(x) for x in value))
        else:
            key = ("id", id(value))
        if key not in _seen:
            _seen.add(key)
            _pool.append(value)

    def attributes(value):
        names = {}
        if hasattr(value, "__dict__"):
            names.update({k: v for k, v in vars(value).items() if not k.startswith("_")})
        if dataclasses.is_dataclass(value):
            names.update({f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)})
        for name in dir(type(value)):
            if not name.startswith("_") and isinstance(getattr(type(value), name, None), property):
                try:
                    names[name] = getattr(value, name)
                except Exception:
                    pass
        return names

    def expand(value, depth):
        add(value)
        if depth < 0:
            return
        if isinstance(value, (list, tuple, set)) and len(value) <= 500:
            for item in value:
                expand(item, depth - 1)
        elif isinstance(value, dict) and len(value) <= 500:
            for key, item in value.items():
                add(key)
                expand(item, depth - 1)
        elif isinstance(value, pd.DataFrame) and value.size <= 20000:
            for column in value.columns:
                add(value[column].to_numpy())
                for item in value[column].tolist():
                    add(item)
            for item in value.index.tolist():
                add(item)
        elif isinstance(value, pd.Series) and len(value) <= 20000:
            add(value.to_numpy())
            for item in value.tolist():
                add(item)
        elif isinstance(value, np.ndarray):
            if value.size <= 64:
                for item in value.ravel().tolist():
                    add(item)
                if 1 < value.size <= 6:
                    add(tuple(value.ravel().tolist()))
        elif not isinstance(value, (str, bytes, int, float, bool)) and depth > 0:
            for item in attributes(value).values():
                expand(item, depth - 1)

    for name, value in _space.items():
        if name.startswith("_") or name in _answers or name in ("In", "Out", "exit", "quit"):
            continue
        if isinstance(value, types.ModuleType):
            if name != "ex" and value.__name__.startswith("helpers"):
                for key, item in vars(value).items():
                    if not key.startswith("_") and not isinstance(item, types.ModuleType):
                        expand(item, 1)
            continue
        expand(value, 2)
    for item in _printed:
        add(tuple(item) if isinstance(item, list) else item)

    collected = time.perf_counter() - began
    code = compile(_call, "<exercise>", "eval")
    tried = passed = 0
    examples = []

    def attempt(values):
        nonlocal tried, passed
        tried += 1
        space = dict(_space)
        space.update(zip(_answers, values))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                ok = bool(eval(code, space))
        except Exception:
            ok = False
        if ok:
            passed += 1
            if len(examples) < 3:
                examples.append(repr(values)[:200])
        return ok

    truncated = False

    def survivors(slot, small):
        """Candidates for one answer that get a step-by-step checker past that answer.

        The other answers hold markers; a candidate survives when the checker then goes on to
        compare a marker (it accepted this answer) or passes. None when the checker shows no
        such steps (not via ``close_to``): then every candidate stays."""
        checker = _space.get("ex")
        real = getattr(checker, "close_to", None)
        if real is None:
            return None
        markers = [1234567.891 + 1000 * i for i in range(len(_answers))]
        seen = {"marker": False, "own": 0}

        def recorder(value, expected, tol):
            if any(isinstance(value, float) and value == m
                   for i, m in enumerate(markers) if i != slot):
                seen["marker"] = True
            if value is current[0]:
                seen["own"] += 1
            return real(value, expected, tol)

        kept, current, marker_seen, own_always = [], [None], False, True
        checker.close_to = recorder
        try:
            for value in small:
                current[0] = value
                seen["marker"], seen["own"] = False, 0
                values = list(markers)
                values[slot] = value
                ok = attempt(values)
                marker_seen |= seen["marker"]
                own_always &= seen["own"] > 0
                if ok or seen["marker"]:
                    kept.append(value)
        finally:
            checker.close_to = real
        return kept if (marker_seen or own_always) else None

    if len(_answers) == 1:
        for value in _pool:
            attempt((value,))
    else:
        small = [v for v in _pool if isinstance(v, (int, float, str, tuple))]
        slots = [survivors(slot, small) for slot in range(len(_answers))]
        slots = [small if s is None else s for s in slots]
        total = math.prod(len(s) for s in slots)
        truncated = total > LIMIT
        for values in itertools.islice(itertools.product(*slots), LIMIT):
            attempt(values)
    return {"pool": len(_pool), "tried": tried, "passed": passed, "examples": examples,
            "truncated": truncated, "collect_s": round(collected, 2),
            "try_s": round(time.perf_counter() - began - collected, 2)}

import json as _json
print("PROBE", _json.dumps(_probe(CALL, ANSWERS, PRINTED)))
del _probe, _json
'''


def probe_source(call: str, answers: list[str], printed: list) -> str:
    """The probe's code for one exercise (values inlined as Python literals)."""
    return (PROBE.replace("LIMIT", str(PAIR_LIMIT)).replace("CALL", repr(call))
            .replace("ANSWERS", repr(answers)).replace("PRINTED", repr(printed)))


def checker_calls(source: str) -> list[tuple[str, list[str]]]:
    """(the call's source, the names passed to it) for every ``ex.check_*`` call in a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: none appear in exercise cells
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "ex"
                and node.func.attr.startswith("check_")):
            names = [a.id for a in [*node.args, *(k.value for k in node.keywords)]
                     if isinstance(a, ast.Name)]
            found.append((ast.get_source_segment(source, node), names))
    return found


def placeholders(cells) -> set[str]:
    """Names the lesson sets to ``None`` (``name = None  # your answer``)."""
    names = set()
    for cell in cells:
        if cell.cell_type == "code":
            names |= set(re.findall(r"^(\w+) = None\b", cell.source, re.MULTILINE))
    return names


def printed_values(outputs_so_far) -> list:
    """Every number and tuple of numbers in the text and HTML the cells showed."""
    values = set()
    for output in outputs_so_far:
        texts = [output.get("text", "")] if isinstance(output.get("text"), str) else []
        data = output.get("data", {})
        texts += [str(data.get("text/plain", "")), str(data.get("text/html", "")),
                  str(data.get("text/markdown", ""))]
        for text in texts:
            text = text.replace("−", "-")
            for match in NUMBER.finditer(text):
                number = float(match.group(0).replace(",", ""))
                values.add(number)
                following = text[match.end():match.end() + 3]
                if following.lstrip().startswith("%"):
                    values.add(number / 100)
            for match in TUPLE.finditer(text):
                try:
                    values.add(tuple(float(x) for x in match.group(1).split(",")))
                except ValueError:
                    pass
    return sorted(values, key=repr)


def without_raises_tags(nb):
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "raises-exception" in tags:
            cell.metadata["tags"] = [t for t in tags if t != "raises-exception"]
    return nb


def probe_exercises(client, nb, index: int, lesson_cells, answers_everywhere) -> dict:
    """Probe every checker call of cell ``index`` (just executed); return each one's result."""
    results = {}
    for call, names in checker_calls(lesson_cells[index].source):
        answers = [n for n in names if n in answers_everywhere]
        assert answers, f"cell {index}: {call} has no `= None` placeholder"
        shown = [o for c in lesson_cells[:index + 1] for o in c.get("outputs", [])]
        probe = nbformat.v4.new_code_cell(probe_source(call, answers, printed_values(shown)))
        nb.cells.append(probe)
        try:
            client.execute_cell(probe, len(nb.cells) - 1)
        finally:
            nb.cells.pop()
        text = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout")
        results[f"cell {index}: {call.split('(')[0]}"] = json.loads(text.split("PROBE", 1)[1])
    return results


@pytest.mark.notebook
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs_to_the_end_and_no_exercise_passes_by_copying(path, plain_ipython,
                                                                   monkeypatch):
    if path.stem in NEEDS_DEEP and not HAS_DEEP:
        pytest.skip("needs PyTorch and MONAI, the optional extra: python3 run.py lab --deep")
    kernel_environment(monkeypatch, plain_ipython)
    source_fingerprint = fingerprint(path)  # before running: an edit meanwhile makes it stale
    nb = without_raises_tags(read_stripped(path))
    answers_everywhere = placeholders(nb.cells)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    results, probing = {}, 0.0
    start = time.perf_counter()
    with client.setup_kernel():
        lesson_cells = list(nb.cells)
        for index, cell in enumerate(lesson_cells):
            run_cell(client, cell, index)  # raises on any error: Run All must not stop
            if cell.cell_type == "code" and checker_calls(cell.source):
                began = time.perf_counter()
                results |= probe_exercises(client, nb, index, lesson_cells, answers_everywhere)
                probing += time.perf_counter() - began
        finish_run(client, nb, path, time.perf_counter() - start - probing, source_fingerprint)
    REPORT.parent.mkdir(exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report[path.stem] = results
    REPORT.write_text(json.dumps(report, indent=1))
    print(json.dumps({path.stem: results, "probing_s": round(probing, 1)}))
    cheated = [f"{name}: passed by {r['examples']}" for name, r in results.items() if r["passed"]]
    assert not cheated, (f"{path.name}: exercises passed by a value already on screen or in "
                         "the kernel:\n" + "\n".join(cheated))
    for name, result in results.items():
        assert result["tried"] > 0, f"{path.name} {name}: the probe tried nothing"
        assert not result.get("truncated"), (
            f"{path.name} {name}: too many answer pairs to try them all ({PAIR_LIMIT} tried); "
            "let the checker test its answers one after the other with close_to")


def test_the_probe_catches_a_copyable_answer(plain_ipython, monkeypatch):
    """The probe must really find an answer that a cell printed, and one held in a variable."""
    monkeypatch.setenv("IPYTHONDIR", str(plain_ipython))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import types\n"
        "ex = types.SimpleNamespace(check_double=lambda a, x: a == 2 * x,\n"
        "                           check_pair=lambda a, b: (a, b) == (0.5, 7))\n"
        "ex.close_to = lambda v, e, t: isinstance(v, (int, float)) and abs(v - e) <= t\n"
        "ex.check_steps = lambda a, b: ex.close_to(a, 0.5, 1e-9) and ex.close_to(b, 7, 1e-9)\n"
        "x = 21\nprint('doubled:', 2 * x, 'half:', 50, '%')\n"
        "stored = types.SimpleNamespace(seven=7)"),
        nbformat.v4.new_code_cell("answer = None\nex.check_double(answer, x)"),
        nbformat.v4.new_code_cell("a = None\nb = None\nex.check_pair(a, b)"),
        nbformat.v4.new_code_cell("a = None\nb = None\nex.check_steps(a, b)")]
    client = NotebookClient(nb, timeout=60, kernel_name="python3")
    with client.setup_kernel():
        for index, cell in enumerate(list(nb.cells)):
            client.execute_cell(cell, index)
        found = {}
        for index in (1, 2, 3):
            call, names = checker_calls(nb.cells[index].source)[0]
            shown = [o for c in nb.cells[:index + 1] for o in c.get("outputs", [])]
            answers = [n for n in names if n in placeholders(nb.cells)]
            probe = nbformat.v4.new_code_cell(probe_source(call, answers, printed_values(shown)))
            nb.cells.append(probe)
            client.execute_cell(probe, len(nb.cells) - 1)
            nb.cells.pop()
            found[index] = json.loads("".join(o["text"] for o in probe.outputs
                                              if o.get("name") == "stdout").split("PROBE")[1])
    assert found[1]["passed"] >= 1, found  # 42 was printed
    assert found[2]["passed"] >= 1, found  # 50 % -> 0.5 printed, 7 an attribute
    # a checker that judges its answers one after the other: found too, with few calls
    assert found[3]["passed"] >= 1 and found[3]["tried"] < found[2]["tried"], found


def test_placeholders_and_calls_are_found():
    cells = [nbformat.v4.new_code_cell("volume_ml = None  # your answers\nerror_pct = None\n"
                                       "ex.check_volume(volume_ml, error_pct, mask, ref);")]
    assert placeholders(cells) == {"volume_ml", "error_pct"}
    assert checker_calls(cells[0].source) == [
        ("ex.check_volume(volume_ml, error_pct, mask, ref)",
         ["volume_ml", "error_pct", "mask", "ref"])]
    assert printed_values([{"output_type": "stream", "text": "AUC 0.91, 12 %, (3, 4, 5)"}]) \
        == sorted({0.91, 12.0, 0.12, 3.0, 4.0, 5.0, (3.0, 4.0, 5.0)}, key=repr)
