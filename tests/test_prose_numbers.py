"""Prose that cannot drift: no lesson types in a result.

A number written in a lesson's markdown next to a result word (AUC, Dice, sensitivity,
specificity, %, patients, seconds) is either

- a **sourced fact**: its paragraph (or table row) cites a key of ``notebooks/references.md`` as
  ``[key](references.md)``, and that key exists; or
- a **definition** that holds whatever the code gives ("0.5 is guessing", "1 = perfect"), listed
  in ``DEFINITIONS`` below; or else
- it must not be typed at all: the lesson renders it from the code (a code cell ending in
  ``Markdown(f"...")``, which this test does not scan because it cannot drift), or says "the
  value printed above".

Folded worked solutions (``<details>``), code blocks and code spans are skipped: they are code.
``python tests/test_prose_numbers.py`` prints what it found, notebook by notebook.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REFERENCES = ROOT / "notebooks" / "references.md"

NUMBER = r"(?<![\w.,/-])[-+−]?\d+(?:[.,]\d+)*(?![\w/])"
RESULT_WORDS = r"(?:AUCs?|Dice|sensitivit(?:y|ies)|specificit(?:y|ies))"
# A number and the result word it stands next to (up to three words apart).
RESULT = re.compile(
    rf"(?P<a>{NUMBER})\s*(?:%|s\b|seconds\b|(?:[\w-]+\s+){{0,3}}?patients\b)"
    rf"|{RESULT_WORDS}\W+(?:[A-Za-z-]+\W+){{0,3}}?(?P<b>{NUMBER})"
    rf"|(?P<c>{NUMBER})\s+(?:[A-Za-z-]+\s+){{0,2}}?{RESULT_WORDS}",
    re.IGNORECASE)
# Statements that are true by definition, whatever the code computes.
DEFINITIONS = [
    r"0\.5 (?:is|means|=) (?:guessing|chance|a coin)",
    r"1 (?:is|=|means) perfect",
    r"0 (?:is|=|means) no overlap",
    r"between 0 and 1",
    r"from 0 to 1",
    r"100 %(?: of)? (?:sensitivity|specificity)",
    r"95 % (?:bootstrap |confidence |Wilson )?intervals?",
    r"95(?:th| %) percentile",
    r"\(about \d+ min\)",  # an exercise's stated time: an input of the time rubric
]
# A concept question ("### Quick check") poses a hypothetical: its numbers are not results.
HYPOTHETICAL = re.compile(r"^\s*#+\s*Quick check", re.IGNORECASE)
# A source cited by key; "[references](references.md)", the page's own link, cites nothing.
CITATION = re.compile(r"\[(?!references\])([\w.-]+)\]\(references\.md\)")


def reference_keys() -> set[str]:
    return set(re.findall(r"^\s*- \*\*\[([\w.-]+)\]\*\*", REFERENCES.read_text(), re.MULTILINE))


def prose_units(markdown: str) -> list[str]:
    """Paragraphs of a markdown cell (each table row on its own), with code, folded solutions,
    HTML comments and link targets removed."""
    text = re.sub(r"<details>.*?</details>", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\((?!references\.md\))[^)]*\)", "]", text)  # keep only citation targets
    units = []
    for block in re.split(r"\n\s*\n", text):
        rows = [line for line in block.splitlines() if line.lstrip().startswith("|")]
        rest = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("|"))
        # each data row is read with the table's header, which names what its numbers are
        body = [row for row in rows[1:] if not re.fullmatch(r"[\s|:-]+", row)]
        units.extend(f"{rows[0]} {row}" for row in body)
        if rest.strip():
            units.append(rest)
    return units


def typed_results(markdown: str) -> tuple[list[str], int]:
    """(numbers typed next to a result word with no source, count of sourced ones)."""
    unsourced, sourced = [], 0
    for unit in prose_units(markdown):
        flat = " ".join(unit.split())
        cleaned = flat
        for definition in DEFINITIONS:
            cleaned = re.sub(definition, " ", cleaned, flags=re.IGNORECASE)
        hits = [m.group(0) for m in RESULT.finditer(cleaned)]
        if not hits:
            continue
        if CITATION.search(flat):
            sourced += len(hits)
        else:
            unsourced.extend(f"{hit!r} in: {flat[:160]}" for hit in hits)
    return unsourced, sourced


def lesson_cells(path: Path):
    return json.loads(path.read_text())["cells"]


def rendered_count(path: Path) -> int:
    """Values a lesson renders into prose from the code: f-string fields inside Markdown(...)."""
    count = 0
    for cell in lesson_cells(path):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "Markdown(" in source:
            count += len(re.findall(r"(?<!\{)\{[^{}]+\}(?!\})", source))
    return count


def test_the_scanner_catches_typed_results_and_spares_sources():
    assert typed_results("The detector reached AUC 0.91 on the held-out patients.")[0]
    assert typed_results("It found 12 of 20 patients.")[0]
    assert typed_results("Training took 45 s.")[0]
    assert typed_results("Sensitivity was 73 %.")[0]
    assert typed_results("a Dice of 0.84")[0]
    cited = "PANDA reached 92.9 % sensitivity ([cao2023](references.md))."
    assert typed_results(cited) == ([], 1)
    assert typed_results("An AUC of 0.5 is guessing, 1 is perfect.")[0] == []
    assert typed_results("AUC 0.9; sources in the [references](references.md).")[0]
    assert typed_results("a bootstrap 95 % interval of the AUC")[0] == []
    assert HYPOTHETICAL.match("### Quick check: reading an AUC\n\nAn AUC of 0.90 ...")
    assert typed_results("```python\nprint(f'AUC {auc:.2f} 0.9')\n```")[0] == []
    assert typed_results("<details>AUC 0.93</details>")[0] == []
    table = ("| study | AUC |\n|---|---|\n| PANDA ([cao2023](references.md)) | 0.99 |\n"
             "| ours | 0.91 |")
    assert len(typed_results(table)[0]) == 1  # a citation covers its own row only


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_lesson_types_in_a_result(path):
    found = []
    for index, cell in enumerate(lesson_cells(path)):
        if cell["cell_type"] == "markdown" and not HYPOTHETICAL.match("".join(cell["source"])):
            found += [f"cell {index}: {hit}" for hit in typed_results("".join(cell["source"]))[0]]
    assert not found, (
        f"{path.name}: numbers typed next to a result word, with no [key](references.md) "
        "source in their paragraph. Render them from the code (Markdown(f'...')) or cite:\n"
        + "\n".join(found))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_cited_key_is_in_the_references(path):
    keys = reference_keys()
    cited = {key for cell in lesson_cells(path) if cell["cell_type"] == "markdown"
             for key in CITATION.findall("".join(cell["source"]))}
    assert cited <= keys, f"{path.name} cites keys not in references.md: {sorted(cited - keys)}"


def test_no_lesson_or_page_for_students_mentions_the_developers_notes():
    pages = [*NOTEBOOKS, *sorted((ROOT / "notebooks").glob("*.md")),
             *sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))]
    for path in pages:
        assert "DOMAIN-NOTES" not in path.read_text(), (
            f"{path.relative_to(ROOT)} mentions DOMAIN-NOTES, a file students do not have: "
            "cite notebooks/references.md by key instead")


def test_reference_keys_are_unique():
    listed = re.findall(r"^\s*- \*\*\[([\w.-]+)\]\*\*", REFERENCES.read_text(), re.MULTILINE)
    assert listed and len(listed) == len(set(listed)), "a key appears twice in references.md"


if __name__ == "__main__":  # a report: what the scanner found in each lesson
    total = {"rendered": 0, "sourced": 0, "typed": 0}
    for path in NOTEBOOKS:
        typed, sourced = [], 0
        for cell in lesson_cells(path):
            if cell["cell_type"] == "markdown" and not HYPOTHETICAL.match("".join(cell["source"])):
                hits, n = typed_results("".join(cell["source"]))
                typed += hits
                sourced += n
        rendered = rendered_count(path)
        total["rendered"] += rendered
        total["sourced"] += sourced
        total["typed"] += len(typed)
        print(f"{path.stem}: rendered {rendered}, sourced {sourced}, typed {len(typed)}")
        for hit in typed if "-v" in sys.argv else []:
            print("   ", hit)
    print("total:", total)
