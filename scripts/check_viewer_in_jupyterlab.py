"""Check notebook 01's viewer in a real JupyterLab, driven by headless Chromium.

The unit tests call the viewer's callbacks directly and the notebook test moves every
widget inside the kernel; this script checks the last piece, the browser: it starts
JupyterLab on a copy of the notebook, runs all cells, moves the slice slider with the
keyboard, switches window preset and plane, and checks that the picture and the HU
read-out change and that no error output appears. Screenshots go to build/viewer-check/.
tests/test_browser.py runs the same checks (``check_viewer``) as part of the test suite.

Needs Debian's Chromium (``apt-get install -y chromium``; .ci/run installs it) and Playwright
(pinned in requirements.txt). Never run `playwright install` (it downloads a browser of its
own). Usage:
    .venv/bin/python scripts/check_viewer_in_jupyterlab.py
Exits 0 when every check passed, 1 otherwise, 2 when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_ct_fundamentals.ipynb"
SHOTS = ROOT / "build" / "viewer-check"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_lab(folder: Path, port: int) -> subprocess.Popen:
    jupyter = Path(sys.executable).with_name("jupyter")
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
         "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
         # No "Would you like to get notified about official Jupyter news?" pop-up: in CI it
         # once covered the "Run" menu, so no cell ran. No update check either (no internet).
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline"))
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    stop(server)
    raise RuntimeError("JupyterLab did not start within 60 s")


def stop(server: subprocess.Popen) -> None:
    """Stop the JupyterLab server we started (by its PID; it shuts its kernels down)."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def drive(page, port: int, checks: dict[str, bool], shots: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}")
    indicator = ".jp-Notebook-ExecutionIndicator"
    page.wait_for_selector(f"{indicator}[data-status='idle']", timeout=90000)
    news = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data')"
                         ".textContent).news")
    checks["JupyterLab's news pop-up is turned off"] = bool(news and news.get("disabled"))
    # Right after the kernel reports idle, "Run All" is sometimes silently dropped (seen here
    # several times): run it again until the kernel turns busy.
    for attempt in range(3):
        page.click("text=Run", timeout=10000)
        page.click("text=Run All Cells", timeout=10000)
        try:
            page.wait_for_selector(f"{indicator}[data-status='busy']", timeout=15000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.wait_for_selector("text=HU at the crosshair", timeout=180000)
    viewer = page.locator(".jupyter-widgets.widget-vbox").filter(
        has_text="HU at the crosshair").first
    viewer.scroll_into_view_if_needed()
    time.sleep(2)
    viewer.screenshot(path=str(shots / "1_initial.png"))
    image = viewer.locator("img").first
    first_picture = image.get_attribute("src")
    first_pixels = image.screenshot()
    slider = viewer.locator(".widget-slider").filter(has_text="slice").first
    slider.locator(".noUi-handle").first.click()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    time.sleep(3)
    viewer.screenshot(path=str(shots / "2_slice_moved.png"))
    checks["slider changes the picture"] = image.get_attribute("src") != first_picture
    checks["slider changes the pixels on screen"] = image.screenshot() != first_pixels
    viewer.locator("select").first.select_option("bone")
    time.sleep(2)
    width = viewer.locator(".widget-slider").filter(has_text="width").first.inner_text()
    checks["bone preset sets width 1800"] = "1800" in width
    viewer.locator("button", has_text="coronal").first.click()
    time.sleep(3)
    viewer.screenshot(path=str(shots / "3_bone_coronal.png"))
    checks["plane switch shows a coronal slice"] = "coronal" in viewer.inner_text()
    errors = page.locator(".jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']").count()
    checks["no error output on the page"] = errors == 0
    page.screenshot(path=str(shots / "0_page.png"))


def check_viewer(shots: Path = SHOTS, play=None) -> dict[str, bool]:
    """Run notebook 01 in a fresh JupyterLab and check its viewer; {check: passed}.

    ``play`` is a running ``sync_playwright()`` instance to reuse (one per thread), if any.
    """
    from playwright.sync_api import sync_playwright

    if play is None:
        with sync_playwright() as own:
            return check_viewer(shots, own)
    shots.mkdir(parents=True, exist_ok=True)
    checks: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as profile:
        shutil.copy(NOTEBOOK, folder)
        port = free_port()
        server = start_lab(Path(folder), port)
        try:
            context = play.chromium.launch_persistent_context(
                profile, executable_path=shutil.which("chromium"), args=FLAGS,
                headless=True, viewport={"width": 1500, "height": 1000})
            page = context.pages[0] if context.pages else context.new_page()
            try:
                drive(page, port, checks, shots)
            except Exception:
                page.screenshot(path=str(shots / "failed.png"))  # what the browser showed
                raise
            finally:
                context.close()
        finally:
            stop(server)
    return checks


def main() -> int:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("playwright is not installed: .venv/bin/pip install -r requirements.txt")
        return 2
    if not shutil.which("chromium"):
        print("chromium is not installed: apt-get install -y chromium")
        return 2
    checks = check_viewer(SHOTS)
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"screenshots in {SHOTS}")
    return 0 if checks and all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
