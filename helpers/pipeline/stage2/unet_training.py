"""Training the network of :mod:`.unet` (notebook 08 shows this loop word for word).

* :func:`batches`: shuffled mini-batches, each crop shifted by a few voxels at random;
* :func:`batch_loss`: MONAI's Dice + cross-entropy loss on the lesion map, plus a weighted
  binary cross-entropy on the patient's normal/abnormal logit (PANDA's two tasks at once);
* :func:`train_epoch` and :func:`validation_loss`: one pass over the patients;
* :func:`fit_network`: AdamW for ``settings.epochs`` epochs, keeping the weights of the epoch
  with the best **validation** AUC (the epoch is a choice: the validation patients make it);
* :func:`train_detector`: the trained detector (deterministic: seeded, deterministic
  algorithms, :data:`.unet.THREADS` threads; about two minutes on two cores; on a GPU, if
  there is one: :func:`.unet.choose_device`) with its
  operating threshold chosen on the validation patients; cached by
  :func:`helpers.pipeline.unet_cache.warm_unet`.

Not for clinical use.
"""

from __future__ import annotations

import copy
import functools
import time

import numpy as np
from scipy import ndimage as ndi
from sklearn.metrics import roc_auc_score, roc_curve
from tqdm.auto import tqdm

from . import unet
from .boosted import TARGET_SPECIFICITY


def batches(data, batch_size, rng, shift):
    """Mini-batches ``(x, y, abnormal)`` of the crops in ``data`` in a random order, each
    batch cut from the stored boxes at a random offset of up to ``shift`` voxels."""
    torch = unet.deep().torch
    order = rng.permutation(len(data["x"]))
    inner = unet.CROP_SHAPE
    for start in range(0, len(order), batch_size):
        pick = np.sort(order[start:start + batch_size])
        dz, dy, dx = rng.integers(0, 2 * shift + 1, 3)
        window = (slice(None), slice(None), slice(dz, dz + inner[0]),
                  slice(dy, dy + inner[1]), slice(dx, dx + inner[2]))
        yield (torch.as_tensor(data["x"][pick][window]),
               torch.as_tensor(data["y"][pick][window].astype(np.float32)),
               torch.as_tensor(data["abnormal"][pick].astype(np.float32)))


def centre_window(data, shift):
    """The unshifted crops ``(x, y, abnormal)`` of ``data`` as tensors (for evaluation)."""
    torch = unet.deep().torch
    inner = unet.CROP_SHAPE
    window = (slice(None), slice(None), slice(shift, shift + inner[0]),
              slice(shift, shift + inner[1]), slice(shift, shift + inner[2]))
    return (torch.as_tensor(data["x"][window]),
            torch.as_tensor(data["y"][window].astype(np.float32)),
            torch.as_tensor(data["abnormal"].astype(np.float32)))


@functools.cache
def losses():
    """``(segmentation loss, classification loss)``: MONAI's Dice + cross-entropy on the
    voxel logits (``batch=True``: Dice over the whole batch, so healthy crops with an empty
    label are fine) and PyTorch's binary cross-entropy on the patient logits."""
    d = unet.deep()
    return d.losses.DiceCELoss(sigmoid=True, batch=True), d.nn.BCEWithLogitsLoss()


def batch_loss(net, x, y, abnormal, class_weight):
    """The multi-task loss of one batch: segmentation + ``class_weight`` x classification
    (the batch first moved to the device the network is on)."""
    segmentation_loss, classification_loss = losses()
    x, y, abnormal = unet.on_device(net, x, y, abnormal)
    segmentation, logits = unet.forward(net, x)
    return segmentation_loss(segmentation, y) + class_weight * classification_loss(logits,
                                                                                  abnormal)


def train_epoch(net, optimiser, data, settings, rng):
    """One pass over the training crops; returns the mean loss per patient."""
    net.train()
    total = 0.0
    for x, y, abnormal in batches(data, settings.batch_size, rng, settings.shift_vox):
        optimiser.zero_grad()
        loss = batch_loss(net, x, y, abnormal, settings.class_weight)
        loss.backward()
        optimiser.step()
        total += loss.item() * len(x)
    return total / len(data["x"])


def validation_loss(net, data, settings):
    """The same loss on unshifted crops of other patients, without learning from them."""
    torch = unet.deep().torch
    net.eval()
    x, y, abnormal = centre_window(data, settings.shift_vox)
    with torch.no_grad():
        return batch_loss(net, x, y, abnormal, settings.class_weight).item()


def crop_scores(net, data, settings) -> np.ndarray:
    """The case score of every patient of ``data`` (its unshifted crop; the map kept within
    :data:`.unet.ROI_MARGIN_VOX` of the pancreas channel, as on a whole scan)."""
    x = centre_window(data, settings.shift_vox)[0].numpy()
    maps, heads = unet.predict_crops(net, x)
    near = [ndi.binary_dilation(g > 0.5, iterations=unet.ROI_MARGIN_VOX) for g in x[:, 1]]
    return np.array([unet.combine_score(np.where(m, p, 0.0), h, settings.score)
                     for p, h, m in zip(maps, heads, near, strict=True)])


def fit_network(train, validation, settings, epochs=None, progress=True):
    """Train a new network on the ``train`` crops for ``epochs`` (default
    ``settings.epochs``); after each epoch measure the loss on ``validation`` and its AUC,
    and keep the weights of the epoch with the best validation AUC. Returns
    ``(net, history)``; deterministic for ``settings.seed`` on the CPU. Trains on
    :func:`.unet.choose_device` (its name is on the progress bar)."""
    torch = unet.deep().torch
    device = unet.choose_device()
    unet.set_deterministic(device=device)
    net = unet.build_network(settings).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    rng = np.random.default_rng(settings.seed)
    history = {"train_loss": [], "validation_loss": [], "validation_auc": [], "seconds": 0.0}
    best, start = (-1.0, 0, None), time.perf_counter()
    for epoch in tqdm(range(epochs or settings.epochs), desc=f"epochs on {device.type}",
                      disable=not progress):
        history["train_loss"].append(train_epoch(net, optimiser, train, settings, rng))
        history["validation_loss"].append(validation_loss(net, validation, settings))
        auc = roc_auc_score(validation["abnormal"], crop_scores(net, validation, settings))
        history["validation_auc"].append(float(auc))
        if auc > best[0]:
            best = (float(auc), epoch, copy.deepcopy(net.state_dict()))
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
