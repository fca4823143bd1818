"""The course website (scripts/build_site.py): executed once, complete, in order, offline.

These run after the notebook tests (tests/conftest.py moves them last) so that the site reuses
the notebooks those tests executed. tests/test_browser.py opens the same site in Chromium.
"""

from __future__ import annotations

import html as html_text
import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path

import build_site  # scripts/ is on pytest's pythonpath (pyproject.toml)
import nbformat
import pytest

pytestmark = [pytest.mark.site, pytest.mark.timeout(1800)]  # a hang guard for the build

EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def page_of(source: Path) -> str:
    """The site page (relative path, .html) of a notebook."""
    return source.resolve().relative_to(build_site.NOTEBOOK_DIR).with_suffix(".html").as_posix()


def course_pages() -> list[str]:
    """Every page in the order of the navigation: the front page, lessons, solutions, then the
    appendix, glossary and references."""
    return (["intro.html"] + [page_of(source) for source in build_site.course_notebooks()]
            + [Path(page).with_suffix(".html").as_posix() for page in build_site.REFERENCE_PAGES])


class Links(HTMLParser):
    """Every address an HTML page loads (scripts, styles, images, media) and its nav links."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.nav: list[str] = []
        self._in_nav = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav":
            self._in_nav += "bd-docs-nav" in (attrs.get("class") or "")
        if tag in {"script", "img", "iframe", "audio", "video", "source", "embed"}:
            self.loads.append(attrs.get("src") or "")
        if tag == "link" and attrs.get("rel") not in {"canonical", "index", "search", "next",
                                                       "prev"}:
            self.loads.append(attrs.get("href") or "")
        if tag == "a" and self._in_nav and "internal" in (attrs.get("class") or ""):
            self.nav.append(attrs.get("href") or "")

    def handle_endtag(self, tag):
        if tag == "nav" and self._in_nav:
            self._in_nav -= 1


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def test_executed_copies_are_reused_and_refreshed(tmp_path, monkeypatch):
    """A notebook is executed once; its copy is reused until the source changes."""
    notebooks, executed = tmp_path / "notebooks", tmp_path / "executed"
    notebooks.mkdir()
    monkeypatch.setattr(build_site, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setattr(build_site, "EXECUTED", executed)
    source = notebooks / "00_tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(nb, source)

    [(_, copy)] = build_site.executed_notebooks()
    assert copy == executed / "00_tiny.ipynb"
    ran = nbformat.read(copy, as_version=4)
    assert "42" in ran.cells[0].outputs[0].text
    assert ran.metadata[build_site.METADATA_KEY]["fingerprint"] == build_site.fingerprint(source)

    def must_not_run(path):
        raise AssertionError(f"{path} was executed again although it had not changed")

    monkeypatch.setattr(build_site, "execute", must_not_run)
    assert build_site.executed_notebooks() == [(source, copy)]  # reused
    nb.cells[0].source = "print(6 * 9)"
    nbformat.write(nb, source)
    assert not build_site.is_fresh(source)
    monkeypatch.undo()
    monkeypatch.setattr(build_site, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setattr(build_site, "EXECUTED", executed)
    build_site.executed_notebooks()
    assert "54" in nbformat.read(copy, as_version=4).cells[0].outputs[0].text


def test_test_cells_are_dropped_from_the_saved_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(build_site, "NOTEBOOK_DIR", tmp_path)
    monkeypatch.setattr(build_site, "EXECUTED", tmp_path / "executed")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# lesson"), nbformat.v4.new_code_cell("poke"),
                nbformat.v4.new_code_cell("memory")]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    source = tmp_path / "00_x.ipynb"
    nbformat.write(nb, source)
    saved = nbformat.read(build_site.save_executed(nb, source, "abc", drop_last_cells=2), 4)
    assert [c.source for c in saved.cells] == ["# lesson"]
    assert "widgets" in saved.metadata and len(nb.cells) == 3  # the caller's notebook is intact


def figure_cell(caption_markdown: str):
    nb = nbformat.v4.new_notebook()
    drawn = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    nb.cells = [nbformat.v4.new_markdown_cell(caption_markdown),
                nbformat.v4.new_code_cell("fig = draw()", outputs=[drawn])]
    build_site.add_alt_text(nb)
    return nb.cells[1].metadata.get("mystnb", {}).get("image", {}).get("alt")


def test_an_italic_caption_becomes_the_figures_alt_text():
    assert figure_cell("Some text.\n\n*The toy pipeline: stage 1,\nthen stage 2.* More.") == (
        "The toy pipeline: stage 1, then stage 2.")
    assert figure_cell("*An early caption.*\n\nThe last paragraph is plain.") is None
    assert figure_cell("* a bullet *and* another") is None
    assert figure_cell("**Bold, not a caption.**") is None


@pytest.mark.parametrize("stem", ["03", "04", "05", "07"])
def test_each_diagram_has_its_caption_as_alt_text_on_the_site(built_site, stem):
    source = next(build_site.NOTEBOOK_DIR.glob(f"{stem}_*.ipynb"))
    nb = nbformat.read(source, as_version=4)
    [caption] = [build_site.figure_caption(before.source)
                 for before, cell in zip(nb.cells, nb.cells[1:], strict=False)
                 if "_diagram()" in cell.source and before.cell_type == "markdown"]
    assert caption and caption.split(":")[0] in {"Label transfer", "The toy pipeline"}
    html = (built_site / page_of(source)).read_text(encoding="utf-8")
    alts = re.findall(r'<img\b[^>]*\balt="([^"]*)"', html)
    alts = {" ".join(html_text.unescape(a).replace("\u2019", "'").split()) for a in alts}
    assert caption in alts, f"{page_of(source)}: no image has the alt {caption!r}"


def nav_pages(site: Path, page: str) -> list[str]:
    """The pages a page's sidebar links to, in order, as paths from the site's root."""
    resolved = []
    for href in parse(site / page).nav:
        target = href.split("#")[0]
        resolved.append(posixpath.normpath(posixpath.join(posixpath.dirname(page), target))
                        if target else page)
    return resolved


def test_every_notebook_has_a_page_and_the_navigation_follows_the_course(built_site):
    pages = course_pages()
    lessons = pages[1:]  # the front page (intro) is the site's title link, not a nav entry
    for page in pages:
        assert (built_site / page).is_file(), f"the site has no page {page}"
    for page in pages:
        assert nav_pages(built_site, page) == lessons, (
            f"{page}: the navigation does not list the notebooks in course order")


def test_every_page_loads_only_what_the_site_serves(built_site):
    """No script, style sheet, image or font comes from another host (an offline classroom)."""
    pages = sorted(built_site.rglob("*.html"))
    assert pages
    for page in pages:
        external = [url for url in parse(page).loads if EXTERNAL.match(url)]
        assert not external, f"{page.relative_to(built_site)} loads {external}"
    for sheet in built_site.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
        external = re.findall(r"(?:url\(\s*['\"]?|@import\s+['\"])((?:[a-z]+:)?//[^'\")]+)",
                              text, re.IGNORECASE)
        assert not external, f"{sheet.relative_to(built_site)} loads {external}"
    offline = built_site / "_static" / "offline-js"
    for name in ("require.js", "widgets-setup.js", "html-manager/embed-amd.js",
                 "mathjax/tex-svg-full.js", "NOTICE.txt", "mathjax/LICENSE"):
        assert (offline / name).is_file(), f"the site does not serve {name}"


def test_pages_show_the_executed_outputs(built_site):
    """Each page carries its notebook's figures and embeds its widgets' state."""
    for source in build_site.course_notebooks():
        nb = nbformat.read(build_site.executed_path(source), as_version=4)
        figures = sum(1 for cell in nb.cells if cell.cell_type == "code"
                      for output in cell.get("outputs", [])
                      if "image/png" in output.get("data", {})
                      and "text/html" not in output.get("data", {}))
        html = (built_site / page_of(source)).read_text(encoding="utf-8")
        images = len(re.findall(r"<img\b", html))
        assert images >= figures, f"{page_of(source)}: {images} images for {figures} figures"
        if nb.metadata.get("widgets"):
            assert "application/vnd.jupyter.widget-state+json" in html, (
                f"{page_of(source)}: the widget state is not embedded")


def test_prose_rendered_from_the_code_is_on_the_page(built_site):
    """Sentences a lesson renders with Markdown(f"...") (numbers read from the code) are shown
    on the site as text, not lost as an unrendered output."""
    checked = 0
    for source in build_site.course_notebooks():
        nb = nbformat.read(build_site.executed_path(source), as_version=4)
        html = html_text.unescape((built_site / page_of(source)).read_text(encoding="utf-8"))
        page_text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
        for cell in nb.cells:
            for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
                markdown = output.get("data", {}).get("text/markdown")
                if not markdown:
                    continue
                words = re.findall(r"[A-Za-z][A-Za-z'-]{3,}", markdown)[:6]
                assert all(word in page_text for word in words), (
                    f"{page_of(source)}: rendered text {markdown[:80]!r} is not on the page")
                checked += 1
    assert checked, "no lesson renders any prose from the code"
