"""Stage 2's seam: what every stage-2 detector offers, and the detectors the default pipeline
can use (notebooks 05, 07 and 08)::

    from helpers.pipeline import default_pipeline, detectors
    detectors.detector_names()                       # ("boosted", "unet")
    model = default_pipeline(detector="unet")        # stages 1 and 3 the same, stage 2 swapped

* :class:`StageTwoDetector`: the interface (a :class:`typing.Protocol`) that
  :class:`.stage2.boosted.Detector` and :class:`.stage2.unet.UNetDetector` both have, and
  that :class:`helpers.pipeline.Pipeline` and :func:`.stage2.detect_lesion` rely on;
* the **registry**: a name -> :class:`DetectorEntry` (its label in tables, how to build it,
  whether it can run here and what to install when not, an optional warm-up step).
  :func:`helpers.pipeline.default_pipeline`, the warm-up (:mod:`.warmup`) and notebook 07's
  end-to-end table (:func:`helpers.pipeline.end_to_end_rows`) loop over it.

**Adding a stage-2 detector** is one module in ``helpers/pipeline/stage2/`` holding a class
with this interface, plus one entry in :data:`BUILT_IN` below (or :func:`register` at run
time). The entry's ``build(seed)`` returns the fitted detector; the default pipeline with it is
the default pipeline (:data:`DEFAULT`'s stages 1 and 3) with its ``detector`` replaced. Only
:data:`DEFAULT`, the boosted detector, has no builder: it is the default pipeline's own stage 2,
fitted together with stages 1 and 3 by :func:`helpers.pipeline.default.make_pipeline` (which
sits above this module, so the registry never imports it).

Not for clinical use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..checks import check_choice
from .stage2 import unet
from .unet_cache import warm_unet, weights_key


@runtime_checkable
class StageTwoDetector(Protocol):
    """What a fitted stage 2 offers (arrays ``[z, y, x]`` on the 3 mm working grid).

    ``threshold_scores``/``threshold_abnormal``: the case scores, and the truth, of the
    patients the operating threshold was set on (each detector's docstring says which
    patients those are; ``None`` when not kept)."""

    operating_threshold: float  # a case is called abnormal when its score reaches this
    voxel_threshold: float  # a voxel is "lesion" when its P(lesion) reaches this
    threshold_scores: np.ndarray | None
    threshold_abnormal: np.ndarray | None

    def probability_map(self, hu: np.ndarray, pancreas: np.ndarray) -> np.ndarray:
        """P(lesion) per voxel (0 away from the pancreas)."""
        ...

    def detect(self, hu: np.ndarray, pancreas: np.ndarray) -> tuple:
        """``(score 0..1, lesion mask, probability map)``; the mask is empty below the
        operating threshold."""
        ...


class DetectorUnavailable(ImportError):
    """A registered detector cannot run here (an optional extra is missing)."""


def always() -> bool:
    return True


@dataclass(frozen=True)
class DetectorEntry:
    """One stage-2 detector of the registry.

    ``label``: its row in tables; ``build(seed)``: the fitted detector for the default
    pipeline of ``seed`` (``None`` only for :data:`DEFAULT`, see the module docstring);
    ``available()``: whether it can run here; ``missing``: what to say when it cannot (with the
    install command); ``require()`` (optional): raises the detector's own error, naming the
    install command, when it cannot run (else :class:`DetectorUnavailable` with ``missing``);
    ``warmup`` (optional): ``(step name, build(progress))``, the warm-up's step that caches it;
    ``fingerprint`` (optional): ``fingerprint(seed)``, a dict naming everything that decides
    the fitted detector, so that results computed with it can be cached
    (:mod:`.contest`; without it they are computed anew each time).
    """

    label: str
    build: Callable[[int], StageTwoDetector] | None
    available: Callable[[], bool] = always
    missing: str = ""
    require: Callable[[], object] | None = None
    warmup: tuple[str, Callable[[bool], object]] | None = None
    fingerprint: Callable[[int], dict] | None = None


# ------------------------------------------------------------------------- the network's entry
def network_available() -> bool:
    """The network's extra (PyTorch, MONAI) can be imported (looked up at each call)."""
    return unet.available()


def network_required() -> None:
    """Raises :class:`.stage2.unet.DeepExtraMissing`, naming the install command, without it."""
    unet.deep()


def network_detector(seed: int) -> StageTwoDetector:
    """Notebook 08's trained network (:func:`.unet_cache.warm_unet`: cached). Its own seed is
    that of :data:`.stage2.unet.DEFAULT_SETTINGS`: the default pipeline's ``seed`` changes only
    stages 1 and 3 around it, as it always did."""
    return warm_unet(progress=False)


def warm_network(progress: bool) -> StageTwoDetector:
    return warm_unet(progress=progress)


def network_fingerprint(seed: int) -> dict:
    """What decides the network :func:`network_detector` gives (its weights' cache key)."""
    return {"weights": weights_key(unet.DEFAULT_SETTINGS)}


DEFAULT = "boosted"
BUILT_IN = {
    DEFAULT: DetectorEntry("boosted features (default)", build=None),
    "unet": DetectorEntry(
        "neural network (notebook 08)", build=network_detector, available=network_available,
        missing=f"PyTorch missing ({unet.INSTALL_COMMAND})", require=network_required,
        warmup=("notebook 08's network (trained once: about 3 minutes on 2 cores)",
                warm_network), fingerprint=network_fingerprint),
}
_registry: dict[str, DetectorEntry] = dict(BUILT_IN)


# ------------------------------------------------------------------------- the registry
def detector_names() -> tuple[str, ...]:
    """The registered detectors' names, in the order they were registered (the default
    first)."""
    return tuple(_registry)


def get(name: str) -> DetectorEntry:
    """The entry of ``name``; a ValueError listing the known names for any other."""
    return _registry[check_choice(name, detector_names(), "detector")]


def register(name: str, entry: DetectorEntry) -> None:
    """Add a stage-2 detector under ``name`` (it then appears in ``default_pipeline``, the
    warm-up and notebook 07's table). ``entry.build`` is required; a taken name is refused."""
    if name in _registry:
        raise ValueError(f"a detector named {name!r} is already registered; "
                         f"known: {', '.join(detector_names())}")
    if entry.build is None:
        raise ValueError(f"detector {name!r} needs a build(seed) that returns the fitted "
                         f"detector (only {DEFAULT!r} is fitted by make_pipeline itself)")
    _registry[name] = entry


def unregister(name: str) -> DetectorEntry:
    """Remove ``name`` (tests remove what they registered); the built-in detectors stay.
    Pipelines already fitted with it stay in ``default_pipeline``'s cache until its
    ``cache_clear()``."""
    get(name)
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is built in and cannot be removed")
    return _registry.pop(name)


def require(name: str) -> DetectorEntry:
    """The entry of ``name`` if that detector can run here; else an ImportError (the
    detector's own, or :class:`DetectorUnavailable`) saying what to install. An unknown name:
    ValueError listing the known ones."""
    entry = get(name)
    if entry.require is not None:
        entry.require()
    if not entry.available():
        raise DetectorUnavailable(f"the stage-2 detector {name!r} ({entry.label}) cannot run "
                                  f"here: {entry.missing or 'it is not available'}")
    return entry
