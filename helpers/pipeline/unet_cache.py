"""The neural network's data and weights, cached (notebook 08); :func:`warm_unet` gives the
trained network.

* **Crops** (:func:`cohort_crops`): for every patient of a cohort, the input box of
  :func:`.stage2.unet.crop_input` (a little larger, so that training can shift it), its
  lesion label and whether the patient is abnormal. The box is centred on, and its second
  channel is, the pancreas mask the network will be given: **stage 1's** mask
  (``UNetSettings.training_pancreas="stage1"``, the default, as for the boosted detector of
  the default pipeline), or the reference mask ("reference"). The **training** patients are
  stage 2's own (:func:`.training_cache.training_patients`; stage 1's masks:
  :func:`.training_cache.cached_stage1_masks`) with the labels of the cached training table:
  lesion masks drawn on the contrast scan and carried over by registration, as in notebook 05.
  The **validation** patients (cohort "validation") carry the simulator's exact masks, and
  stage 1's masks made as at prediction (:func:`.stage1_cache.prediction_masks`, cached as
  bits); they choose the epoch and the operating threshold, and are never tested on. Stored
  as plain arrays by :func:`helpers.cache.load_or_build` under ``<data cache>/deep/``.
* **Weights** (:func:`load_or_train`): a ``.safetensors`` file (tensors and text metadata
  only: reading it can never run code, unlike a pickle) under
  ``<data cache>/deep/<key>.safetensors``, where ``key`` (:func:`weights_key`) is a SHA-256
  of every setting, the versions and the training data's own key; written atomically through
  :func:`helpers.cache.atomic_write`.

Not for clinical use.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import SimpleITK as sitk

from .. import cache, cache_layout
from ..simulate import named_cohort
from . import training_cache
from .chain import Pipeline
from .stage1 import DEFAULT_METHOD, stage1_settings, training_mask_settings
from .stage1_cache import prediction_masks
from .stage2 import unet
from .stage2.boosted import TARGET_SPECIFICITY
from .stage2.labels import label_mask, scan_arrays
from .stage2.unet_training import train_detector

CACHE_VERSION = "unet-v2"  # change when crops, labels or training change: old files ignored
# change when only the training changes (the crops stay): old weights are ignored
TRAINING_VERSION = "best epoch by AUC, then Dice"
FOLDER = cache_layout.DEEP


def cache_folder() -> Path:
    """Where the network's crops and weights are cached: ``<data cache>/deep/``."""
    return cache.cache_dir() / FOLDER


def label_pipeline(settings: unet.UNetSettings) -> Pipeline:
    """The pipeline whose cached training table holds the training labels (notebook 05's
    detector (a) for registered labels: reference pancreas masks)."""
    return Pipeline(label_source=settings.label_source)


def mask_settings(role: str, settings: unet.UNetSettings) -> dict:
    """What decides the pancreas masks the crops of ``role`` are centred on: the reference
    masks, or stage 1's with its settings (the training patients' masks come from a coarser
    registration: :func:`.stage1.training_mask_settings`; the validation patients' are made
    as at prediction)."""
    if settings.training_pancreas == "reference":
        return {"pancreas": "reference"}
    return {"pancreas": "stage1", "stage1": training_mask_settings(DEFAULT_METHOD)
            if role == "training" else stage1_settings(DEFAULT_METHOD)}


def crops_key(role: str, settings: unet.UNetSettings) -> dict:
    """What decides a cohort's crops: the patients, their labels, their pancreas masks and the
    crop geometry."""
    if role == "training":
        patients = training_cache.training_key(label_pipeline(settings), "typical", True)
    else:
        patients = {"cohort": training_cache.cohort_settings("validation"), "labels": "exact"}
    return {"version": CACHE_VERSION, "role": role, "patients": patients,
            "masks": mask_settings(role, settings),
            "crop": list(unet.CROP_SHAPE), "margin": settings.shift_vox,
            "hu_window": list(unet.HU_WINDOW), "training table": training_cache.table_key(
                training_cache.training_key(label_pipeline(settings), "typical", True))}


def crop_arrays(items, margin: int) -> dict:
    """Crops of ``(hu, pancreas, label)`` triples, each box :data:`.stage2.unet.CROP_SHAPE`
    plus ``margin`` voxels on every side, centred on the pancreas mask: ``hu``
    ``[N, 1, Z, Y, X]`` (float32, raw HU: the MONAI transforms window them; -1000 outside
    the scan), ``pancreas`` and ``y`` (the lesion label) ``[N, 1, Z, Y, X]`` (uint8) and
    ``abnormal`` ``[N]``."""
    shape = tuple(s + 2 * margin for s in unet.CROP_SHAPE)
    hus, glands, ys = [], [], []
    for hu, gland, label in items:
        centre = unet.crop_centre(gland)
        hus.append(unet.crop(hu.astype(np.float32), centre, shape, -1000.0)[None])
        glands.append(unet.crop(gland.astype(np.uint8), centre, shape, 0)[None])
        ys.append(unet.crop(label.astype(np.uint8), centre, shape, 0)[None])
    y = np.stack(ys)
    return {"hu": np.stack(hus), "pancreas": np.stack(glands), "y": y,
            "abnormal": y.reshape(len(y), -1).any(1)}


def stage1_pipeline() -> Pipeline:
    """The pipeline whose cached stage-1 masks of the training patients the network's training
    crops are centred on: the default pipeline's (:func:`.training_cache.cached_stage1_masks`)."""
    return Pipeline(training_pancreas="stage1", stage1_method=DEFAULT_METHOD)


def role_items(role: str, settings: unet.UNetSettings, progress: bool = False):
    """``(cases, items)``: the patients of ``role`` and their ``(hu, pancreas, label)``
    arrays (the pancreas as :func:`mask_settings` says), lazily; a patient stage 1 finds no
    pancreas in is left out (it has nothing to crop around)."""
    stage1 = settings.training_pancreas == "stage1"
    if role == "training":
        cases = training_cache.training_patients(progress)
        table = SimpleNamespace(**training_cache.cached_training_labels(
            label_pipeline(settings), progress))
        if [c.seed for c in cases] != table.seeds.tolist():
            raise ValueError("the training table is not of the training patients")
        images = training_cache.cached_stage1_masks(stage1_pipeline(), cases, progress) \
            if stage1 else [None] * len(cases)
        masks = [None if m is None else sitk.GetArrayFromImage(m) > 0 for m in images]
        labels = [label_mask(table, n) for n in range(len(cases))]
    elif role == "validation":
        cases = named_cohort("validation", progress=progress, n_jobs=training_cache.COHORT_JOBS)
        masks = prediction_masks(cases, progress) if stage1 else [None] * len(cases)
        labels = [sitk.GetArrayFromImage(c.lesion_plain) > 0 for c in cases]
    else:
        raise ValueError(f"role must be 'training' or 'validation', got {role!r}")
    keep = [n for n, m in enumerate(masks) if not stage1 or (m is not None and m.any())]
    return [cases[n] for n in keep], (with_mask(cases[n], masks[n], labels[n]) for n in keep)


def with_mask(case, mask: np.ndarray | None, label: np.ndarray):
    """``(hu, pancreas, label)`` of one patient's plain scan: ``mask``, else the reference."""
    hu, reference = scan_arrays(case)
    return hu, reference if mask is None else mask, label


def build_crops(role: str, settings: unet.UNetSettings, progress: bool = False) -> dict:
    """The crops of ``role`` ("training" or "validation"), built from the cached patients."""
    cases, items = role_items(role, settings, progress)
    arrays = crop_arrays(items, settings.shift_vox)
    arrays["seeds"] = np.asarray([c.seed for c in cases], np.int64)
    arrays["diameters_mm"] = np.asarray([c.lesion_diameter_mm for c in cases], float)
    return arrays


def cohort_crops(role: str, settings: unet.UNetSettings = unet.DEFAULT_SETTINGS,
                 progress: bool = False, use_cache: bool = True) -> dict:
    """The cached crops of ``role`` (see :func:`build_crops`); a dict of arrays ``x``, ``y``,
    ``abnormal``, ``seeds``, ``diameters_mm`` (:func:`crop_arrays`)."""
    key = cache.settings_key(crops_key(role, settings))
    return cache.load_or_build(cache_folder() / f"crops-{key}.npz", key,
                               lambda: build_crops(role, settings, progress),
                               what=f"cached {role} crops", use_cache=use_cache)


def weights_key(settings: unet.UNetSettings) -> str:
    """SHA-256 of every setting of the network and its training, the library versions, the
    crop geometry and the keys of the training and validation data; and the device when it is
    not the CPU (a GPU's weights differ a little: they never replace the CPU's reference)."""
    d = unet.deep()
    key = {"version": CACHE_VERSION, "training": TRAINING_VERSION,
           "settings": settings.as_dict(),
           "crop": list(unet.CROP_SHAPE), "hu_window": list(unet.HU_WINDOW),
           "roi margin": unet.ROI_MARGIN_VOX, "voxel threshold": unet.VOXEL_THRESHOLD,
           "threads": unet.THREADS, "specificity": TARGET_SPECIFICITY,
           "torch": d.torch.__version__, "training data": crops_key("training", settings),
           "validation data": crops_key("validation", settings)}
    device = unet.choose_device().type
    if device != "cpu":  # the CPU's key is the one it always was
        key["device"] = device
    return cache.settings_key(key)


def weights_path(settings: unet.UNetSettings) -> Path:
    return cache_folder() / f"unet-{weights_key(settings)}.safetensors"


def save_detector(path: Path, key: str, detector: unet.UNetDetector) -> Path:
    """Write a trained detector as safetensors (weights as tensors, the rest as text
    metadata), atomically; checked by reading it back before it takes its name."""
    d = unet.deep()
    state = {name: t.detach().cpu().contiguous()
             for name, t in detector.net.state_dict().items()}
    metadata = {"key": key, "settings": json.dumps(detector.settings.as_dict()),
                "operating_threshold": repr(float(detector.operating_threshold)),
                "history": json.dumps(detector.history),
                # stored under their old names (the validation patients' scores): files
                # written before the rename read the same
                "validation_scores": json.dumps([float(s) for s in detector.threshold_scores]),
                "validation_abnormal": json.dumps([bool(a) for a in
                                                   detector.threshold_abnormal])}
    blob = d.safetensors.save(state, metadata=metadata)
    return cache.atomic_write(path, lambda handle: handle.write(blob),
                              lambda tmp: read_detector(tmp, key))


def read_detector(path: Path, key: str) -> unet.UNetDetector:
    """A detector saved by :func:`save_detector` for ``key``: tensors and text only, never
    unpickled. Raises ValueError for a file of other settings."""
    d = unet.deep()
    with d.safetensors.safe_open(str(path), framework="pt") as stored:
        metadata = stored.metadata() or {}
        if metadata.get("key") != key:
            raise ValueError("it was made with other settings")
        state = {name: stored.get_tensor(name) for name in stored.keys()}
    raw = json.loads(metadata["settings"])
    settings = unet.UNetSettings(**{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in raw.items()})
    net = unet.build_network(settings)
    net.load_state_dict(state, strict=True)
    net.to(unet.choose_device()).eval()
    return unet.UNetDetector(net, settings, float(metadata["operating_threshold"]),
                             threshold_scores=np.asarray(json.loads(
                                 metadata["validation_scores"])),
                             threshold_abnormal=np.asarray(json.loads(
                                 metadata["validation_abnormal"]), bool),
                             history=json.loads(metadata["history"]))


def load_or_train(settings: unet.UNetSettings, train, use_cache: bool = True):
    """The cached detector of ``settings``, else ``train()`` (then stored). A damaged or
    foreign file is ignored with a warning and retrained, as :func:`helpers.cache.load_or_build`
    does for arrays."""
    key, path = weights_key(settings), weights_path(settings)
    if use_cache and path.is_file():
        try:
            return read_detector(path, key)
        except (*cache.UNREADABLE, RuntimeError, unet.deep().SafetensorError) as exc:
            warnings.warn(f"ignoring the cached network {path.name} ({exc}); retraining it",
                          stacklevel=2)
    detector = train()
    if use_cache:
        try:
            save_detector(path, key, detector)
        except cache.DiskFullError as exc:  # writable but full: not the advice below
            warnings.warn(f"{exc} The network was trained and is used; only keeping it for "
                          "the next run failed.", stacklevel=2)
        except OSError as exc:
            warnings.warn(f"could not write the network in {path.parent} ({exc}); set "
                          "PLAINCT_DATA to a writable folder to keep it", stacklevel=2)
    return detector


@functools.lru_cache(maxsize=2)
def warm_unet(progress: bool = True, settings: unet.UNetSettings = unet.DEFAULT_SETTINGS,
              use_cache: bool = True) -> unet.UNetDetector:
    """The fully trained network as a stage-2 detector (:class:`.stage2.unet.UNetDetector`):
    read from ``<data cache>/deep/`` when it was trained before with exactly these settings,
    else trained now on the cached crops (about two minutes on two cores; deterministic) and
    stored as safetensors. Raises :class:`.stage2.unet.DeepExtraMissing`, with the install
    command, without PyTorch."""
    unet.deep()
    return load_or_train(settings, lambda: train_detector(
        cohort_crops("training", settings, progress),
        cohort_crops("validation", settings, progress), settings, progress), use_cache)
