"""Check notebook 01's viewer in a real JupyterLab, driven by headless Chromium.

The unit tests call the viewer's callbacks directly and the notebook test moves every
widget inside the kernel; this script checks the last piece, the browser: it starts
JupyterLab on a copy of the notebook, runs all cells, moves the slice slider with the
keyboard, switches window preset and plane, and checks that the picture and the HU
read-out change and that no error output appears. Screenshots go to build/viewer-check/.

Needs what the pinned environment does not carry (install by hand, e.g. on Debian):
    apt-get install -y chromium && .venv/bin/pip install playwright
Never run `playwright install` (it downloads a browser of its own). Usage:
    .venv/bin/python scripts/check_viewer_in_jupyterlab.py
Exits 0 when every check passed, 1 otherwise, 2 when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_ct_fundamentals.ipynb"
SHOTS = ROOT / "build" / "viewer-check"
PORT = 8899
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def start_lab(folder: Path) -> subprocess.Popen:
    jupyter = Path(sys.executable).with_name("jupyter")
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={PORT}",
         "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api", timeout=1)
            return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("JupyterLab did not start within 60 s")


def drive(page, checks: dict[str, bool]) -> None:
    page.goto(f"http://127.0.0.1:{PORT}/lab/tree/{NOTEBOOK.name}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90000)
    page.click("text=Run", timeout=10000)
    page.click("text=Run All Cells", timeout=10000)
    page.wait_for_selector("text=HU at the crosshair", timeout=180000)
    viewer = page.locator(".jupyter-widgets.widget-vbox").filter(
        has_text="HU at the crosshair").first
    viewer.scroll_into_view_if_needed()
    time.sleep(2)
    viewer.screenshot(path=str(SHOTS / "1_initial.png"))
    image = viewer.locator("img").first
    first_picture = image.get_attribute("src")
    slider = viewer.locator(".widget-slider").filter(has_text="slice").first
    slider.locator(".noUi-handle").first.click()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    time.sleep(3)
    viewer.screenshot(path=str(SHOTS / "2_slice_moved.png"))
    checks["slider changes the picture"] = image.get_attribute("src") != first_picture
    viewer.locator("select").first.select_option("bone")
    time.sleep(2)
    width = viewer.locator(".widget-slider").filter(has_text="width").first.inner_text()
    checks["bone preset sets width 1800"] = "1800" in width
    viewer.locator("button", has_text="coronal").first.click()
    time.sleep(3)
    viewer.screenshot(path=str(SHOTS / "3_bone_coronal.png"))
    checks["plane switch shows a coronal slice"] = "coronal" in viewer.inner_text()
    errors = page.locator(".jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']").count()
    checks["no error output on the page"] = errors == 0
    page.screenshot(path=str(SHOTS / "0_page.png"))


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: .venv/bin/pip install playwright")
        return 2
    if not shutil.which("chromium"):
        print("chromium is not installed: apt-get install -y chromium")
        return 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp())
    shutil.copy(NOTEBOOK, folder)
    checks: dict[str, bool] = {}
    server = start_lab(folder)
    try:
        with sync_playwright() as play:
            context = play.chromium.launch_persistent_context(
                tempfile.mkdtemp(), executable_path=shutil.which("chromium"), args=FLAGS,
                headless=True, viewport={"width": 1500, "height": 1000})
            drive(context.pages[0] if context.pages else context.new_page(), checks)
            context.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"screenshots in {SHOTS}")
    return 0 if checks and all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
