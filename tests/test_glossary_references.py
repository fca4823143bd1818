"""The glossary and the reference list: present, on the website, linked, and complete.

Every DOI and arXiv number any notebook or the instructor guide cites must be in
``notebooks/references.md``; the glossary must explain the terms the lessons rely on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import build_site  # scripts/ is on pytest's pythonpath
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TERMS = ("HU", "Window / level", "Dice", "HD95", "TRE", "CNR", "AUC", "ROC", "Sensitivity",
         "Specificity", "PPV", "NPV", "PDAC", "PNET", "SPT", "IPMN", "Cyst", "Registration",
         "Rigid", "Affine", "B-spline", "Atlas", "Mutual information", "Label transfer",
         "Virtual patient", "Out-of-fold", "Bootstrap interval", "Jaccard")


def text_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])


def test_both_pages_are_on_the_website():
    assert {"glossary.md", "references.md"} <= set(build_site.REFERENCE_PAGES)
    for page in build_site.REFERENCE_PAGES:
        assert (NOTEBOOKS / page).is_file()


def test_every_markdown_page_a_lesson_links_to_is_on_the_website():
    # the site build treats a link to a page outside its table of contents as an error
    sources = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(NOTEBOOKS.glob("*.md"))
    linked = {m for path in sources
              for m in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)", text_of(path))}
    missing = sorted(linked - set(build_site.REFERENCE_PAGES))
    assert not missing, f"linked from notebooks/ but not in build_site.REFERENCE_PAGES: {missing}"


@pytest.mark.parametrize("term", TERMS)
def test_the_glossary_explains(term):
    glossary = (NOTEBOOKS / "glossary.md").read_text()
    assert re.search(r"^\*\*[^*]*" + re.escape(term), glossary, re.MULTILINE | re.IGNORECASE), (
        f"no glossary entry starts with {term!r}")


def test_every_cited_doi_and_arxiv_number_is_in_the_references():
    references = (NOTEBOOKS / "references.md").read_text()
    sources = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + [NOTEBOOKS / "INSTRUCTORS.md"]
    cited = {m.rstrip(".,;:)") for path in sources
             for m in re.findall(r"10\.\d{4,}/[^\s\"'\\]+|arXiv[ :]?\d{4}\.\d{4,5}", text_of(path))}
    missing = sorted(c for c in cited if re.sub(r"arXiv[ :]?", "", c) not in references)
    assert not missing, f"cited but not in notebooks/references.md: {missing}"


@pytest.mark.parametrize("stem", ["00", "01", "02", "03"])
def test_lessons_link_both_pages_in_their_opening_cell(stem):
    lesson = next(NOTEBOOKS.glob(f"{stem}_*.ipynb"))
    opening = "".join(json.loads(lesson.read_text())["cells"][0]["source"])
    assert "(glossary.md)" in opening and "(references.md)" in opening
