"""The package's shape: one-way imports between layers, no cycle, no hidden imports, small modules,
and a test file for every module.

Read from the source with ``ast`` (nothing is imported), against ``helpers.LAYERS``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import helpers

PACKAGE = Path(helpers.__file__).resolve().parent
ROOT = PACKAGE.parent
TESTS = Path(__file__).resolve().parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Imports a function may make itself: slow or optional, and needed only by that function.
LATE_IMPORTS = {"ipywidgets", "torch", "monai", "safetensors"}
# The modules whose tests live in a file named after none of them (see named_test_files): the
# file tests them together with the module it is named after.
TEST_HOMES = {
    "helpers.cache_layout": "tests/test_run.py",  # with run.py's clean
    "helpers.course": "tests/test_environment.py",  # notebook 00's course map
    "helpers.exercises.inputs": "tests/test_exercises_nb04.py",  # through the checkers
    "helpers.pipeline.grid": "tests/pipeline/test_stage1.py",  # the working grid of stage 1
    "helpers.pipeline.reader_compare": "tests/pipeline/test_reader_study.py",
    "helpers.pipeline.reader_figures": "tests/pipeline/test_reader_study.py",
    "helpers.pipeline.reader_model": "tests/pipeline/test_reader_study.py",
    "helpers.pipeline.reader_widget": "tests/pipeline/test_reader_study.py",
    "helpers.pipeline.unet_cache": "tests/pipeline/test_unet.py",
}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path):
    """``(target module, line, inside a function)`` for every import of a helpers module."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    functions = [fn for fn in ast.walk(tree)
                 if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)]
    inside = {id(node) for fn in functions for node in ast.walk(fn)}
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield (full if full in known else target), node.lineno, id(node) in inside
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in inside


def layer_of(module: str) -> int:
    unit = module.split(".")[1]
    for rank, (_, members) in enumerate(helpers.LAYERS):
        if unit in members:
            return rank
    raise AssertionError(f"{module} is in no layer of helpers.LAYERS")


def edges() -> set[tuple[str, str]]:
    known = modules()
    return {(name, target) for name, path in known.items() for target, _, _ in
            imports_of(name, path) if target in known and target != name
            and target != "helpers"}


def test_every_subpackage_and_base_module_has_a_layer():
    units = {name.split(".")[1] for name in modules() if name != "helpers"}
    listed = {unit for _, members in helpers.LAYERS for unit in members}
    assert units == listed, f"in no layer: {units - listed}; listed but absent: {listed - units}"


def pipeline_rank(module: str) -> int:
    """The rank in ``helpers.pipeline.LAYERS`` of a module inside ``helpers/pipeline/``."""
    from helpers import pipeline

    unit = module.split(".")[2]
    for rank, members in enumerate(pipeline.LAYERS):
        if unit in members:
            return rank
    raise AssertionError(f"{module} is in no layer of helpers.pipeline.LAYERS")


def test_every_pipeline_module_and_stage_folder_has_a_layer():
    from helpers import pipeline

    units = {name.split(".")[2] for name in modules() if name.count(".") >= 2
             and name.startswith("helpers.pipeline.")}
    listed = {unit for members in pipeline.LAYERS for unit in members}
    assert units == listed, f"in no layer: {units - listed}; listed but absent: {listed - units}"
    assert {"stage1", "stage2", "stage3"} <= {p.name for p in (PACKAGE / "pipeline").iterdir()
                                                if (p / "__init__.py").is_file()}


def test_pipeline_stages_import_one_way():
    """Stage 1 <- stage 2 <- stage 3 <- the chained pipeline and what uses it: no import
    inside helpers/pipeline/ climbs to a later layer (or from one stage folder into a later
    one), so following a stage's code never leaves it for a module that calls it."""
    inside = [(a, b) for a, b in edges() if a.startswith("helpers.pipeline.")
              and b.startswith("helpers.pipeline.")]
    upward = [(a, b) for a, b in inside if pipeline_rank(b) > pipeline_rank(a)]
    assert not upward, f"imports that climb inside helpers.pipeline: {sorted(upward)}"
    assert any(a.startswith("helpers.pipeline.stage3") and ".stage2" in b for a, b in inside)


def test_stage_folders_expose_their_stage():
    from helpers.pipeline import stage1, stage2, stage3

    for package, name in ((stage1, "segment_pancreas"), (stage2, "detect_lesion"),
                          (stage3, "classify_subtype")):
        assert callable(getattr(package, name)), f"{package.__name__}.{name}"


def test_no_import_climbs_to_a_higher_layer():
    upward = [(a, b) for a, b in edges() if layer_of(b) > layer_of(a)]
    assert not upward, f"imports from a lower layer up to a higher one: {sorted(upward)}"


def test_there_is_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for a, b in edges():
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_imports_inside_functions_are_only_for_slow_optional_packages():
    late = []
    for name, path in modules().items():
        lines = path.read_text().splitlines()
        for target, line, inside in imports_of(name, path):
            if inside and (target.startswith("helpers") or target.split(".")[0]
                           not in LATE_IMPORTS or "#" not in lines[line - 1]):
                late.append(f"{name}:{line} imports {target}")
    assert not late, "imports inside functions (move them to the top, or mark a slow " \
                     "optional one with a comment): " + "; ".join(late)


def test_no_module_reexports_at_its_bottom():
    """Imports sit at the top of a module, before any definition (subpackage __init__ files
    are all imports)."""
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        seen_definition = False
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                seen_definition = True
            elif isinstance(node, ast.Import | ast.ImportFrom):
                assert not seen_definition, f"{name}:{node.lineno} imports after a definition"


def test_modules_and_functions_stay_small():
    big_modules, big_functions = [], []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big_modules.append(f"{name} ({len(text.splitlines())} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big_functions.append(f"{name}.{node.name} ({length} lines)")
    assert not big_modules, f"modules over {MAX_MODULE_LINES} lines: {big_modules}"
    assert not big_functions, f"functions over {MAX_FUNCTION_LINES} lines: {big_functions}"


def test_names_other_code_relies_on_stay_where_they_were():
    from helpers import data, dicom, metrics, pipeline, registration, simulate

    for module, names in ((data, ("fetch", "load_ct", "load_labels")), (dicom, ("read_series",)),
                          (simulate, ("make_case",)), (registration, ("register",)),
                          (metrics, ("dice",)),
                          (pipeline, ("default_pipeline", "segment_pancreas", "Pipeline"))):
        for name in names:
            assert callable(getattr(module, name)), f"{module.__name__}.{name}"
    assert (PACKAGE / "data" / "__main__.py").is_file()  # python -m helpers.data verify


def named_test_files(module: str) -> list[Path]:
    """The test files named after ``module`` (``helpers.a.b.c``): ``tests/test_a_b_c.py``, or
    ``test_<name>.py`` where the name is the module's or that of a package holding it, in
    ``tests/`` or in the folder of ``tests/`` that mirrors a package above it: for
    ``helpers.pipeline.stage2.unet``, ``tests/pipeline/test_stage2.py`` (the stage folder's
    tests), ``tests/pipeline/test_unet.py``, ``tests/test_pipeline_stage2_unet.py``..."""
    parts = module.split(".")[1:]
    names = {TESTS / f"test_{'_'.join(parts)}.py"}
    for depth in range(len(parts)):
        names |= {TESTS.joinpath(*parts[:depth]) / f"test_{part}.py" for part in parts[depth:]}
    return sorted(names)


def plain_modules() -> list[str]:
    return [name for name, path in modules().items()
            if path.name not in ("__init__.py", "__main__.py")]


def test_every_module_has_its_test_file():
    """Tests mirror the package (issue 30): each module's tests are found by its name, or
    through TEST_HOMES."""
    missing = [name for name in plain_modules() if name not in TEST_HOMES
               and not any(path.is_file() for path in named_test_files(name))]
    assert not missing, ("modules with no test file named after them (tests/test_<module>.py, "
                         f"tests/<package>/test_<module>.py or TEST_HOMES): {missing}")


def test_every_test_home_exists_and_names_its_module():
    """TEST_HOMES cannot go stale: each file is there and names its module, and no module
    listed has a test file named after it (then the entry is not needed)."""
    for module, home in TEST_HOMES.items():
        assert module in plain_modules(), f"TEST_HOMES names {module}: no such module"
        path = ROOT / home
        assert path.is_file(), f"TEST_HOMES: {home} (for {module}) does not exist"
        short = module.rsplit(".", 1)[1]
        assert re.search(rf"\b{short}\b", path.read_text()), f"{home} never names {short}"
        named = [str(p.relative_to(ROOT)) for p in named_test_files(module) if p.is_file()]
        assert not named, f"{module} has {named}: drop it from TEST_HOMES"
