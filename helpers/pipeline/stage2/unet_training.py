"""Training the network of :mod:`.unet` in MONAI's idiom (notebook 08 shows these functions
word for word).

* :func:`patient_dicts`: one dictionary per patient (``hu``, ``pancreas``, ``label``,
  ``abnormal``) of the cached crops (:func:`helpers.pipeline.unet_cache.cohort_crops`);
* :func:`training_transforms`: MONAI dictionary transforms (``monai.transforms``): a crop
  centred on a lesion or a pancreas voxel at random (``RandCropByPosNegLabeld``), the gland's
  median HU moved to a fixed value (:class:`GlandRelatived`, our own) and the HU window
  (``ScaleIntensityRanged``), a small rotation and scaling in the axial plane
  (``RandAffined``; masks with nearest-neighbour interpolation, never flipped left-right: the
  pancreas is not symmetric) and a random HU shift (``RandShiftIntensityd``: the gland's fat
  content varies between patients); :func:`validation_transforms`: the centre crop and the
  window only;
* :func:`data_loaders`: a ``monai.data.Dataset`` of the training patients (transformed anew
  each epoch) and a ``CacheDataset`` of the validation patients (transformed once), each with
  a ``monai.data.DataLoader`` (seeded, no worker processes);
* :func:`batch_loss`: MONAI's Dice + cross-entropy loss on the lesion map, plus a binary
  cross-entropy on the patient's normal/abnormal logit (PANDA's two tasks at once);
* :func:`train_epoch` and :func:`evaluate`: one pass; ``evaluate`` measures the validation
  loss, the lesion Dice (``monai.metrics.DiceMetric``) and the AUC of the case score;
* :func:`fit_network`: AdamW for ``settings.epochs`` epochs, keeping the weights of the epoch
  with the best **validation** AUC (then lesion Dice); :func:`train_detector`: the detector
  with its operating threshold chosen on the validation patients (deterministic:
  ``monai.utils.set_determinism``, deterministic algorithms, :data:`.unet.THREADS` threads; on
  a GPU if there is one).

Prediction runs on the whole crop (:func:`.unet.predict_crops`): the input is one fixed box
around the pancreas, the size the network trained on, so no sliding window is needed.
Not for clinical use.
"""

from __future__ import annotations

import copy
import functools
import time
import warnings

import numpy as np
from scipy import ndimage as ndi
from sklearn.metrics import roc_auc_score, roc_curve
from tqdm.auto import tqdm

from . import unet
from .boosted import TARGET_SPECIFICITY

KEYS = ("hu", "pancreas", "label")  # the images of a patient's dictionary
NEAR = ndi.generate_binary_structure(3, 1)[None]  # grows each crop of a batch on its own


def patient_dicts(data) -> list[dict]:
    """One dictionary per patient of the crops ``data``: arrays ``[1, z, y, x]`` (HU, the
    pancreas mask, the lesion label) and ``abnormal`` (1.0 or 0.0)."""
    return [{"hu": data["hu"][n], "pancreas": data["pancreas"][n], "label": data["y"][n],
             "abnormal": np.float32(data["abnormal"][n])} for n in range(len(data["hu"]))]


class GlandRelatived:
    """A dictionary transform of our own (any callable that takes and returns the patient's
    dictionary can sit in a ``Compose``): ``hu`` moved so that its median inside
    ``pancreas``, in this box, becomes :data:`.unet.GLAND_REFERENCE_HU`
    (:func:`.unet.gland_relative_hu`, as :func:`.unet.crop_input` does at prediction)."""

    def __call__(self, patient: dict) -> dict:
        hu = np.asarray(patient["hu"], np.float32)
        return {**patient, "hu": unet.gland_relative_hu(hu, np.asarray(patient["pancreas"]))}


def hu_window(settings):
    """The gland's median HU moved to :data:`.unet.GLAND_REFERENCE_HU` (with
    ``settings.gland_relative``), then the HU window :data:`.unet.HU_WINDOW` mapped to -1..1
    (fat and bone clipped), and every image as float32."""
    t = unet.deep().transforms
    low, high = unet.HU_WINDOW
    return [*([GlandRelatived()] if settings.gland_relative else []),
            t.ScaleIntensityRanged(keys="hu", a_min=low, a_max=high, b_min=-1.0, b_max=1.0,
                                   clip=True),
            t.EnsureTyped(keys=KEYS, dtype=np.float32)]


def to_network():
    """The two input channels stacked as ``image`` (HU, pancreas; the separate copies
    dropped, to save memory), as plain tensors."""
    t = unet.deep().transforms
    return [t.ConcatItemsd(keys=("hu", "pancreas"), name="image"),
            t.DeleteItemsd(keys=("hu", "pancreas")),
            t.EnsureTyped(keys=("image", "label"), track_meta=False)]


def training_transforms(settings):
    """What each training patient goes through, anew every epoch."""
    t = unet.deep().transforms
    return t.Compose([
        t.RandCropByPosNegLabeld(keys=KEYS, label_key="label", spatial_size=unet.CROP_SHAPE,
                                 pos=1, neg=1, num_samples=1, image_key="pancreas",
                                 image_threshold=0.5),  # negatives: a pancreas voxel
        *hu_window(settings),  # after the crop: the gland's median within the crop
        t.RandAffined(keys=KEYS, prob=0.5, rotate_range=(settings.rotate_rad, 0, 0),
                      scale_range=settings.scale, mode=("bilinear", "nearest", "nearest"),
                      padding_mode="border"),  # axial rotation; masks stay 0/1
        t.RandShiftIntensityd(keys="hu", offsets=settings.hu_shift, prob=0.5),
        *to_network()])


def validation_transforms(settings):
    """The validation patients: the centre crop and the window, nothing random."""
    t = unet.deep().transforms
    return t.Compose([t.CenterSpatialCropd(keys=KEYS, roi_size=unet.CROP_SHAPE),
                      *hu_window(settings), *to_network()])


def data_loaders(train, validation, settings):
    """``(training loader, validation loader)``: shuffled (seeded) training batches,
    transformed anew each epoch, and :func:`validation_loader`."""
    d = unet.deep()
    training = d.data.Dataset(patient_dicts(train), training_transforms(settings))
    generator = d.torch.Generator().manual_seed(settings.seed)
    return (d.data.DataLoader(training, batch_size=settings.batch_size, shuffle=True,
                              num_workers=0, generator=generator),
            validation_loader(validation, settings))


def validation_loader(validation, settings):
    """The validation patients in order, transformed once and kept (``CacheDataset``)."""
    d = unet.deep()
    checking = d.data.CacheDataset(patient_dicts(validation), validation_transforms(settings),
                                   num_workers=0, progress=False)
    return d.data.DataLoader(checking, batch_size=settings.batch_size, num_workers=0)


@functools.cache
def losses():
    """``(segmentation loss, classification loss)``: MONAI's Dice + cross-entropy on the
    voxel logits (``batch=True``: Dice over the whole batch, so healthy crops with an empty
    label are fine) and PyTorch's binary cross-entropy on the patient logits."""
    d = unet.deep()
    return d.losses.DiceCELoss(sigmoid=True, batch=True), d.nn.BCEWithLogitsLoss()


def batch_loss(net, batch, class_weight):
    """The multi-task loss of one batch, and the network's outputs: segmentation +
    ``class_weight`` x classification (the batch first moved to the network's device)."""
    segmentation_loss, classification_loss = losses()
    x, y, abnormal = unet.on_device(net, batch["image"], batch["label"], batch["abnormal"])
    segmentation, logits = unet.forward(net, x)
    loss = segmentation_loss(segmentation, y) + class_weight * classification_loss(
        logits, abnormal.float())
    return loss, segmentation, logits


def train_epoch(net, optimiser, loader, settings):
    """One pass over the training patients; returns the mean loss per patient."""
    net.train()
    total, count = 0.0, 0
    with warnings.catch_warnings():
        # a healthy patient has no lesion voxel to centre a crop on: RandCropByPosNegLabeld
        # then takes a pancreas voxel, as intended, and would warn about it every time
        warnings.filterwarnings("ignore", message="Num foregrounds 0", category=UserWarning)
        for batch in loader:
            optimiser.zero_grad()
            loss = batch_loss(net, batch, settings.class_weight)[0]
            loss.backward()
            optimiser.step()
            total, count = (total + loss.item() * len(batch["image"]),
                            count + len(batch["image"]))
    return total / count


def evaluate(net, loader, settings):
    """On the validation patients, without learning: the loss, the lesion Dice of the lesion
    patients (``DiceMetric``: a voxel is lesion at :data:`.unet.VOXEL_THRESHOLD`) and each
    patient's case score (its map kept near the pancreas channel, as on a whole scan)."""
    d = unet.deep()
    net.eval()
    dice, total, scores, truth = d.metrics.DiceMetric(ignore_empty=True), 0.0, [], []
    with d.torch.no_grad():
        for batch in loader:
            loss, segmentation, logits = batch_loss(net, batch, settings.class_weight)
            maps = d.torch.sigmoid(segmentation).cpu().numpy()[:, 0]
            near = ndi.binary_dilation(batch["image"][:, 1].numpy() > 0.5, NEAR,
                                       iterations=unet.ROI_MARGIN_VOX)
            found = (maps >= unet.VOXEL_THRESHOLD) & near
            dice(d.torch.as_tensor(found[:, None]), batch["label"] > 0.5)  # empty: ignored
            heads = d.torch.sigmoid(logits).cpu().numpy()
            scores += [unet.combine_score(np.where(m, p, 0.0), h, settings.score)
                       for p, h, m in zip(maps, heads, near, strict=True)]
            truth += batch["abnormal"].numpy().astype(bool).tolist()
            total += loss.item() * len(maps)
    return {"loss": total / len(scores), "dice": float(dice.aggregate().item()),
            "scores": np.array(scores), "auc": float(roc_auc_score(truth, scores))}


def crop_scores(net, data, settings) -> np.ndarray:
    """The case score of every patient of the crops ``data`` (centre crop)."""
    return evaluate(net, validation_loader(data, settings), settings)["scores"]


def fit_network(train, validation, settings, epochs=None, progress=True):
    """Train a new network on the ``train`` crops for ``epochs`` (default
    ``settings.epochs``); after each epoch :func:`evaluate` it on ``validation`` and keep the
    weights of the epoch with the best validation AUC (of equal AUCs: the best lesion Dice).
    Returns ``(net, history)``; deterministic for ``settings.seed`` on the CPU
    (:func:`.unet.choose_device`)."""
    d = unet.deep()
    device = unet.choose_device()
    d.set_determinism(seed=settings.seed)
    unet.set_deterministic(device=device)
    net = unet.build_network(settings).to(device)
    optimiser = d.torch.optim.AdamW(net.parameters(), lr=settings.learning_rate,
                                    weight_decay=settings.weight_decay)
    training, checking = data_loaders(train, validation, settings)
    history = {"train_loss": [], "validation_loss": [], "validation_auc": [],
               "validation_dice": [], "seconds": 0.0}
    best, start = ((-1.0, -1.0), 0, None), time.perf_counter()
    for epoch in tqdm(range(epochs or settings.epochs), desc=f"epochs on {device.type}",
                      disable=not progress):
        history["train_loss"].append(train_epoch(net, optimiser, training, settings))
        measured = evaluate(net, checking, settings)
        for name in ("loss", "auc", "dice"):
            history[f"validation_{name}"].append(measured[name])
        # AUC first; among equal AUCs the better outlines (an AUC of 1 reached early would
        # otherwise keep weights that draw no lesion yet)
        if (measured["auc"], measured["dice"]) > best[0]:
            best = ((measured["auc"], measured["dice"]), epoch, copy.deepcopy(net.state_dict()))
    net.load_state_dict(best[2])
    history.update(best_epoch=best[1], seconds=time.perf_counter() - start)
    return net, history


def operating_threshold(scores, abnormal, specificity=TARGET_SPECIFICITY) -> float:
    """The lowest case-score threshold that keeps ``specificity`` on these (validation)
    patients, as stage 2 chooses its own on training patients."""
    fpr, _, cut = roc_curve(np.asarray(abnormal, bool), np.asarray(scores, float))
    return float(min(cut[fpr <= 1 - specificity][-1], 1.0))


def train_detector(train, validation, settings, progress=True) -> unet.UNetDetector:
    """Train on the ``train`` crops, choose the epoch and the threshold on the ``validation``
    crops (both as :func:`helpers.pipeline.unet_cache.cohort_crops` gives them) and wrap it
    as a detector."""
    net, history = fit_network(train, validation, settings, progress=progress)
    scores = crop_scores(net, validation, settings)
    return unet.UNetDetector(net, settings, operating_threshold(scores, validation["abnormal"]),
                             threshold_scores=scores,
                             threshold_abnormal=validation["abnormal"].astype(bool),
                             history=history)
