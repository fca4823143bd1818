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


def glossary_names() -> set[str]:
    """Every name a glossary entry goes by: its bold head split at commas, slashes and 'and'."""
    glossary = (NOTEBOOKS / "glossary.md").read_text()
    names = set()
    for head in re.findall(r"^\*\*([^*]+)\*\*", glossary, re.MULTILINE):
        names |= {term_key(part) for part in re.split(r",|/| and |\(|\)", head) if part.strip()}
    return names - {""}


def term_key(term: str) -> str:
    """A term as the glossary test compares it: lower case, letters, digits and spaces (a
    hyphen is a space), a plural 's' dropped."""
    text = re.sub(r"[^a-z0-9 ]", "", term.lower().replace("'s ", " ").replace("-", " "))
    return re.sub(r"(?<=[a-z])s$", "", " ".join(text.split()))


def bold_terms(markdown: str) -> list[str]:
    """The terms a lesson's markdown sets in bold. Bold marks a term; a bold lead-in that ends
    with '.', ':', '?' or '!' ('**Speed.**', '**The hit:**') and the answer letters of a
    concept question are labels, not terms. Folded solutions and code are skipped."""
    text = re.sub(r"<details>.*?</details>", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"```.*?```|`[^`\n]*`", " ", text, flags=re.DOTALL)
    spans = [s.strip() for s in re.findall(r"\*\*([^*\n]+?)\*\*", text)]
    return [s for s in spans if not re.search(r"[.:?!]$", s) and not re.fullmatch(r"[A-E]", s)]


def in_glossary(term: str, names: set[str]) -> bool:
    key = term_key(term)
    return any(key == n or key.startswith(n + " ") or key.endswith(" " + n)
               or n.startswith(key + " ") for n in names)


def test_the_bold_term_rules():
    assert bold_terms("A **Dice coefficient** and **The hit:** and **A** and `**x**`") == [
        "Dice coefficient"]
    names = {"dice coefficient", "virtual patient", "hu"}
    assert in_glossary("Dice", names) and in_glossary("virtual patients", names)
    assert not in_glossary("darker", names)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_bold_term_has_a_glossary_entry(path):
    """Notebook 00 promises it: every term in bold is explained in the glossary."""
    names = glossary_names()
    missing = sorted({term for cell in json.loads(path.read_text())["cells"]
                      if cell["cell_type"] == "markdown"
                      for term in bold_terms("".join(cell["source"]))
                      if not in_glossary(term, names)})
    assert not missing, (f"{path.name}: bold terms with no glossary entry: {missing} (add an "
                         "entry to notebooks/glossary.md, or use *italics* for emphasis)")
