"""Stage 1 of the toy pipeline: find the pancreas on a plain (non-contrast) CT.

PANDA's first stage segments the pancreas so that the later stages only look at a small
region. This module holds two methods a student can follow, both fitted or assembled from
virtual patients (:mod:`helpers.simulate`), plus the pieces they share:

* **multi-atlas segmentation**: register several labelled virtual patients ("atlases") to
  the new scan with notebook 03's :func:`helpers.registration.register`, carry their
  pancreas masks over with :func:`helpers.registration.warp_mask`, and let them vote;
* **a voxel classifier**: scikit-image's multiscale filters (smoothed intensity, edges,
  Hessian texture) plus the voxel's position in the body, fed to a scikit-learn random forest
  that is fitted in seconds from a few virtual patients (nothing is loaded from disk).

Both produce a score per voxel (atlas votes or forest probability) that :func:`clean_mask`
turns into a mask with the same intensity and morphology rules. Everything runs on a
*working grid* (3 mm voxels, the atlases' orientation, see :func:`to_working_grid`);
:mod:`helpers.pipeline` wraps it into ``segment_pancreas(plain_ct)``.

Who is who: the *labelled* patients (the atlases of one method, the training data of the
other: both methods learn from the same few patients), *validation* patients (for choosing
settings) and held-out *test* patients come from separate cohort seeds (:data:`COHORTS`);
:func:`check_disjoint` proves that no patient plays two roles. Not for clinical use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

WORK_SPACING_MM = 3.0
FEATURE_WINDOW_HU = (-160.0, 240.0)  # features see this HU range as 0..1 (soft tissue)
SIGMAS_VOX = (1.0, 2.0, 4.0, 8.0)  # scales of the multiscale filters, in 3 mm voxels
KEEP_FRACTION = 0.2  # keep connected pieces with >= this fraction of the largest piece
TISSUE_HU = (-120.0, 200.0)  # after light smoothing, pancreas (even fatty) lies in here
MIN_PIECE_ML = 0.5  # pieces smaller than this are noise, whatever the rules above say

# Cohort seeds: each role gets its own virtual patients (see :func:`cohort`).
COHORTS = {"labelled": 4202, "validation": 4303, "test": 4404}


# ------------------------------------------------------------------------- data and roles
def cohort(role: str, n: int, progress: bool = False):
    """``n`` virtual patients for one role (labelled, validation or test), cached on disk.

    Half are healthy, half carry a lesion (every subtype in turn), as stage 1 meets both.
    The first ``n`` patient seeds of a role are always the same; their lesions follow
    :func:`helpers.simulate.cohort_plan` for that ``n``.
    """
    from . import simulate

    if role not in COHORTS:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(COHORTS)}")
    cases = simulate.make_cohort(n, COHORTS[role], progress=progress)
    check_disjoint({role: [c.seed for c in cases]})
    return cases


def check_disjoint(seeds_by_role: dict[str, list[int]], others: int = 64) -> None:
    """Raise if a patient seed of one role also appears among the first ``others`` patients
    of any other role: held-out patients must never have been atlases or training data."""
    from . import simulate

    for role, seeds in seeds_by_role.items():
        for other, cohort_seed in COHORTS.items():
            if other == role:
                continue
            used = {s for s, _ in simulate.cohort_plan(max(others, len(seeds)), cohort_seed)}
            shared = used.intersection(int(s) for s in seeds)
            if shared:
                raise ValueError(f"patients {sorted(shared)} are in both the {role} and the "
                                 f"{other} cohorts; pick other seeds")


# ------------------------------------------------------------------------- working grid
def reference_orientation() -> str:
    """SimpleITK orientation code of the virtual patients' grid (the working grid's)."""
    from . import simulate

    direction = simulate.load_base().reference.GetDirection()
    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(direction)


def to_working_grid(image: sitk.Image) -> sitk.Image:
    """The image reoriented like the atlases and resampled to 3 mm voxels (float32 HU).

    Reorienting only permutes/flips axes; resampling (linear) happens only when the spacing
    differs from :data:`WORK_SPACING_MM`. The input is never modified.
    """
    image = sitk.DICOMOrient(sitk.Cast(image, sitk.sitkFloat32), reference_orientation())
    spacing = np.asarray(image.GetSpacing())
    if np.allclose(spacing, WORK_SPACING_MM, atol=1e-3):
        return image
    if np.any(spacing < WORK_SPACING_MM):  # blur before shrinking, so noise does not alias
        sigma = 0.5 * np.sqrt(np.maximum(WORK_SPACING_MM**2 - spacing**2, 0.0)) + 1e-3
        image = sitk.SmoothingRecursiveGaussian(image, [float(v) for v in sigma])
    size = [max(1, int(round(n * s / WORK_SPACING_MM)))
            for n, s in zip(image.GetSize(), spacing, strict=True)]
    origin = image.TransformContinuousIndexToPhysicalPoint(
        [(WORK_SPACING_MM / s - 1) / 2 for s in spacing])  # keep the field of view centred
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, origin,
                         [WORK_SPACING_MM] * 3, image.GetDirection(), -1024.0, sitk.sitkFloat32)


def to_input_grid(mask_work: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """A working-grid mask carried back onto the input's grid (uint8, 0/1).

    Linear interpolation of the 0/1 mask then a 0.5 threshold, so a finer input grid gets a
    smooth outline rather than 3 mm staircase blocks.
    """
    moved = sitk.Resample(sitk.Cast(mask_work, sitk.sitkFloat32), reference, sitk.Transform(),
                          sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.Cast(moved >= 0.5, sitk.sitkUInt8)


def body_mask(hu: np.ndarray) -> np.ndarray:
    """The patient's body: the largest connected region above -500 HU, holes filled per slice
    (so air in the bowel counts as inside the body, air around the patient does not)."""
    solid = hu > -500
    labels, n = ndi.label(solid)
    if n == 0:
        return solid
    sizes = ndi.sum(solid, labels, range(1, n + 1))
    body = labels == 1 + int(np.argmax(sizes))
    return np.stack([ndi.binary_fill_holes(s) for s in body])


# ------------------------------------------------------------------------- shared clean-up
def clean_mask(score: np.ndarray, hu: np.ndarray, threshold: float = 0.5,
               spacing_mm=(WORK_SPACING_MM,) * 3, tissue_hu=TISSUE_HU) -> np.ndarray:
    """Turn a score map (atlas votes or probabilities, 0..1) into a plausible pancreas mask.

    1. threshold the score; 2. intensity: drop voxels whose lightly smoothed HU is outside
    :data:`TISSUE_HU` (fat, air, bone: never pancreas, even a fatty one); 3. morphology: keep
    the large connected pieces (26-connected, at least :data:`KEEP_FRACTION` of the largest:
    the gland can show up as two pieces at 3 mm) and fill holes slice by slice.
    """
    smooth = ndi.gaussian_filter(np.asarray(hu, np.float32), 0.7)
    mask = (score >= threshold) & (smooth >= tissue_hu[0]) & (smooth <= tissue_hu[1])
    labels, n = ndi.label(mask, np.ones((3, 3, 3)))
    if n == 0:
        return mask
    sizes = ndi.sum(mask, labels, range(1, n + 1))
    voxel_ml = float(np.prod(spacing_mm)) / 1000
    keep = np.flatnonzero((sizes >= KEEP_FRACTION * sizes.max())
                          & (sizes * voxel_ml >= MIN_PIECE_ML)) + 1
    mask = np.isin(labels, keep)
    return np.stack([ndi.binary_fill_holes(s) for s in mask])


# ------------------------------------------------------------------------- A: multi-atlas
def body_centroid_mm(image: sitk.Image) -> np.ndarray:
    """Physical centre (mm) of the patient's body in a scan (see :func:`body_mask`)."""
    body = body_mask(sitk.GetArrayViewFromImage(image))
    if not body.any():
        raise ValueError("no body found in the image (nothing above -500 HU)")
    zyx = np.argwhere(body).mean(0)
    return np.array(image.TransformContinuousIndexToPhysicalPoint([float(v) for v in zyx[::-1]]))


@dataclass
class Atlas:
    """One labelled scan: a plain CT, its pancreas mask on the same grid, its body centre."""

    image: sitk.Image
    mask: sitk.Image
    name: str = ""
    centre_mm: np.ndarray | None = None

    def __post_init__(self):
        if self.centre_mm is None:
            self.centre_mm = body_centroid_mm(self.image)


def atlases_from_cases(cases) -> list[Atlas]:
    """Atlases from virtual patients (their plain scan and reference pancreas)."""
    return [Atlas(c.plain, c.pancreas_plain, f"seed {c.seed}") for c in cases]


def initial_alignment(image: sitk.Image, atlas: Atlas, centre_mm=None) -> sitk.Transform:
    """A shift that puts the atlas's body centre on the scan's body centre.

    Two patients' scanner coordinates mean nothing to each other (table height, field of
    view), so registration starts from the bodies' centres rather than from the header.
    """
    centre = body_centroid_mm(image) if centre_mm is None else centre_mm
    return sitk.TranslationTransform(3, [float(v) for v in atlas.centre_mm - centre])


@dataclass
class AtlasVotes:
    """What :func:`atlas_votes` produced, all on the target scan's grid."""

    votes: np.ndarray  # fraction of atlases that call each voxel pancreas (0..1)
    masks: list  # each atlas's warped pancreas (bool arrays)
    transforms: list  # target point -> atlas point, one per atlas
    similarity: list  # per atlas: correlation with the scan around the fused pancreas
    seconds: float


def local_correlation(a: np.ndarray, b: np.ndarray, region: np.ndarray,
                      clamp_hu=(-200.0, 400.0)) -> float:
    """Pearson correlation of two HU arrays inside ``region`` (after clamping to soft tissue):
    about 1 where a registered atlas looks like the scan, about 0 where it does not."""
    x, y = (np.clip(v[region], *clamp_hu).astype(np.float64) for v in (a, b))
    x, y = x - x.mean(), y - y.mean()
    spread = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / spread) if spread > 0 else 0.0


def atlas_votes(image: sitk.Image, atlases, kind: str = "affine", register=None, warp=None,
                **options) -> AtlasVotes:
    """Register every atlas to ``image``, carry its pancreas over, and count the votes.

    A strict majority vote is ``votes > 0.5``. Each registration starts from
    :func:`initial_alignment`. ``register`` and ``warp`` default to notebook 03's
    :func:`helpers.registration.register` and ``warp_mask``; ``options`` go to ``register``
    (e.g. ``samples=``, ``iterations=``). ``similarity`` tells whether the atlases really
    matched: their :func:`local_correlation` with the scan within 15 mm of the fused pancreas.
    """
    from . import registration

    register = register or registration.register
    warp = warp or registration.warp_mask
    if not atlases:
        raise ValueError("no atlases given; pass at least one labelled scan")
    start = time.perf_counter()
    centre = body_centroid_mm(image)
    masks, transforms = [], []
    for atlas in atlases:
        transform = register(image, atlas.image, kind=kind,
                             initial=initial_alignment(image, atlas, centre), **options)
        masks.append(sitk.GetArrayFromImage(warp(atlas.mask, transform, image)) > 0)
        transforms.append(transform)
    votes = np.mean(masks, axis=0, dtype=np.float32)
    core = votes > 0.5 if (votes > 0.5).any() else votes > 0
    region = ndi.binary_dilation(core, iterations=5) if core.any() else np.ones_like(core)
    hu = sitk.GetArrayViewFromImage(image)
    similarity = [local_correlation(hu, sitk.GetArrayViewFromImage(
        registration.warp_image(atlas.image, transform, image)), region)
        for atlas, transform in zip(atlases, transforms, strict=True)]
    return AtlasVotes(votes, masks, transforms, similarity, time.perf_counter() - start)


# ------------------------------------------------------------------------- B: classifier
def feature_names() -> list[str]:
    """Names of the columns of :func:`voxel_features`, in order."""
    names = []
    for s in SIGMAS_VOX:
        names += [f"intensity s={s:g}", f"edges s={s:g}"]
        names += [f"hessian eig{k} s={s:g}" for k in (1, 2, 3)]
    # The working grid runs from the patient's left to right, back to front, foot to head.
    return names + ["position left->right", "position back->front", "position foot->head"]


def voxel_features(hu: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
    """Features per voxel, shape ``(*hu.shape, n_features)`` (see :func:`feature_names`).

    Multiscale filters of the windowed image (scikit-image ``multiscale_basic_features``)
    plus the voxel's position inside the body's bounding box (0..1 per axis): the forest's
    only sense of anatomy, and the reason it needs scans framed like its training scans.
    """
    from skimage.feature import multiscale_basic_features

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
    features = voxel_features(hu, body)
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
    names: list[str] = field(default_factory=feature_names)

    def probability(self, hu: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
        """P(pancreas) per voxel of an HU array on the working grid (0 outside the body)."""
        body = body_mask(hu) if body is None else body
        features = voxel_features(hu, body)
        out = np.zeros(hu.shape, np.float32)
        if body.any():
            out[body] = self.forest.predict_proba(features[body])[:, 1]
        return out

    def importances(self):
        """Feature importances as a pandas Series, largest first."""
        import pandas as pd

        return pd.Series(self.forest.feature_importances_, self.names).sort_values(
            ascending=False)


def fit_voxel_classifier(cases, seed: int = 0, n_estimators: int = 60, max_depth: int = 14,
                         n_jobs: int = 2) -> VoxelClassifier:
    """Fit the forest on sampled voxels of ``cases`` (deterministic for a given ``seed``)."""
    from sklearn.ensemble import RandomForestClassifier

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    parts = [training_samples(c, rng) for c in cases]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    forest = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                    min_samples_leaf=3, random_state=seed, n_jobs=n_jobs)
    forest.fit(x, y)
    return VoxelClassifier(forest, [c.seed for c in cases], time.perf_counter() - start)


# ------------------------------------------------------------------------- test variants
def reframe(image: sitk.Image, top: int = 6, side: int = 12,
            shift_mm=(40.0, -25.0, 60.0)) -> sitk.Image:
    """The same scan framed like another patient's: ``top`` slices fewer at the head end,
    ``side`` columns fewer at the first x index (the patient's left flank on the virtual
    patients' grid), and the header origin moved by ``shift_mm`` (another table position).

    Apply it to a scan and to its reference mask alike. Anatomy and voxels are unchanged:
    only the framing a method might have memorised differs.
    """
    size = image.GetSize()
    out = image[side:, :, :size[2] - top]
    out.SetOrigin(tuple(float(v) for v in np.add(out.GetOrigin(), shift_mm)))
    return out


def reframe_case(case):
    """A virtual patient's plain scan, reference pancreas and lesion, all :func:`reframe`-d
    (a light stand-in for the case with the fields evaluation needs)."""
    from types import SimpleNamespace

    return SimpleNamespace(plain=reframe(case.plain), pancreas_plain=reframe(
        case.pancreas_plain), lesion_plain=reframe(case.lesion_plain), seed=case.seed,
        subtype=case.subtype, lesion_diameter_mm=case.lesion_diameter_mm)


def as_image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    """A NumPy array ``[z, y, x]`` as a SimpleITK image on ``like``'s grid (bool -> uint8)."""
    array = np.asarray(array)
    image = sitk.GetImageFromArray(array.astype(np.uint8) if array.dtype == bool else array)
    image.CopyInformation(like)
    return image


# Figures live in their own module; re-exported so notebooks can call stage1.show_*.
from .stage1_figures import show_maps, show_outlines  # noqa: E402, F401
