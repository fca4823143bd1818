"""Shared helpers for the plain-CT cancer-detection teaching series.

Not for clinical use: everything here is for teaching. Modules are imported on demand
(``from helpers import data``) so that ``python -m helpers.data`` runs cleanly.
"""

__version__ = "0.1.0"
