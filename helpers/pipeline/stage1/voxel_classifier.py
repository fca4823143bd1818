"""Stage 1, method B: a voxel classifier for the pancreas (notebook 04).

scikit-image's multiscale filters (smoothed intensity, edges, Hessian texture) plus the voxel's
position in the body, fed to a scikit-learn random forest that is fitted in seconds from a few
virtual patients (nothing is loaded from disk). Not for clinical use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage as ndi
from skimage.feature import multiscale_basic_features
from sklearn.ensemble import RandomForestClassifier

from ..grid import body_mask

FEATURE_WINDOW_HU = (-160.0, 240.0)  # features see this HU range as 0..1 (soft tissue)

SIGMAS_VOX = (1.0, 2.0, 4.0, 8.0)  # scales of the multiscale filters, in 3 mm voxels



def feature_map_names() -> list[str]:
    """Names of the columns of :func:`feature_maps`, in order."""
    names = []
    for s in SIGMAS_VOX:
        names += [f"intensity s={s:g}", f"edges s={s:g}"]
        names += [f"hessian eig{k} s={s:g}" for k in (1, 2, 3)]
    # The working grid runs from the patient's left to right, back to front, foot to head.
    return names + ["position left->right", "position back->front", "position foot->head"]


def feature_maps(hu: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
    """Features per voxel, shape ``(*hu.shape, n_features)`` (see :func:`feature_map_names`).

    Multiscale filters of the windowed image (scikit-image ``multiscale_basic_features``)
    plus the voxel's position inside the body's bounding box (0..1 per axis): the forest's
    only sense of anatomy, and the reason it needs scans framed like its training scans.
    """

    low, high = FEATURE_WINDOW_HU
    scaled = np.clip((np.asarray(hu, np.float32) - low) / (high - low), 0, 1)
    filtered = multiscale_basic_features(scaled, sigma_min=SIGMAS_VOX[0],
                                         sigma_max=SIGMAS_VOX[-1], num_sigma=len(SIGMAS_VOX))
    body = body_mask(hu) if body is None else body
    inside = np.argwhere(body)
    if len(inside) == 0:
        raise ValueError("no body found in the image (nothing above -500 HU)")
    low_i, high_i = inside.min(0), inside.max(0)
    grid = np.indices(hu.shape, dtype=np.float32)
    position = [(grid[a] - low_i[a]) / max(high_i[a] - low_i[a], 1) for a in (2, 1, 0)]
    return np.concatenate([filtered, np.stack(position, -1)], -1).astype(np.float32)


def training_samples(case, rng: np.random.Generator, near: int = 3, far: int = 2):
    """Balanced voxel samples from one patient: every pancreas voxel, ``near`` times as many
    background voxels within 24 mm of it (the hard ones) and ``far`` times as many elsewhere
    in the body. Returns ``(features, labels)``."""
    hu = sitk.GetArrayFromImage(case.plain)
    truth = sitk.GetArrayFromImage(case.pancreas_plain) > 0
    body = body_mask(hu)
    features = feature_maps(hu, body)
    ring = ndi.binary_dilation(truth, iterations=8) & body & ~truth
    pos = np.flatnonzero(truth)
    picks = [pos]
    for pool, factor in ((np.flatnonzero(ring), near),
                         (np.flatnonzero(body & ~ring & ~truth), far)):
        picks.append(rng.choice(pool, min(len(pool), factor * len(pos)), replace=False))
    chosen = np.concatenate(picks)
    flat = features.reshape(-1, features.shape[-1])
    return flat[chosen], truth.ravel()[chosen].astype(np.uint8)


@dataclass
class VoxelClassifier:
    """A fitted random forest and what it was fitted on."""

    forest: object
    training_seeds: list[int]
    seconds: float
    names: list[str] = field(default_factory=feature_map_names)

    def probability(self, hu: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
        """P(pancreas) per voxel of an HU array on the working grid (0 outside the body)."""
        body = body_mask(hu) if body is None else body
        features = feature_maps(hu, body)
        out = np.zeros(hu.shape, np.float32)
        if body.any():
            out[body] = self.forest.predict_proba(features[body])[:, 1]
        return out

    def importances(self):
        """Feature importances as a pandas Series, largest first."""

        return pd.Series(self.forest.feature_importances_, self.names).sort_values(
            ascending=False)


def fit_voxel_classifier(cases, seed: int = 0, n_estimators: int = 60, max_depth: int = 14,
                         n_jobs: int = 2) -> VoxelClassifier:
    """Fit the forest on sampled voxels of ``cases`` (deterministic for a given ``seed``)."""

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    parts = [training_samples(c, rng) for c in cases]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    forest = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                    min_samples_leaf=3, random_state=seed, n_jobs=n_jobs)
    forest.fit(x, y)
    return VoxelClassifier(forest, [c.seed for c in cases], time.perf_counter() - start)

