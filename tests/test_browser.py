"""The course in a real browser: the static website offline, and notebook 01 in JupyterLab.

Headless Chromium (Debian's, found on PATH; never `playwright install`) driven by Playwright.
Skipped, with a message, where no Chromium is installed (.ci/run installs it when it can).
These run last (tests/conftest.py): the website reuses the notebooks the notebook tests ran.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

import build_site  # scripts/ is on pytest's pythonpath (pyproject.toml)
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1800)]  # a hang guard (site build)


def course_pages() -> list[tuple[str, Path | None]]:
    """(page, source notebook) in course order: the front page, lessons, solutions, then the
    appendix, glossary and references (markdown pages: no notebook)."""
    pages: list[tuple[str, Path | None]] = [("intro.html", None)]
    for source in build_site.course_notebooks():
        relative = source.resolve().relative_to(build_site.NOTEBOOK_DIR)
        pages.append((relative.with_suffix(".html").as_posix(), source))
    pages += [(Path(page).with_suffix(".html").as_posix(), None)
              for page in build_site.REFERENCE_PAGES]
    return pages


PAGES = course_pages()


@pytest.fixture(scope="session")
def playwright_instance():
    if shutil.which("chromium") is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install -y chromium; .ci/run "
                    "does it where apt-get is usable): browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as play:
        yield play


@pytest.fixture(scope="session")
def browser(playwright_instance):
    with tempfile.TemporaryDirectory() as profile:
        context = playwright_instance.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture(scope="session")
def site_url(built_site):
    """The built site, served on a free local port (as a teacher would on a class network)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(built_site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class Watch:
    """Everything a page asks the network for; anything not local is blocked and recorded."""

    def __init__(self, page):
        self.external: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("requestfailed", lambda r: self._failed(r.url, r.failure))
        page.on("response", lambda r: r.status >= 400 and self._failed(r.url, r.status))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route):
        url = urlparse(route.request.url)
        if (url.scheme in LOCAL_SCHEMES and not url.hostname) or url.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def _failed(self, url, why):
        if not url.endswith("/favicon.ico"):  # browsers ask for one; the site has none
            self.failed.append(f"{url} ({why})")


def open_page(browser, url: str):
    page = browser.new_page()
    watch = Watch(page)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, watch


def widgets_and_math_rendered(page) -> None:
    """Wait for the embedded widgets and MathJax, if the page has any."""
    views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
    if views:
        page.wait_for_function(
            "n => document.querySelectorAll('.cell_output .jupyter-widgets').length >= n",
            arg=views, timeout=30000)
    if page.locator("article .math").count():
        page.wait_for_selector("mjx-container", timeout=30000)


def png_figures(source: Path) -> int:
    nb = nbformat.read(build_site.executed_path(source), as_version=4)
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])
               if "image/png" in output.get("data", {})
               and "text/html" not in output.get("data", {}))


@pytest.mark.parametrize(("name", "source"), PAGES, ids=[p for p, _ in PAGES])
def test_page_reads_offline_with_figures_and_no_errors(browser, site_url, name, source):
    page, watch = open_page(browser, f"{site_url}/{name}")
    try:
        widgets_and_math_rendered(page)
        assert not watch.external, f"{name} asked another host for {watch.external}"
        assert not watch.failed, f"{name}: requests failed: {watch.failed}"
        assert not watch.errors, f"{name}: JavaScript errors: {watch.errors}"

        images = page.evaluate("""() => Array.from(document.querySelectorAll('article img'))
            .map(i => ({src: i.currentSrc.slice(-60), ok: i.complete && i.naturalWidth > 0,
                        widget: !!i.closest('.jupyter-widgets')}))""")
        broken = [i["src"] for i in images if not i["ok"]]
        assert not broken, f"{name}: images that did not load: {broken}"
        if source is not None:
            figures = png_figures(source)
            shown = sum(not i["widget"] for i in images)
            assert shown >= figures, f"{name}: {shown} images for {figures} figures"

        # error outputs only where a cell is tagged raises-exception (meant to fail)
        errors = page.evaluate("""() => {
            const bad = [];
            for (const el of document.querySelectorAll('.output.traceback, .output_error'))
                if (!el.closest('.tag_raises-exception')) bad.push(el.innerText.slice(0, 300));
            for (const el of document.querySelectorAll('.output.stderr, .jupyter-widgets'))
                if (/Traceback \\(most recent call last\\)|Error rendering|Could not create/
                        .test(el.innerText)) bad.push(el.innerText.slice(0, 300));
            return bad; }""")
        assert not errors, f"{name} shows errors: {errors}"
        assert page.locator("mjx-merror").count() == 0, f"{name}: MathJax could not typeset"
        views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
        if views:
            rendered = page.locator(".cell_output .jupyter-widgets").count()
            assert rendered >= views, f"{name}: {views} widgets embedded, {rendered} shown"

        # navigation in course order, and "next" leads to the next page of the course
        names = [p for p, _ in PAGES]
        nav = page.evaluate("""() => Array.from(document.querySelectorAll(
            'nav.bd-docs-nav a.reference.internal')).map(a => a.href.split('#')[0])""")
        expected = [f"{site_url}/{p}" for p in names[1:]]
        assert nav == expected, f"{name}: navigation {nav} is not the course order {expected}"
        position = names.index(name)
        if position + 1 < len(names):
            following = page.evaluate(
                "() => document.querySelector('a.right-next')?.href.split('#')[0]")
            assert following == f"{site_url}/{names[position + 1]}", (
                f"{name}: 'next' leads to {following}")
    finally:
        page.close()


def test_site_reads_from_plain_files_without_a_server(browser, built_site):
    """Opened straight from disk (file://), a page with widgets and maths still shows them."""
    with_widgets = next((p for p, s in PAGES if s is not None and nbformat.read(
        build_site.executed_path(s), as_version=4).metadata.get("widgets")), "intro.html")
    for name in ("intro.html", with_widgets):
        page, watch = open_page(browser, (built_site / name).as_uri())
        try:
            widgets_and_math_rendered(page)
            assert not watch.external, f"{name} asked another host for {watch.external}"
            assert not watch.errors, f"{name}: JavaScript errors: {watch.errors}"
            assert page.evaluate("() => Array.from(document.images).every("
                                 "i => i.complete && i.naturalWidth > 0)"), name
        finally:
            page.close()


def test_viewer_moves_in_a_live_jupyterlab(playwright_instance):
    """Notebook 01 in a real JupyterLab: Run All, then the slice slider changes the picture."""
    from check_viewer_in_jupyterlab import SHOTS, check_viewer

    attempts = []
    for _ in range(2):  # one retry: a first run has been seen never to start executing
        try:
            checks = check_viewer(SHOTS, playwright_instance)
        except Exception as error:  # noqa: BLE001 (reported below if the retry fails too)
            attempts.append(f"{type(error).__name__}: {str(error)[:500]}")
            continue
        if checks and all(checks.values()):
            return
        attempts.append(str(checks))
    pytest.fail(f"the viewer check failed twice (screenshots in {SHOTS}): {attempts}")
