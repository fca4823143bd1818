"""run.py, the command line a new user meets first: help, the JupyterLab command, clean."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("lab", "test", "site", "prefetch", "verify", "clean")


def load_run():
    spec = importlib.util.spec_from_file_location("run_script", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_run()


def test_help_exits_zero_and_lists_every_command():
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert all(command in result.stdout for command in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_help(command):
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), command, "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python3 run.py {command}")


def test_no_command_is_an_error_that_shows_the_usage():
    result = subprocess.run([sys.executable, str(ROOT / "run.py")], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "usage: python3 run.py" in result.stderr


def test_lab_adds_allow_root_only_as_root():
    as_root = run.lab_command(as_root=True)
    as_user = run.lab_command(as_root=False)
    assert "--allow-root" in as_root and "--allow-root" not in as_user
    assert as_root.count("--allow-root") == 1 == run.lab_command(["--allow-root"],
                                                                 as_root=True).count("--allow-root")


def test_lab_opens_at_the_repository_root_with_notebook_00():
    command = run.lab_command(as_root=False)
    assert command[1] == "lab" and f"--ServerApp.root_dir={ROOT}" in command
    notebook = next(arg for arg in command if arg.endswith(".ipynb"))
    assert notebook.startswith("notebooks/00_") and (ROOT / notebook).exists()


def test_lab_passes_extra_arguments_to_jupyterlab():
    args = run.parser().parse_args(["lab", "--", "--port", "9999", "--no-browser"])
    command = run.lab_command(run.strip_dashes(args.jupyter_args), as_root=False)
    assert command[-3:] == ["--port", "9999", "--no-browser"]


def test_clean_deletes_only_what_the_project_wrote(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "virtual_patients").mkdir(parents=True)
    (cache / "virtual_patients" / "case.npz").write_bytes(b"x" * 10)
    (cache / "totalsegmentator_example_ct_sm.nii.gz").write_bytes(b"y")
    (cache / ".totalsegmentator_example_ct_sm.nii.gz.a1b2c3d4.part").write_bytes(b"z")
    (cache / ".write-test-k9x8y7z6").write_bytes(b"")
    (cache / ".my_editor_backup.part").write_text("not a name the project makes")
    (cache / "my_notes.txt").write_text("a student's file")
    (cache / "my_folder").mkdir()
    monkeypatch.setenv("PLAINCT_DATA", str(cache))
    assert run.clean(yes=True) == 0
    assert sorted(p.name for p in cache.iterdir()) == [".my_editor_backup.part", "my_folder",
                                                       "my_notes.txt"]
    assert (cache / "my_notes.txt").read_text() == "a student's file"


def test_clean_asks_first_and_keeps_everything_on_no(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "pipeline").mkdir(parents=True)
    monkeypatch.setenv("PLAINCT_DATA", str(cache))
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert run.clean() == 1 and (cache / "pipeline").exists()


def test_clean_of_a_missing_folder_does_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path / "absent"))
    assert run.clean(yes=True) == 0 and not (tmp_path / "absent").exists()


def project_and_user_files(cache: Path) -> None:
    """A cache folder holding one file of each of the project's sub-folders, a sample, a
    temporary name of the project, and a student's own files."""
    from helpers import cache_layout

    for name in cache_layout.OWN_SUBFOLDERS:
        (cache / name).mkdir(parents=True)
        (cache / name / "entry.npz").write_bytes(b"x")
    (cache / "totalsegmentator_example_ct_sm.nii.gz").write_bytes(b"y")
    (cache / ".case.npz.a1b2c3d4.part").write_bytes(b"z")
    (cache / "my_notes.txt").write_text("a student's file")
    (cache / "my_folder").mkdir()


@pytest.mark.parametrize("command", [["--help"], ["clean", "--help"], ["clean", "--yes"]])
def test_help_and_clean_work_on_a_bare_python(tmp_path, command):
    """Before .venv exists: the system interpreter, no site-packages (-S), so no numpy."""
    cache = tmp_path / "cache"
    project_and_user_files(cache)
    bare = shutil.which("python3.11") or shutil.which("python3") or sys.executable
    env = {"PLAINCT_DATA": str(cache), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run([bare, "-S", str(run.ROOT / "run.py"), *command], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    left = sorted(p.name for p in cache.iterdir())
    if command == ["clean", "--yes"]:
        assert left == ["my_folder", "my_notes.txt"], left
        assert "deleted" in result.stdout
    else:
        assert "clean" in result.stdout and len(left) == 8


def test_the_layout_names_every_folder_the_writers_use(tmp_path, monkeypatch):
    """Every writer's folder is one of cache_layout.OWN_SUBFOLDERS (so clean finds it)."""
    from helpers import cache_layout
    from helpers.pipeline import training_cache, unet_cache
    from helpers.registration import study

    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    folders = {training_cache.cache_folder().name, study.cache_folder().name,
               unet_cache.cache_folder().name}
    assert folders <= set(cache_layout.OWN_SUBFOLDERS)
    sources = "".join(p.read_text() for p in (run.ROOT / "helpers").rglob("*.py")
                      if p.name != "cache_layout.py")
    assert not re.search(r"cache_dir\(\) / \"", sources), "a writer names its folder itself"
