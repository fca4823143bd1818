#!/usr/bin/env python3
"""Set up the series and run it: one command for each job, on a machine with only Python.

    python3 run.py lab        # set up .venv and open the notebooks in JupyterLab
    python3 run.py test       # set up .venv and run every test and every notebook
    python3 run.py site       # build the course as a website in build/site/ (reads offline)
    python3 run.py prefetch   # download all data and build the caches (offline classrooms)
    python3 run.py verify     # check every data sample against its SHA-256

``test`` (without arguments) and ``prefetch`` first build the caches of virtual patients and
training tables that notebooks 04-07 share (``python -m helpers.pipeline.warmup warm``: a few
minutes the first time, seconds afterwards).
Set-up creates a virtual environment in .venv, installs the pinned requirements and the
``helpers`` package (editable), and registers the nbstripout git filter in this clone. It
is skipped when requirements.txt and pyproject.toml have not changed since the last run.
Extra arguments after ``test`` go to pytest (e.g. ``python3 run.py test -k data``); ``site``
takes ``--force`` to re-execute every notebook (it otherwise reuses those the tests executed).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".plainct-installed"


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the pinned packages, unless already done for these pins."""
    if sys.version_info[:2] < (3, 11):  # noqa: UP036 (this script may meet an old Python)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if STAMP.exists() and STAMP.read_text() == install_fingerprint() and PYTHON.exists():
        return
    start = time.perf_counter()
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    say("installing the pinned requirements (a few minutes the first time)")
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(install_fingerprint())
    say(f"environment ready in {time.perf_counter() - start:.0f} s")


def install_git_filter() -> None:
    """Strip notebook outputs on commit (the filter lives in this clone's git config)."""
    if not (ROOT / ".git").exists():
        return
    subprocess.run([str(BIN / "nbstripout"), "--install", "--attributes", ".gitattributes"],
                   cwd=ROOT, check=False)
    subprocess.run(["git", "config", "filter.nbstripout.extrakeys", "metadata.language_info"],
                   cwd=ROOT, check=False)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "test", "site", "prefetch", "verify"}:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    ensure_environment()
    install_git_filter()
    if command == "lab":
        notebook = "notebooks/00_setup_and_data_tour.ipynb"
        return subprocess.run([str(BIN / "jupyter"), "lab", notebook, *extra], cwd=ROOT).returncode
    if command == "test":
        if not extra:  # the whole suite runs every notebook: build the slow caches first
            code = warm_caches()
            if code:
                return code
        start = time.perf_counter()
        code = subprocess.run([str(PYTHON), "-m", "pytest", *extra], cwd=ROOT).returncode
        say(f"tests finished in {time.perf_counter() - start:.0f} s (exit code {code})")
        return code
    if command == "site":
        script = str(ROOT / "scripts" / "build_site.py")
        return subprocess.run([str(PYTHON), script, *extra], cwd=ROOT).returncode
    code = subprocess.run([str(PYTHON), "-m", "helpers.data", command], cwd=ROOT).returncode
    if command == "prefetch" and code == 0:
        code = warm_caches()  # an offline classroom then needs no slow first run either
    return code


def warm_caches() -> int:
    """Build the virtual patients and training tables notebooks 04-07 share (minutes the
    first time, seconds afterwards), so that each notebook then runs in about a minute."""
    start = time.perf_counter()
    say("building the virtual-patient and model caches (slow only the first time)")
    code = subprocess.run([str(PYTHON), "-m", "helpers.pipeline.warmup", "warm"],
                          cwd=ROOT).returncode
    say(f"caches ready in {time.perf_counter() - start:.0f} s (exit code {code})")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
