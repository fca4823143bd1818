"""What this computer has: versions, cores, memory, and whether the data are present.

Notebook 00 shows this report so a student (or a teacher before class) can see at a glance
whether the set-up worked. Pure functions that return tables; nothing is installed here.
"""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path

import psutil

from .fetch import status
from .registry import SAMPLES

_REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"

# Packages worth showing a student (the rest of requirements.txt is tooling).
KEY_PACKAGES = ("numpy", "SimpleITK", "pydicom", "pylibjpeg-openjpeg", "scikit-image",
                "scikit-learn", "matplotlib", "ipywidgets", "pooch")


def pinned_versions(path: Path = _REQUIREMENTS) -> dict[str, str]:
    """``{package: version}`` as pinned in requirements.txt (empty if the file is absent)."""
    if not path.exists():
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def package_table(names=KEY_PACKAGES) -> list[dict[str, str]]:
    """One row per package: installed version, pinned version, and whether they agree."""
    pins = pinned_versions()
    rows = []
    for name in names:
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        pinned = pins.get(name, "")
        status = "ok" if installed == pinned else ("MISSING" if installed == "missing"
                                                   else "differs from pin")
        rows.append({"package": name, "installed": installed, "pinned": pinned,
                     "status": status})
    return rows


def machine_summary() -> dict[str, str]:
    """Python version, operating system, CPU cores and memory of this computer."""
    memory = psutil.virtual_memory()
    return {
        "Python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "CPU cores": str(os.cpu_count()),
        "memory": f"{memory.total / 2**30:.1f} GiB total, {memory.available / 2**30:.1f} "
        "GiB available",
        "GPU needed": "no (everything runs on the CPU)",
        # "helpers" is a generic name: show which folder it was imported from, so that a
        # clash with another package of that name is seen at once.
        "helpers imported from": str(Path(__file__).resolve().parents[1]),
    }


def data_table() -> list[dict[str, str]]:
    """One row per registry sample: where it would come from now, without downloading."""
    return [{"sample": name, "status": status(name), "licence": s.licence.split(" (")[0],
             "what it is": s.description} for name, s in SAMPLES.items()]
