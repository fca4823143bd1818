"""Figures of notebook 08: what goes into the network, and how its training went.

Crops are ``[z, y, x]`` arrays on the virtual patients' 3 mm grid, whose index axes run to
the patient's right (x) and anterior (y); axial panels are flipped to the radiological view
(anterior up, the patient's right on the image's left). Not for clinical use.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ...display import add_edge_letters
from ...display.colours import OKABE_ITO, REFERENCE_COLOUR, REFERENCE_STYLE
from .unet import HU_WINDOW
from .unet_training import training_transforms


def radiological(axial: np.ndarray) -> np.ndarray:
    """An axial ``[y, x]`` slice of the working grid turned to the radiological view."""
    return axial[::-1, ::-1]


def show_crop(inputs: np.ndarray, label: np.ndarray, title: str = "", spacing_mm=3.0):
    """The two input channels of one crop (``[2, z, y, x]``: HU scaled to -1..1 and the
    pancreas mask) and its lesion label, on the axial slice through the label's centre (else
    the crop's middle slice). Returns the figure."""
    label = np.asarray(label, bool)
    z = int(np.argwhere(label)[:, 0].mean()) if label.any() else inputs.shape[1] // 2
    low, high = HU_WINDOW
    hu = radiological((inputs[0, z] + 1) / 2 * (high - low) + low)
    extent = (0, hu.shape[1] * spacing_mm, hu.shape[0] * spacing_mm, 0)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    shown = axes[0].imshow(hu, cmap="gray", vmin=low, vmax=high, extent=extent)
    fig.colorbar(shown, ax=axes[0], shrink=0.8, label="HU (input: -1 .. 1)")
    axes[0].set_title("channel 1: plain CT, HU clipped", fontsize=9)
    mask = axes[1].imshow(radiological(inputs[1, z]), cmap="gray", vmin=0, vmax=1, extent=extent)
    fig.colorbar(mask, ax=axes[1], shrink=0.8, ticks=[0, 1], label="pancreas (0/1)")
    axes[1].set_title("channel 2: the pancreas mask", fontsize=9)
    axes[2].imshow(hu, cmap="gray", vmin=low, vmax=high, extent=extent)
    if label.any():
        outline = radiological(label[z]).astype(float)
        rows, cols = (spacing_mm * (np.arange(n) + 0.5) for n in outline.shape)
        axes[2].contour(cols, rows, outline, [0.5], colors=REFERENCE_COLOUR,
                         linestyles=REFERENCE_STYLE)  # pixel centres, in mm
    axes[2].set_title("target: the registered lesion label" if label.any()
                      else "target: no lesion (healthy)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("mm")
        add_edge_letters(ax, "axial")
    axes[0].set_ylabel("mm")
    fig.suptitle(title or f"one training crop, axial slice {z} of {inputs.shape[1]}",
                 fontsize=10)
    return fig


def show_curves(history: dict, live: dict | None = None):
    """Training and validation loss per epoch (and the validation AUC and lesion Dice), with
    the epoch that was kept; ``live``: the short run of the notebook on top. Returns the
    figure."""
    fig, (ax, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="training patients (full run)")
    ax.plot(epochs, history["validation_loss"], label="validation patients (full run)")
    if live:
        n = np.arange(1, len(live["train_loss"]) + 1)
        ax.plot(n, live["train_loss"], "o", color=OKABE_ITO["blue"], mfc="none",
                label="training (live run above)")
        ax.plot(n, live["validation_loss"], "o", color=OKABE_ITO["orange"], mfc="none",
                label="validation (live run above)")
    best = history["best_epoch"] + 1
    for a in (ax, right):
        a.axvline(best, color="0.5", ls="--", lw=1, label=f"kept: epoch {best}")
        a.set_xlabel("epoch (one pass over the training patients)")
    ax.set_ylabel("loss: Dice + cross-entropy + classification")
    ax.legend(fontsize=8)
    right.plot(epochs, history["validation_auc"], color=OKABE_ITO["bluish green"],
               label="AUC of the case score")
    if "validation_dice" in history:  # monai.metrics.DiceMetric, lesion patients
        right.plot(epochs, history["validation_dice"], color=OKABE_ITO["vermillion"],
                   ls=":", label="lesion Dice (DiceMetric)")
    right.set_ylabel("validation patients")
    right.set_ylim(0.0, 1.0)
    right.legend(fontsize=8, loc="lower right")
    fig.suptitle("Learning curves of the network", fontsize=10)
    return fig


PANCREAS_COLOUR, LESION_COLOUR = OKABE_ITO["bluish green"], REFERENCE_COLOUR
SHOWN = ("RandCropByPosNegLabeld", "GlandRelatived", "ScaleIntensityRanged", "RandAffined",
         "RandShiftIntensityd")  # the transforms that change the picture


def transform_steps(patient: dict, settings, seed: int = 0) -> list[tuple[str, dict]]:
    """``[(name, patient dictionary)]``: one patient before the training transforms
    (:func:`.unet_training.training_transforms`) and after each of :data:`SHOWN`, each random
    one made to happen (probability 1) with its random state seeded by ``seed``."""
    steps, current = [("stored box", patient)], dict(patient)
    for transform in training_transforms(settings).transforms:
        if hasattr(transform, "prob"):
            transform.prob = 1.0
        if hasattr(transform, "set_random_state"):
            transform.set_random_state(seed=seed)
        current = transform(current)
        current = current[0] if isinstance(current, list) else current
        if type(transform).__name__ in SHOWN:
            steps.append((type(transform).__name__, current))
    return steps


def show_transforms(steps, spacing_mm: float = 3.0):
    """Each step of :func:`transform_steps` on the axial slice through the lesion label's
    centre (radiological view): the HU channel in the soft-tissue window, the pancreas
    channel's outline and the lesion label's. Returns the figure."""
    low, high = HU_WINDOW
    fig, axes = plt.subplots(1, len(steps), figsize=(3.1 * len(steps), 3.0),
                             layout="constrained")
    scaled = False  # from the window on, -1 .. 1 stands for low .. high HU
    for ax, (name, patient) in zip(axes, steps, strict=True):
        hu, gland, label = (np.asarray(patient[k])[0] for k in ("hu", "pancreas", "label"))
        z = int(np.argwhere(label > 0.5)[:, 0].mean()) if label.any() else hu.shape[0] // 2
        scaled = scaled or name == "ScaleIntensityRanged"
        image = radiological((hu[z] + 1) / 2 * (high - low) + low if scaled else hu[z])
        extent = (0, image.shape[1] * spacing_mm, image.shape[0] * spacing_mm, 0)
        shown = ax.imshow(image, cmap="gray", vmin=low, vmax=high, extent=extent)
        rows, cols = (spacing_mm * (np.arange(n) + 0.5) for n in image.shape)
        for mask, colour, style in ((gland, PANCREAS_COLOUR, "-"),
                                    (label, LESION_COLOUR, REFERENCE_STYLE)):
            if (mask[z] > 0.5).any():
                ax.contour(cols, rows, radiological(mask[z] > 0.5).astype(float), [0.5],
                           colors=colour, linestyles=style)
        ax.set_title(f"{name}\n{hu.shape[0]} x {hu.shape[1]} x {hu.shape[2]} voxels",
                     fontsize=8)
        ax.set_xlabel("mm")
        add_edge_letters(ax, "axial")
    axes[0].set_ylabel("mm")
    fig.colorbar(shown, ax=axes[-1], shrink=0.8, label="HU (window of the input)")
    fig.legend(handles=[plt.Line2D([], [], color=PANCREAS_COLOUR, ls="-",
                                   label="pancreas channel (stage 1's mask)"),
                        plt.Line2D([], [], color=LESION_COLOUR, ls=REFERENCE_STYLE,
                                   label="lesion label")],
               loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle("One training patient through the MONAI transforms (axial, anterior up, "
                 "the patient's right on the left)", fontsize=10)
    return fig
