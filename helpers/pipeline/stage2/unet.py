"""Stage 2 as a small neural network (notebook 08): a 3-D U-Net with a classification head.

PANDA's stage 2 is one multi-task network: it segments the lesion and, from a classification
head, calls the scan normal or abnormal (Cao et al. 2023, key ``cao2023`` in
``notebooks/references.md``). This module builds a toy version of it that trains on a laptop
CPU in minutes:

* **input** (:func:`crop_input`): a fixed box of :data:`CROP_SHAPE` voxels (3 mm) centred on
  the pancreas mask, two channels: the HU, moved so that the gland's median is
  :data:`GLAND_REFERENCE_HU`, clipped to :data:`HU_WINDOW` and scaled to -1..1, and the
  pancreas mask;
* **network** (:func:`build_network`): MONAI's ``UNet`` (``monai.networks.nets``) giving one
  lesion logit per voxel, plus a head on its **bottleneck** (max-pool, linear) giving one
  normal/abnormal logit per patient; :func:`forward` returns both;
* **detector** (:class:`UNetDetector`): the same interface as :class:`.boosted.Detector`
  (``probability_map``, ``detect``: :class:`helpers.pipeline.detectors.StageTwoDetector`), so
  a :class:`helpers.pipeline.Pipeline` can use either;
* **device** (:func:`choose_device`): CUDA, else MPS, else the CPU (the reference numbers);
  the environment variable ``PLAINCT_DEVICE`` (cpu, cuda, mps) forces one.

PyTorch, MONAI and safetensors are an **optional extra** (``requirements-deep.txt``): they are
imported on first use by :func:`deep`, which says which command installs them when they are
missing. Nothing else in :mod:`helpers` needs them. The training loop is in
:mod:`.unet_training` (and, word for word, in notebook 08). Not for clinical use.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace

import numpy as np
from scipy import ndimage as ndi

from ...checks import check_choice
from .boosted import case_score, lesion_from_map

INSTALL_COMMAND = "python3 run.py lab --deep"
PIP_COMMAND = "python -m pip install -r requirements-deep.txt"
CPU_COMMAND = ("python -m pip install torch==2.13.0 --index-url "
               "https://download.pytorch.org/whl/cpu")
CROP_SHAPE = (24, 32, 56)  # voxels [z, y, x] at 3 mm: 72 x 96 x 168 mm around the pancreas
HU_WINDOW = (-160.0, 240.0)  # soft tissue, mapped to -1..1 (fat and bone clipped)
ROI_MARGIN_VOX = 2  # the probability map is kept this close to the pancreas (as stage 2's)
VOXEL_THRESHOLD = 0.5  # a voxel is "lesion" when the network's P(lesion) reaches this
# gland-relative input: the gland's median HU is moved here, the centre of HU_WINDOW
GLAND_REFERENCE_HU = 40.0
THREADS = 1  # fixed: the same weights each run; on a busy 2-core machine one thread was steadier
# (measured per epoch: 3.1-3.5 s with one, 2.0-2.3 s with two but 16-27 s for the first two)
DEVICE_VARIABLE = "PLAINCT_DEVICE"  # set to cpu, cuda or mps to force the device
DEVICES = ("cuda", "mps", "cpu")  # the order choose_device tries them in


class DeepExtraMissing(ImportError):
    """PyTorch, MONAI or safetensors is not installed; the message says how to install them."""


class DeviceError(ValueError):
    """``PLAINCT_DEVICE`` names no device, or one PyTorch cannot use here."""


def install_message(missing: str | None = None) -> str:
    """What to run when the deep-learning extra is missing (``missing``: the module)."""
    what = f" ({missing} is not installed)" if missing else ""
    return (f"The neural-network stage 2 (notebook 08, detector='unet') needs PyTorch and "
            f"MONAI, an optional extra{what}. Install it with\n    {INSTALL_COMMAND}\n"
            f"or, inside your environment,\n    {PIP_COMMAND}\n(on Linux, run first\n"
            f"    {CPU_COMMAND}\nto get the CPU build of PyTorch instead of the CUDA build of "
            "several GB; see the README).")


@functools.cache
def deep() -> SimpleNamespace:
    """PyTorch, MONAI's ``UNet`` and losses and safetensors, imported on first use (a few
    seconds; notebooks 00-07 never pay it), with PyTorch set to :data:`THREADS` threads
    (measured on a busy 2-core machine). Raises :class:`DeepExtraMissing`, naming the
    install command, when one of them is missing."""
    try:
        import torch  # optional extra (requirements-deep.txt), imported only when used
        from monai import data, losses, metrics, transforms  # optional extra
        from monai.networks.nets import UNet  # optional extra
        from monai.utils import set_determinism  # optional extra
        from safetensors import SafetensorError  # optional extra
        from safetensors import torch as safetensors_torch  # optional extra
    except ImportError as exc:
        raise DeepExtraMissing(install_message(exc.name)) from exc
    torch.set_num_threads(THREADS)  # predicting one crop: 0.07 s on one thread, 0.76 s on two
    return SimpleNamespace(torch=torch, nn=torch.nn, UNet=UNet, losses=losses, data=data,
                           metrics=metrics, transforms=transforms,
                           set_determinism=set_determinism, safetensors=safetensors_torch,
                           SafetensorError=SafetensorError)


def available() -> bool:
    """True when the deep-learning extra can be imported."""
    try:
        deep()
    except DeepExtraMissing:
        return False
    return True


# ------------------------------------------------------------------------- the device
def device_works(kind: str) -> bool:
    """Whether PyTorch can use ``kind`` ("cuda": an NVIDIA GPU, "mps": Apple's GPU) here."""
    torch = deep().torch
    if kind == "cuda":
        return bool(torch.cuda.is_available())
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return kind == "cpu"


def choose_device():
    """The ``torch.device`` the network trains and predicts on: the first that works of CUDA,
    MPS and the CPU, or the one the environment variable ``PLAINCT_DEVICE`` (cpu, cuda, mps)
    forces. Raises :class:`DeviceError`, saying what to do, for any other value or a device
    PyTorch cannot use here. The CPU gives the reference numbers (the cached weights, CI)."""
    torch = deep().torch
    forced = os.environ.get(DEVICE_VARIABLE, "").strip().lower()
    if not forced:
        return torch.device(next(kind for kind in DEVICES if device_works(kind)))
    if forced not in DEVICES:
        raise DeviceError(f"{DEVICE_VARIABLE}={forced!r} is not a device: set it to one of "
                          f"{', '.join(sorted(DEVICES))}, or unset it to use the first that "
                          "works of cuda, mps and cpu")
    if not device_works(forced):
        raise DeviceError(f"{DEVICE_VARIABLE}={forced} but PyTorch {torch.__version__} cannot "
                          f"use a {forced} device here (no such GPU, or a PyTorch built without "
                          f"it): set {DEVICE_VARIABLE}=cpu, or unset it to use the first that "
                          "works")
    return torch.device(forced)


def device_of(net):
    """The device a network's weights are on."""
    return next(net.parameters()).device


def on_device(net, *tensors):
    """``tensors`` moved to ``net``'s device (on the CPU: the same tensors)."""
    device = device_of(net)
    return tuple(t.to(device) for t in tensors)


# ------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class UNetSettings:
    """Everything that decides the trained network (all of it enters the cache key)."""

    channels: tuple = (8, 16, 32)  # feature maps per level; the last is the bottleneck
    strides: tuple = (2, 2)  # down-sampling between levels
    num_res_units: int = 1
    # Chosen on the validation cohort (patients with stage 1's masks; best validation AUC of
    # the case score, "head+map", over 32 epochs): lr 5e-3 and HU shifts of 20 HU gave 0.735
    # (epoch 28) but a lesion Dice of 0.000 there (no voxel reached 0.5: no outline, so no
    # lesion found in place); 10 HU shifts 0.733 (Dice 0.000); lr 1e-2 with 10 HU shifts 0.722
    # (epoch 32) with a lesion Dice of 0.417: kept. (Before the crops were centred on stage 1's
    # masks: lr 5e-3 and class weight 1.0 gave 0.823 at 40 epochs on the reference masks.)
    epochs: int = 32
    batch_size: int = 8
    learning_rate: float = 1e-2
    weight_decay: float = 1e-4
    class_weight: float = 1.0  # weight of the classification loss beside the Dice + CE loss
    shift_vox: int = 4  # stored margin: the training crop moves this far (RandCropByPosNegLabeld)
    rotate_rad: float = 0.1  # RandAffined: axial rotation up to this (about 6 degrees)
    scale: float = 0.05  # RandAffined: scaled by up to 5 %
    hu_shift: float = 0.05  # RandShiftIntensityd on the -1..1 scale: up to 10 HU
    score: str = "head+map"  # case score: "head", "map" (peak of the map) or their mean
    seed: int = 0
    label_source: str = "registered"
    # the pancreas masks training crops are centred on: "stage1" (what the network is given
    # behind stage 1, as the boosted detector of the default pipeline) or "reference"
    training_pancreas: str = "stage1"
    # The HU moved so that the gland's median is GLAND_REFERENCE_HU before the window (a fatty
    # gland and a lean one then look alike). Chosen on the validation and "foreign validation"
    # cohorts only (a sweep of 22 trainings; 3 seeds each for this choice): validation
    # AUC 0.837 / 0.823 / 0.825 against 0.722 / 0.775 / 0.731 without, foreign validation
    # 0.664 / 0.642 / 0.671 against 0.585 / 0.642 / 0.593. Stronger HU shifts, scaling, noise,
    # blur, 40 or 48 epochs and a lighter classification loss moved these within the spread
    # between seeds (about 0.03-0.05 on validation) and were not kept.
    gland_relative: bool = True

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


SCORES = ("head", "map", "head+map")
DEFAULT_SETTINGS = UNetSettings()  # notebook 08's network and default_pipeline(detector="unet")


# ------------------------------------------------------------------------- input crops
def crop_centre(pancreas: np.ndarray) -> tuple[int, ...]:
    """The voxel at the centre of the pancreas mask's bounding box."""
    where = np.argwhere(pancreas)
    if not len(where):
        raise ValueError("the pancreas mask is empty: nothing to crop around")
    return tuple(int(v) for v in (where.min(0) + where.max(0)) // 2)


def crop(array: np.ndarray, centre, shape=CROP_SHAPE, fill=0.0) -> np.ndarray:
    """The box of ``shape`` centred on ``centre``, padded with ``fill`` outside the array."""
    start = [c - s // 2 for c, s in zip(centre, shape, strict=True)]
    out = np.full(shape, fill, dtype=array.dtype)
    src = tuple(slice(max(a, 0), min(a + s, n)) for a, s, n in
                zip(start, shape, array.shape, strict=True))
    dst = tuple(slice(s.start - a, s.stop - a) for s, a in zip(src, start, strict=True))
    out[dst] = array[src]
    return out


def uncrop(box: np.ndarray, centre, shape) -> np.ndarray:
    """A crop of :func:`crop` put back on a grid of ``shape`` (0 outside the box)."""
    start = [c - s // 2 for c, s in zip(centre, box.shape, strict=True)]
    out = np.zeros(tuple(int(v) for v in shape), box.dtype)
    dst = tuple(slice(max(a, 0), min(a + s, n)) for a, s, n in
                zip(start, box.shape, out.shape, strict=True))
    src = tuple(slice(d.start - a, d.stop - a) for d, a in zip(dst, start, strict=True))
    out[dst] = box[src]
    return out


def normalise_hu(hu: np.ndarray) -> np.ndarray:
    """HU clipped to :data:`HU_WINDOW` and scaled to -1..1 (float32)."""
    low, high = HU_WINDOW
    return (2 * (np.clip(hu, low, high) - low) / (high - low) - 1).astype(np.float32)


def gland_relative_hu(hu: np.ndarray, pancreas: np.ndarray) -> np.ndarray:
    """``hu`` (float32) moved so that its median inside ``pancreas`` (> 0.5) becomes
    :data:`GLAND_REFERENCE_HU`: a fatty gland and a lean one then look alike to the network.
    Unchanged when the mask is empty. Training and validation do the same on the same box
    (``unet_training.GlandRelatived``), so prediction sees what training saw."""
    hu = np.asarray(hu, np.float32)
    inside = np.asarray(pancreas) > 0.5
    if not inside.any():
        return hu
    return hu + np.float32(GLAND_REFERENCE_HU - float(np.median(hu[inside])))


def crop_input(hu: np.ndarray, pancreas: np.ndarray, centre=None, shape=CROP_SHAPE,
               gland_relative: bool = True):
    """The network's input for one scan: ``(2, *shape)`` float32 (normalised HU, pancreas
    mask), cropped around ``centre`` (default: :func:`crop_centre` of the mask). With
    ``gland_relative`` (``UNetSettings.gland_relative``) the HU of the box are first moved
    by :func:`gland_relative_hu`, its median taken inside the pancreas within the box."""
    centre = crop_centre(pancreas) if centre is None else centre
    gland = crop(pancreas.astype(np.float32), centre, shape, 0.0)
    box = crop(np.asarray(hu, np.float32), centre, shape, -1000.0)
    return np.stack([normalise_hu(gland_relative_hu(box, gland) if gland_relative else box),
                     gland])


# ------------------------------------------------------------------------- the network
def bottleneck(unet):
    """The innermost block of a MONAI ``UNet`` (its lowest resolution, most channels)."""
    block = unet.model
    while hasattr(block, "__getitem__") and len(block) == 3 and hasattr(block[1], "submodule"):
        block = block[1].submodule
    return block


def build_network(settings: UNetSettings = DEFAULT_SETTINGS):
    """A MONAI 3-D ``UNet`` (2 input channels, 1 lesion logit per voxel) and a classification
    head on its bottleneck (global max-pool, then a linear layer: 1 logit per patient), as a
    ``torch.nn.ModuleDict`` ``{"unet", "head"}``. Weights drawn from ``settings.seed``."""
    d = deep()
    d.torch.manual_seed(settings.seed)
    unet = d.UNet(spatial_dims=3, in_channels=2, out_channels=1,
                  channels=tuple(settings.channels), strides=tuple(settings.strides),
                  num_res_units=settings.num_res_units)
    head = d.nn.Sequential(d.nn.AdaptiveMaxPool3d(1), d.nn.Flatten(),
                           d.nn.Linear(settings.channels[-1], 1))
    return d.nn.ModuleDict({"unet": unet, "head": head})


def forward(net, x):
    """``(segmentation logits [B, 1, Z, Y, X], case logits [B])`` for a batch ``x``
    ``[B, 2, Z, Y, X]``: the U-Net runs once; a forward hook catches what its bottleneck
    produced on the way, and the head turns that into one logit per patient."""
    seen = {}
    hook = bottleneck(net["unet"]).register_forward_hook(
        lambda _module, _inputs, output: seen.update(features=output))
    try:
        segmentation = net["unet"](x)
    finally:
        hook.remove()
    return segmentation, net["head"](seen["features"]).squeeze(1)


def parameter_count(net) -> int:
    """How many numbers training adjusts."""
    return int(sum(p.numel() for p in net.parameters() if p.requires_grad))


def set_deterministic(threads: int = THREADS, device=None) -> None:
    """Deterministic algorithms and a fixed thread count (same seed, same weights). On a GPU
    (``device``, default :func:`choose_device`) PyTorch has no deterministic version of some
    operations this network uses (max-pooling's backward pass): they warn instead of failing,
    and the weights may differ a little between runs and from the CPU's."""
    torch = deep().torch
    device = choose_device() if device is None else torch.device(device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(threads)


def predict_crops(net, inputs, batch_size: int = 8):
    """``(P(lesion) per voxel [N, Z, Y, X], P(abnormal) per patient [N])`` as NumPy arrays for
    input crops ``[N, 2, Z, Y, X]`` (evaluation mode, no gradients; run on the device the
    network is on)."""
    torch = deep().torch
    net.eval()
    device = device_of(net)
    maps, heads = [], []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            x = torch.as_tensor(np.asarray(inputs[start:start + batch_size], np.float32),
                                device=device)
            segmentation, logits = forward(net, x)
            maps.append(torch.sigmoid(segmentation[:, 0]).cpu().numpy())
            heads.append(torch.sigmoid(logits).cpu().numpy())
    return np.concatenate(maps), np.concatenate(heads)


def combine_score(probability: np.ndarray, head: float, how: str = "head+map") -> float:
    """The case score (0..1) from the map (peak of the lightly smoothed map, as stage 2's
    :func:`.boosted.case_score`) and the head's P(abnormal): one, or their mean."""
    check_choice(how, SCORES, "score")
    peak = case_score(probability)
    return {"head": float(head), "map": peak, "head+map": 0.5 * (float(head) + peak)}[how]


def region_map(box: np.ndarray, centre, pancreas: np.ndarray) -> np.ndarray:
    """A crop's P(lesion) back on the scan's grid, kept only within
    :data:`ROI_MARGIN_VOX` of the pancreas (as stage 2 looks only there)."""
    near = ndi.binary_dilation(pancreas, iterations=ROI_MARGIN_VOX)
    return np.where(near, uncrop(box, centre, pancreas.shape), 0.0).astype(np.float32)


@dataclass
class UNetDetector:
    """A trained network as stage 2: the interface of :class:`.boosted.Detector`.

    ``operating_threshold`` on the case score was chosen on the **validation** patients
    (95 % specificity there); ``threshold_scores``/``threshold_abnormal`` (the name every
    stage-2 detector gives the scores its threshold was set on, :mod:`helpers.pipeline.detectors`)
    are the validation patients' case scores and truth.
    """

    net: object
    settings: UNetSettings
    operating_threshold: float
    voxel_threshold: float = VOXEL_THRESHOLD
    threshold_scores: np.ndarray | None = field(default=None, repr=False)
    threshold_abnormal: np.ndarray | None = field(default=None, repr=False)
    history: dict = field(default_factory=dict, repr=False)

    def maps(self, hu: np.ndarray, pancreas: np.ndarray):
        """``(P(lesion) map on the scan's grid, the head's P(abnormal))``."""
        centre = crop_centre(pancreas)
        boxes, heads = predict_crops(self.net, crop_input(
            hu, pancreas, centre, gland_relative=self.settings.gland_relative)[None])
        return region_map(boxes[0], centre, pancreas), float(heads[0])

    def probability_map(self, hu: np.ndarray, pancreas: np.ndarray) -> np.ndarray:
        """P(lesion) per voxel (0 away from the pancreas)."""
        return self.maps(hu, pancreas)[0]

    def detect(self, hu: np.ndarray, pancreas: np.ndarray):
        """``(score, lesion_mask, probability_map)`` like :meth:`.boosted.Detector.detect`:
        the mask is empty below the operating threshold."""
        probability, head = self.maps(hu, pancreas)
        score = combine_score(probability, head, self.settings.score)
        lesion = (lesion_from_map(probability, self.voxel_threshold)
                  if score >= self.operating_threshold else np.zeros(hu.shape, bool))
        return score, lesion, probability
