#!/usr/bin/env python3
"""Set up the series and run it: one command for each job, on a machine with only Python 3.11.

    python3 run.py lab        open the course in JupyterLab (sets up .venv the first time)
    python3 run.py prefetch   download the data and build every cache the notebooks use
    python3 run.py test       run every test, the linter and every notebook
    python3 run.py site       build the course as a website in build/site/ (reads offline)
    python3 run.py verify     check every data sample against its SHA-256
    python3 run.py clean      delete the caches this project wrote

`python3 run.py COMMAND --help` says more about each. Set-up creates a virtual environment in
.venv with the pinned packages of requirements.txt (and, for test and site, of
requirements-dev.txt); it is skipped when those files have not changed since the last run.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
FIRST_NOTEBOOK = "notebooks/00_setup_and_data_tour.ipynb"
REQUIREMENTS = {"course": ("requirements.txt",),
                "dev": ("requirements.txt", "requirements-dev.txt"),
                "deep": ("requirements.txt", "requirements-deep.txt")}


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def fingerprint(files) -> str:
    """SHA-256 over the requirement files and pyproject.toml: a new pin means a new set-up."""
    digest = hashlib.sha256()
    for name in (*files, "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment(extra: str = "course") -> None:
    """Create .venv and install the pinned packages for ``extra`` ("course", "dev" or "deep"),
    unless already done for these pins."""
    if sys.version_info[:2] < (3, 11):  # noqa: UP036 (this script may meet an old Python)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}. Install "
                 "Python 3.11 (python.org) and run `python3.11 run.py lab`.")
    files = REQUIREMENTS[extra]
    stamp = VENV / f".plainct-installed-{extra}"
    if stamp.exists() and stamp.read_text() == fingerprint(files) and PYTHON.exists():
        return
    start = time.perf_counter()
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    say(f"installing the pinned packages of {', '.join(files)} (the first time: about 1-3 "
        "minutes, depending on the connection)")
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    for name in files:
        if name == "requirements-deep.txt" and sys.platform.startswith("linux"):
            # PyPI's Linux torch is a CUDA build of several GB; a laptop needs the CPU build.
            # Only torch itself from PyTorch's index: its dependencies come from PyPI below.
            cpu = [*pip, "--no-deps", "torch==2.13.0", "--index-url",
                   "https://download.pytorch.org/whl/cpu"]
            if subprocess.run(cpu).returncode:
                say("the CPU build of PyTorch could not be installed; pip now takes PyPI's")
        if subprocess.run([*pip, "-r", str(ROOT / name)]).returncode:
            sys.exit(f"installing {name} failed (see pip's message above). Check the internet "
                     "connection (or your pip index) and run the same command again.")
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    stamp.write_text(fingerprint(files))
    say(f"environment ready in {time.perf_counter() - start:.0f} s")


def install_git_filter() -> None:
    """Strip notebook outputs on commit (the filter lives in this clone's git config)."""
    if not (ROOT / ".git").exists() or not (BIN / "nbstripout").exists():
        return
    subprocess.run([str(BIN / "nbstripout"), "--install", "--attributes", ".gitattributes"],
                   cwd=ROOT, check=False)
    subprocess.run(["git", "config", "filter.nbstripout.extrakeys", "metadata.language_info"],
                   cwd=ROOT, check=False)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(extra_args=(), as_root: bool | None = None) -> list[str]:
    """The JupyterLab command: the repository as its top folder, notebook 00 open, and
    ``--allow-root`` when running as root (usual in containers and classroom VMs; JupyterLab
    refuses to start as root without it). ``extra_args`` go to JupyterLab."""
    as_root = is_root() if as_root is None else as_root
    command = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={ROOT}", FIRST_NOTEBOOK]
    if as_root and "--allow-root" not in extra_args:
        command.append("--allow-root")
    return [*command, *extra_args]


def warm_caches(quiet: bool = False) -> int:
    """Build the virtual patients and training data notebooks 03-07 share (minutes the
    first time, seconds afterwards), with a progress bar inside every slow step."""
    start = time.perf_counter()
    say("building the caches of virtual patients and training data (slow only the first time)")
    code = subprocess.run([str(PYTHON), "-m", "helpers.pipeline.warmup", "warm",
                           *(["--quiet"] if quiet else [])], cwd=ROOT).returncode
    say(f"caches ready in {time.perf_counter() - start:.0f} s" if code == 0 else
        f"building the caches failed (exit code {code}); the message above says why")
    return code


def cache_layout():
    """helpers/cache_layout.py, loaded by its path: standard library only, so `clean` works
    before .venv exists (importing the helpers package would need numpy)."""
    spec = importlib.util.spec_from_file_location("plainct_cache_layout",
                                                  ROOT / "helpers" / "cache_layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean(yes: bool = False) -> int:
    """Delete what the project wrote into its cache folder (the sub-folders and temporary
    names of helpers/cache_layout.py, the samples' files of helpers/data/registry.py), nothing
    else."""
    layout = cache_layout()
    folder = layout.cache_dir()
    if not folder.is_dir():
        say(f"nothing to clean: {folder} does not exist")
        return 0
    registry = layout.load_by_path("helpers/data/registry.py", "plainct_registry")
    samples = {Path(f.path).parts[0] for s in registry.SAMPLES.values() for f in s.files}
    targets = layout.own_entries(folder, samples)
    size = sum(f.stat().st_size for p in targets for f in ([p] if p.is_file() else p.rglob("*"))
               if f.is_file())
    if not targets:
        say(f"nothing the project wrote is in {folder}")
        return 0
    say(f"{len(targets)} item(s), {size / 1e6:.0f} MB in {folder}: "
        + ", ".join(sorted(p.name for p in targets)[:6]) + (" ..." if len(targets) > 6 else ""))
    if not yes and input("delete them? [y/N] ").strip().lower() not in ("y", "yes"):
        say("nothing deleted")
        return 1
    for path in targets:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    say(f"deleted {size / 1e6:.0f} MB; `python3 run.py prefetch` builds everything again")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python3 run.py", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=__doc__.split("\n\n", 1)[1])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lab = sub.add_parser("lab", help="open the course in JupyterLab",
                         description="Open JupyterLab at the repository's top folder with "
                         "notebook 00 in view (as root it adds --allow-root). Arguments after "
                         "`--` go to JupyterLab, e.g. `python3 run.py lab -- --port 9999`.")
    lab.add_argument("--deep", action="store_true",
                     help="also install the optional PyTorch/MONAI extra (notebook 08)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed to JupyterLab")
    test = sub.add_parser("test", help="run every test and notebook",
                          description="Run the whole test suite (after building the caches). "
                          "Arguments after `--` go to pytest and skip the cache build, e.g. "
                          "`python3 run.py test -- -k data`.")
    test.add_argument("--deep", action="store_true", help="install the PyTorch extra first")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    site = sub.add_parser("site", help="build the website in build/site/")
    site.add_argument("--force", action="store_true", help="re-execute every notebook")
    prefetch = sub.add_parser("prefetch", help="download the data and build every cache",
                              description="Download every sample (checked against its SHA-256) "
                              "and build the caches of notebooks 03-07, with progress bars; "
                              "afterwards the course runs offline. Copy data_samples/cache/ to "
                              "other machines to spare them the work.")
    prefetch.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_parser("verify", help="check every sample against its SHA-256")
    clean_cmd = sub.add_parser("clean", help="delete the caches this project wrote",
                               description="Delete the files this project wrote into its cache "
                               "folder (data_samples/cache/ or $PLAINCT_DATA); nothing else.")
    clean_cmd.add_argument("--yes", action="store_true", help="do not ask")
    return top


def strip_dashes(args) -> list[str]:
    return list(args[1:] if args and args[0] == "--" else args)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "clean":
        return clean(args.yes)
    extra = "deep" if getattr(args, "deep", False) else (
        "dev" if args.command in ("test", "site") else "course")
    ensure_environment(extra)
    if extra == "deep" and args.command == "test":
        ensure_environment("dev")
    install_git_filter()
    if args.command == "lab":
        return subprocess.run(lab_command(strip_dashes(args.jupyter_args)), cwd=ROOT).returncode
    if args.command == "test":
        pytest_args = strip_dashes(args.pytest_args)
        if not pytest_args:  # the whole suite runs every notebook: build the slow caches first
            code = warm_caches()
            if code:
                return code
        start = time.perf_counter()
        code = subprocess.run([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT).returncode
        say(f"tests finished in {time.perf_counter() - start:.0f} s (exit code {code})")
        return code
    if args.command == "site":
        return subprocess.run([str(PYTHON), str(ROOT / "scripts" / "build_site.py"),
                               *(["--force"] if args.force else [])], cwd=ROOT).returncode
    code = subprocess.run([str(PYTHON), "-m", "helpers.data", args.command], cwd=ROOT).returncode
    if args.command == "prefetch" and code == 0:
        code = warm_caches(args.quiet)  # an offline classroom then needs no slow first run
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
