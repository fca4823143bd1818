#!/usr/bin/env python3
"""Build the course as a static website that reads offline: ``python3 run.py site``.

1. **Executed notebooks.** ``tests/test_notebooks.py`` saves each notebook it has run to
   ``build/executed/<stem>.ipynb`` (outputs and widget state kept) with a fingerprint of its
   source. A copy whose fingerprint matches the current source is reused; stale or missing ones
   (and any ``notebooks/solutions/*.ipynb``) are executed here with nbclient, so every notebook
   runs once per change, not once for the tests and again for the site.
2. **JavaScript served by the site itself.** The widget manager (``@jupyter-widgets/html-manager``),
   require.js and MathJax are fetched once with ``npm pack`` at pinned versions, checked against
   pinned SHA-512 digests, cached in ``build/js-cache/`` and copied into the site's ``_static/``.
   Nothing is loaded from a CDN: the site works in a classroom with no internet.
3. **Jupyter Book 1 (Sphinx)** builds ``build/site/`` from ``book/_config.yml``, ``book/intro.md``
   and a table of contents written here in course order (the ``NN_`` prefix of each notebook).

Usage: ``.venv/bin/python scripts/build_site.py [--force]`` (``--force``: re-execute all).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
BOOK_CONFIG = ROOT / "book"
BUILD = ROOT / "build"
EXECUTED = BUILD / "executed"
STAGE = BUILD / "book"  # Jupyter Book's source folder, rewritten on every build
SITE = BUILD / "site"
JS_CACHE = BUILD / "js-cache"
CELL_TIMEOUT_S = 300
# Markdown pages of notebooks/ shown on the site after the lessons (the notebooks link to them)
REFERENCE_PAGES = ("07_appendix.md", "glossary.md", "references.md")
METADATA_KEY = "plainct_executed"

# npm package -> (version, SHA-512 of its tarball as npm's "integrity", files to copy into the
# site: tarball member glob -> folder under _static/offline-js/)
JS_PACKAGES = {
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        {"package/dist/embed-amd.js": "html-manager",
         "package/dist/embed.js.LICENSE.txt": "html-manager",
         "package/dist/*.woff2": "html-manager", "package/dist/*.woff": "html-manager",
         "package/dist/*.ttf": "html-manager", "package/dist/*.eot": "html-manager",
         "package/dist/*.svg": "html-manager"}),
    "requirejs": (
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        {"package/require.js": "."}),
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        {"package/es5/tex-svg-full.js": "mathjax", "package/LICENSE": "mathjax"}),
}
JS_LICENCES = {"@jupyter-widgets/html-manager": "BSD-3-Clause (bundles MIT/BSD/OFL/CC-BY parts, "
               "see html-manager/embed.js.LICENSE.txt)", "requirejs": "MIT",
               "mathjax": "Apache-2.0 (mathjax/LICENSE)"}

# Loaded after require.js and before the widget manager (book/_config.yml, nb_ipywidgets_js).
WIDGETS_SETUP_JS = """\
// Written by scripts/build_site.py. The widget manager loads its icon fonts from this site
// (its default is a path derived from its require.js module name), and labels are typeset with
// the MathJax 2 call MathJax.Hub.Queue, which MathJax 3 (served here) answers with typesetPromise.
(function () {
  var base = new URL("html-manager/", document.currentScript.src).href;
  window.__jupyter_widgets_assets_path__ = base;
  // Every @jupyter-widgets module (base, controls, ...) is defined inside embed-amd.js, but
  // each derives its font URLs from its own module path: map them all here, or a page in a
  // sub-folder (solutions/) asks for fonts under its own folder and gets 404s.
  var paths = {"@jupyter-widgets": base.slice(0, -1),
               "@jupyter-widgets/html-manager/dist": base.slice(0, -1)};
  if (window.requirejs) {
    window.requirejs.config({paths: paths});
  } else {
    window.require = {paths: paths};  // read by require.js when it loads
  }
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub) { return; }
    mathjax.Hub = {Queue: function (job) {
      var element = job && job[2];
      if (!element || !mathjax.startup) { return; }
      mathjax.startup.promise.then(function () { return mathjax.typesetPromise([element]); })
        .catch(function () {});
    }};
  });
})();
"""


def say(message: str) -> None:
    print(f"[site] {message}", flush=True)


def shown(path: Path) -> str:
    """A path as the user reads it: relative to the repository when inside it."""
    return Path(os.path.relpath(path.resolve(), ROOT)).as_posix()


# ---------------------------------------------------------------- notebooks, in course order

# Notebooks that need the optional PyTorch/MONAI extra (requirements-deep.txt): on the site only
# where it is installed, since building the site runs every notebook.
NEEDS_DEEP = ("08_unet_stage2",)


def has_deep_extra() -> bool:
    """True when PyTorch and MONAI can be imported (the optional extra is installed)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "monai"))


def course_notebooks() -> list[Path]:
    """Every lesson ``notebooks/NN_*.ipynb`` in course order, then ``notebooks/solutions/*``
    (without the optional extra's notebooks when it is not installed)."""
    lessons = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((NOTEBOOK_DIR / "solutions").glob("*.ipynb"))
    found = lessons + solutions
    if has_deep_extra():
        return found
    return [p for p in found if p.stem.removesuffix("_solutions") not in NEEDS_DEEP]


def fingerprint(source: Path) -> str:
    """SHA-256 of the notebook and of the ``helpers`` code its outputs depend on."""
    digest = hashlib.sha256(source.read_bytes())
    for module in sorted((ROOT / "helpers").rglob("*.py")):
        digest.update(module.relative_to(ROOT).as_posix().encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


def executed_path(source: Path) -> Path:
    return EXECUTED / source.resolve().relative_to(NOTEBOOK_DIR)


def is_fresh(source: Path, expected: str | None = None) -> bool:
    target = executed_path(source)
    if not target.exists():
        return False
    try:
        recorded = json.loads(target.read_text())["metadata"][METADATA_KEY]["fingerprint"]
    except (KeyError, ValueError):
        return False
    return recorded == (expected or fingerprint(source))


def save_executed(nb, source: Path, source_fingerprint: str, drop_last_cells: int = 0,
                  executed_by: str = "tests/test_notebooks.py") -> Path:
    """Save an executed notebook (outputs and widget state kept) for the site to reuse.

    ``drop_last_cells`` removes cells a test appended (widget poking, memory read-out).
    ``source_fingerprint`` must be taken *before* execution, so an edit made while the
    notebook ran makes the copy stale instead of wrongly fresh.
    """
    nb = copy.deepcopy(nb)
    if drop_last_cells:
        nb.cells = nb.cells[:-drop_last_cells]
    nb.metadata[METADATA_KEY] = {
        "source": shown(source),
        "fingerprint": source_fingerprint, "executed_by": executed_by}
    import nbformat

    target = executed_path(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".ipynb.partial")
    nbformat.write(nb, partial)
    os.replace(partial, target)
    return target


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """What the notebook test gives its kernels: inline figures, tracebacks without colour."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as ipython_dir:
        profile = Path(ipython_dir) / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text("c.InteractiveShell.colors = 'nocolor'\n")
        os.environ["IPYTHONDIR"] = ipython_dir
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def execute(source: Path) -> Path:
    """Run one notebook from a fresh kernel (nbclient) and save its executed copy."""
    import nbformat
    from nbclient import NotebookClient

    source_fingerprint = fingerprint(source)
    nb = nbformat.read(source, as_version=4)
    start = time.perf_counter()
    with kernel_environment():
        NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                       store_widget_state=True,
                       resources={"metadata": {"path": str(source.parent)}}).execute()
    say(f"executed {shown(source)} in {time.perf_counter() - start:.0f} s")
    return save_executed(nb, source, source_fingerprint, executed_by="scripts/build_site.py")


def executed_notebooks(force: bool = False, reused: list[Path] | None = None,
                       ) -> list[tuple[Path, Path]]:
    """(source, executed copy) for every notebook, executing only stale or missing copies.

    The sources whose copy was reused are appended to ``reused`` (if given).
    """
    pairs = []
    for source in course_notebooks():
        if not force and is_fresh(source):
            say(f"reusing {shown(executed_path(source))} (source unchanged)")
            if reused is not None:
                reused.append(source)
        else:
            execute(source)
        pairs.append((source, executed_path(source)))
    return pairs


# ---------------------------------------------------------------- offline JavaScript

def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def js_tarball(name: str) -> Path:
    """The pinned npm tarball of ``name`` from the cache, fetched once with ``npm pack``."""
    version, integrity, _ = JS_PACKAGES[name]
    cached = JS_CACHE / f"{name.replace('/', '__').lstrip('@')}-{version}.tgz"
    if cached.exists() and _integrity(cached) == integrity:
        return cached
    npm = shutil.which("npm")
    if not npm:
        raise SystemExit(
            "npm is needed once, to fetch the widget and MathJax JavaScript that the site serves "
            "itself (Debian/Ubuntu: apt-get install -y npm; otherwise install Node.js). "
            "Or copy a build/js-cache/ folder from a machine that has built the site.")
    JS_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [npm, "pack", f"{name}@{version}", "--pack-destination", folder, "--json",
             "--loglevel=error"], capture_output=True, text=True)
        tarballs = list(Path(folder).glob("*.tgz"))
        if result.returncode or len(tarballs) != 1:
            raise SystemExit(f"npm pack {name}@{version} failed:\n{result.stderr[-2000:]}")
        if _integrity(tarballs[0]) != integrity:
            raise SystemExit(f"{name}@{version}: the tarball's SHA-512 differs from the pin")
        shutil.move(tarballs[0], cached)
    return cached


def install_offline_js(static: Path) -> Path:
    """Copy the pinned widget manager, require.js and MathJax into ``static/offline-js``."""
    target = static / "offline-js"
    target.mkdir(parents=True, exist_ok=True)
    notice = ["JavaScript served by this site so that it works offline.", ""]
    for name, (version, _, members) in JS_PACKAGES.items():
        with tarfile.open(js_tarball(name)) as archive:
            for member in archive.getmembers():
                folder = next((dest for pattern, dest in members.items()
                               if Path(member.name).match(pattern)), None)
                if folder is None or not member.isfile():
                    continue
                data = archive.extractfile(member).read()
                out = target / folder / Path(member.name).name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
        notice.append(f"- {name} {version} (npm), licence {JS_LICENCES[name]}")
    (target / "NOTICE.txt").write_text("\n".join(notice) + "\n")
    (target / "widgets-setup.js").write_text(WIDGETS_SETUP_JS)
    return target


# ---------------------------------------------------------------- staging and building

def notebook_title(nb) -> tuple[str, str]:
    """The first heading of a notebook and its "The question" line (if any)."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    heading = re.search(r"^#\s+(.+)$", first, re.MULTILINE)
    question = re.search(r"\*\*The question:\*\*\s*\*(.+?)\*", first, re.DOTALL)
    return (heading.group(1).strip() if heading else "",
            " ".join(question.group(1).split()) if question else "")


def figure_caption(markdown: str) -> str | None:
    """The caption a markdown cell ends with: the italic sentence (``*...*``) its last
    paragraph opens with, as one line. The figure the next code cell draws gets it as alt
    text."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip()]
    # italics open with one star and no space: not bold, not a bulleted list
    found = re.match(r"\*(?![*\s])([^*]+?)(?<!\s)\*(?!\*)", paragraphs[-1]) if paragraphs else None
    return " ".join(found.group(1).split()) if found else None


def add_alt_text(nb) -> None:
    """Give each figure drawn right after an italic caption that caption as its alt text
    (MyST-NB reads ``mystnb.image.alt`` from the cell's metadata)."""
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        drawn = any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
        caption = figure_caption(before.source) if before.cell_type == "markdown" else None
        if cell.cell_type == "code" and drawn and caption:
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = caption


def stage(pairs: list[tuple[Path, Path]]) -> None:
    """Write Jupyter Book's source folder: config, landing page, table of contents, notebooks."""
    import nbformat

    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    shutil.copy(BOOK_CONFIG / "_config.yml", STAGE / "_config.yml")
    shutil.copytree(BOOK_CONFIG / "_ext", STAGE / "_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    lessons, solutions, listing = [], [], []
    for source, executed in pairs:
        relative = source.resolve().relative_to(NOTEBOOK_DIR)
        nb = nbformat.read(executed, as_version=4)
        for cell in nb.cells:  # a cell hidden in JupyterLab is folded away on the site too
            if cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
                tags = cell.metadata.setdefault("tags", [])
                if "hide-input" not in tags:
                    tags.append("hide-input")
        add_alt_text(nb)
        (STAGE / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, STAGE / relative)
        entry = {"file": relative.with_suffix("").as_posix()}
        if relative.parent.name == "solutions":
            solutions.append(entry)
        else:
            lessons.append(entry)
            title, question = notebook_title(nb)
            line = f"1. [{title or relative.stem}]({relative.as_posix()})"
            listing.append(line + (f" — *{question}*" if question else ""))
    intro = (BOOK_CONFIG / "intro.md").read_text()
    intro = re.sub(r"<!-- LESSONS:.*?-->", "\n".join(listing), intro)
    (STAGE / "intro.md").write_text(intro)
    parts = [{"caption": "Lessons", "chapters": lessons}]
    if solutions:
        parts.append({"caption": "Worked solutions", "chapters": solutions})
    for page in REFERENCE_PAGES:
        shutil.copy(NOTEBOOK_DIR / page, STAGE / page)
    parts.append({"caption": "Appendix, glossary and references",
                  "chapters": [{"file": Path(page).stem} for page in REFERENCE_PAGES]})
    toc = {"format": "jb-book", "root": "intro", "parts": parts}
    # JSON is valid YAML: no YAML writer needed
    (STAGE / "_toc.yml").write_text("# written by scripts/build_site.py\n"
                                    + json.dumps(toc, indent=2))
    install_offline_js(STAGE / "_static")


def jupyter_book(strict: bool = True) -> None:
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; "
               "sys.argv[0] = 'jupyter-book'; sys.exit(main())", "build", str(STAGE),
               "--builder", "html", "--path-output", str(STAGE), "--quiet"]
    if strict:
        command += ["--warningiserror", "--keep-going"]
    # its own closing message points at the staging folder; ours (build/site) follows
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        print(result.stdout[-5000:], result.stderr[-5000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"jupyter-book failed (exit code {result.returncode}); see above")
    if SITE.exists():
        shutil.rmtree(SITE)
    shutil.copytree(STAGE / "_build" / "html", SITE)


def build(force: bool = False) -> dict[str, float]:
    """Build the whole site into build/site/; returns timings and counts."""
    start = time.perf_counter()
    reused: list[Path] = []
    pairs = executed_notebooks(force=force, reused=reused)
    fresh = len(reused)
    executed_at = time.perf_counter()
    stage(pairs)
    jupyter_book()
    summary = {"notebooks": len(pairs), "reused": fresh, "executed": len(pairs) - fresh,
               "execute_s": executed_at - start, "book_s": time.perf_counter() - executed_at}
    say(f"{summary['reused']} executed notebooks reused, {summary['executed']} executed in "
        f"{summary['execute_s']:.0f} s; Jupyter Book built the site in {summary['book_s']:.0f} s")
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-execute every notebook")
    args = parser.parse_args(argv)
    build(force=args.force)
    say(f"open {(SITE / 'index.html').as_uri()} in a web browser")
    say(f"or serve it to a classroom: python3 -m http.server --directory {SITE} 8000")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
