"""Sphinx extension: every script a page loads comes from the site itself, once.

Jupyter Book 1 (myst-nb, sphinx-thebe, Sphinx's MathJax support) adds some scripts to pages
twice, adds the widget manager to pages without widgets, and configures thebe (live code, off
here) with a CDN address. After all of them have run, this keeps each script once, keeps the
widget scripts only on pages with embedded widgets (in the order they must run), drops thebe,
and fails the build if a page would still load a script from another host.
"""

from __future__ import annotations

from sphinx.errors import ExtensionError

# in the order they must run: require.js, then its configuration, then the widget manager
WIDGET_SCRIPTS = ("offline-js/require.js", "offline-js/widgets-setup.js",
                  "offline-js/html-manager/embed-amd.js")


def _widget_rank(script) -> int | None:
    name = script.filename or ""
    return next((i for i, w in enumerate(WIDGET_SCRIPTS) if name.endswith(w)), None)


def _is_thebe(script) -> bool:
    return "sphinx-thebe" in (script.filename or "") or "THEBE_JS_URL" in (
        script.attributes.get("body") or "")


def _has_widgets(app, pagename: str) -> bool:
    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:
        return True
    return "ipywidgets_state" in NbMetadataCollector.get_js_files(app.env, pagename)


def tidy_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    widgets = _has_widgets(app, pagename)
    kept, seen = [], set()
    for script in scripts:
        key = (script.filename, script.attributes.get("body"), script.attributes.get("type"))
        if key in seen or _is_thebe(script):
            continue
        if not widgets and _widget_rank(script) is not None:
            continue
        if "://" in (script.filename or "") or (script.filename or "").startswith("//"):
            raise ExtensionError(f"{pagename}: a script from another host: {script.filename}")
        seen.add(key)
        kept.append(script)
    # the widget scripts in their working order, where the first of them stood
    slots = [i for i, script in enumerate(kept) if _widget_rank(script) is not None]
    ordered = sorted((kept[i] for i in slots), key=_widget_rank)
    for i, script in zip(slots, ordered, strict=True):
        kept[i] = script
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", tidy_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
