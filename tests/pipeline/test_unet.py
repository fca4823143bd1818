"""The neural-network stage 2 (helpers.pipeline.stage2.unet, notebook 08).

Tests that need PyTorch and MONAI are skipped, with the install command as the reason, when
the optional extra (requirements-deep.txt) is not installed; the tests of the crops, of the
missing-extra message and of the notebook's training code run everywhere.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import pickle
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from scipy import ndimage

from helpers.pipeline import unet_cache
from helpers.pipeline.stage2 import unet, unet_training

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "08_unet_stage2.ipynb"
needs_torch = pytest.mark.skipif(not unet.available(), reason="PyTorch/MONAI not installed "
                                 f"(optional extra): {unet.INSTALL_COMMAND}")
TINY = unet.UNetSettings(channels=(4, 8, 16), epochs=6, batch_size=4, learning_rate=1e-2)


def toy_crops(n: int = 12, seed: int = 0) -> dict:
    """Crops of a toy task (as unet_cache.crop_arrays stores them: raw HU): half the patients
    have a bright 4-voxel cube inside a 'gland'."""
    rng = np.random.default_rng(seed)
    m = TINY.shift_vox
    shape = tuple(s + 2 * m for s in unet.CROP_SHAPE)
    hu = rng.normal(40, 20, (n, 1, *shape)).astype(np.float32)
    pancreas = np.zeros((n, 1, *shape), np.uint8)
    y = np.zeros((n, 1, *shape), np.uint8)
    pancreas[:, 0, 8:20, 10:26, 12:44] = 1
    for i in range(0, n, 2):
        z, r, c = 10 + rng.integers(0, 6), 12 + rng.integers(0, 8), 16 + rng.integers(0, 20)
        hu[i, 0, z:z + 4, r:r + 4, c:c + 4] += 160.0
        y[i, 0, z:z + 4, r:r + 4, c:c + 4] = 1
    return {"hu": hu, "pancreas": pancreas, "y": y, "abnormal": y.reshape(n, -1).any(1)}


# ------------------------------------------------------------------------- without torch
def test_crop_and_uncrop_put_a_box_back_where_it_was():
    volume = np.arange(30 * 40 * 60, dtype=np.float32).reshape(30, 40, 60)
    centre = (3, 20, 58)  # near two edges: the crop is padded there
    box = unet.crop(volume, centre, (8, 12, 16), fill=-1.0)
    assert box.shape == (8, 12, 16) and (box == -1).any()
    back = unet.uncrop(box, centre, volume.shape)
    inside = back != 0
    assert np.array_equal(back[inside], volume[inside])


def test_crop_input_has_two_channels_scaled_to_the_window():
    hu = np.full((30, 101, 122), 1000.0, np.float32)
    gland = np.zeros(hu.shape, bool)
    gland[0:6, 40:60, 40:90] = True  # at the scan's edge: the crop is padded there
    x = unet.crop_input(hu, gland, gland_relative=False)
    assert x.shape == (2, *unet.CROP_SHAPE) and x.dtype == np.float32
    assert x[0].max() == 1.0 and x[0].min() == -1.0  # clipped bone inside, padding outside
    assert set(np.unique(x[1])) == {0.0, 1.0}


def test_gland_relative_input_puts_the_glands_median_at_the_windows_centre():
    rng = np.random.default_rng(0)
    hu = rng.normal(40.0, 15.0, (30, 60, 90)).astype(np.float32)
    gland = np.zeros(hu.shape, bool)
    gland[10:20, 20:40, 20:70] = True
    fatty = hu - 50.0  # the same gland, 50 HU lower everywhere
    lean, fat = unet.crop_input(hu, gland), unet.crop_input(fatty, gland)
    np.testing.assert_allclose(lean, fat, atol=1e-5)  # alike to the network
    inside = lean[1] > 0.5
    assert abs(float(np.median(lean[0][inside]))) < 1e-6  # GLAND_REFERENCE_HU: the centre
    assert not np.allclose(unet.crop_input(hu, gland, gland_relative=False)[0],
                           unet.crop_input(fatty, gland, gland_relative=False)[0])
    assert unet.DEFAULT_SETTINGS.gland_relative


def test_the_notebook_trains_with_the_helpers_code_word_for_word():
    """Notebook 08's training cells are the functions the warm-up ran (no drift)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    defined = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.lstrip().startswith(("def ", "class ", "@")):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    defined[node.name] = ast.dump(node)
    names = ("GlandRelatived", "hu_window", "to_network", "training_transforms",
             "validation_transforms",
             "data_loaders", "validation_loader", "losses", "batch_loss", "train_epoch",
             "evaluate")
    for name in names:
        source = inspect.getsource(getattr(unet_training, name))
        assert defined.get(name) == ast.dump(ast.parse(source).body[0]), name


def test_without_pytorch_detector_unet_names_the_install_command(monkeypatch):
    from helpers.pipeline import default_pipeline

    monkeypatch.setitem(sys.modules, "torch", None)  # importing torch now fails
    unet.deep.cache_clear()
    try:
        with pytest.raises(unet.DeepExtraMissing) as error:
            default_pipeline(98765, detector="unet")
        assert not unet.available()
    finally:
        unet.deep.cache_clear()
    message = str(error.value)
    assert "python3 run.py lab --deep" in message
    assert "python -m pip install -r requirements-deep.txt" in message
    assert isinstance(error.value, ImportError)


def test_an_unknown_detector_is_refused_with_the_choices():
    from helpers.pipeline import default_pipeline

    with pytest.raises(ValueError, match="boosted, unet"):
        default_pipeline(0, detector="cnn")


# ------------------------------------------------------------------------- with torch
@needs_torch
def test_shapes_and_parameter_count():
    net = unet.build_network(unet.UNetSettings())
    torch = unet.deep().torch
    segmentation, logits = unet.forward(net, torch.zeros(3, 2, *unet.CROP_SHAPE))
    assert tuple(segmentation.shape) == (3, 1, *unet.CROP_SHAPE)
    assert tuple(logits.shape) == (3,)
    assert unet.parameter_count(net) == 34836  # the default network of notebook 08
    assert unet.parameter_count(net["head"]) == 32 + 1


@needs_torch
def test_a_tiny_network_trains_in_seconds_its_loss_falls_and_its_validation_dice_rises():
    # 14 epochs: with the augmentations the toy Dice only takes off after about 10
    # (measured: 0.013 at epoch 1, 0.087 at 10, 0.358 at 14; the loss 2.66 -> 1.16)
    settings = dataclasses.replace(TINY, epochs=14)
    net, history = unet_training.fit_network(toy_crops(), toy_crops(8, seed=1), settings,
                                             progress=False)
    assert history["train_loss"][-1] < 0.8 * history["train_loss"][0]
    dice = history["validation_dice"]  # monai.metrics.DiceMetric on the lesion patients
    assert len(dice) == settings.epochs and dice[-1] > 3 * dice[0] and max(dice) > 0.1
    assert history["seconds"] < 60
    assert 0 <= history["best_epoch"] < settings.epochs


@needs_torch
@pytest.mark.filterwarnings("ignore:Num foregrounds 0")  # the healthy patient: as intended
def test_the_transforms_keep_the_lesion_in_positive_crops_and_give_the_network_its_shapes():
    crops = toy_crops(2)  # patient 0 has a lesion, patient 1 none
    chain = unet_training.training_transforms(unet.DEFAULT_SETTINGS)
    chain.set_random_state(seed=0)
    patients = unet_training.patient_dicts(crops)
    for _ in range(12):
        for patient, lesion in zip(patients, (True, False), strict=True):
            (out,) = chain(patient)  # RandCropByPosNegLabeld: a list of one crop
            assert tuple(out["image"].shape) == (2, *unet.CROP_SHAPE)
            assert tuple(out["label"].shape) == (1, *unet.CROP_SHAPE)
            assert set(np.unique(out["image"][1].numpy())) <= {0.0, 1.0}  # nearest: a mask
            assert set(np.unique(out["label"].numpy())) <= {0.0, 1.0}
            assert bool(out["label"].sum() > 0) == lesion  # the lesion stays in the crop
            assert -1.2 <= float(out["image"][0].min()) and float(out["image"][0].max()) <= 1.2
    assert out["abnormal"] == 0.0 and patients[0]["abnormal"] == 1.0


@needs_torch
def test_the_validation_transforms_give_what_prediction_gives():
    """The whole-crop prediction (unet.crop_input) sees what the validation patients did."""
    crops, m = toy_crops(2), unet.DEFAULT_SETTINGS.shift_vox
    hu, gland = crops["hu"][0, 0], crops["pancreas"][0, 0].astype(bool)
    centre = tuple(s // 2 for s in hu.shape)
    for relative in (True, False):
        settings = dataclasses.replace(unet.DEFAULT_SETTINGS, gland_relative=relative)
        out = unet_training.validation_transforms(settings)(
            unet_training.patient_dicts(crops)[0])
        expected = unet.crop_input(hu, gland, centre, gland_relative=relative)
        assert np.allclose(out["image"].numpy(), expected, atol=1e-5)
        assert np.array_equal(out["label"][0].numpy(), crops["y"][0, 0, m:-m, m:-m, m:-m])


@needs_torch
def test_the_same_seed_gives_the_same_weights_and_another_seed_others():
    crops, validation = toy_crops(8), toy_crops(4, seed=1)
    runs = [unet_training.fit_network(crops, validation, dataclasses.replace(TINY, epochs=2,
                                                                             seed=s),
                                      progress=False)[0].state_dict() for s in (0, 0, 1)]
    assert all(np.array_equal(runs[0][k].numpy(), runs[1][k].numpy()) for k in runs[0])
    assert not all(np.array_equal(runs[0][k].numpy(), runs[2][k].numpy()) for k in runs[0])


@needs_torch
def test_the_cache_key_changes_with_every_setting():

    base = unet.UNetSettings()
    keys = {unet_cache.weights_key(base)}
    for change in (dict(epochs=41), dict(seed=1), dict(channels=(8, 16, 64)),
                   dict(learning_rate=1e-3), dict(class_weight=0.25), dict(score="head"),
                   dict(label_source="exact"), dict(shift_vox=1),
                   dict(training_pancreas="reference")):
        keys.add(unet_cache.weights_key(dataclasses.replace(base, **change)))
    assert len(keys) == 10
    assert unet_cache.weights_key(base) == unet_cache.weights_key(unet.UNetSettings())


def tiny_detector():
    net, history = unet_training.fit_network(toy_crops(8), toy_crops(4, seed=1),
                                             dataclasses.replace(TINY, epochs=2),
                                             progress=False)
    return unet.UNetDetector(net, dataclasses.replace(TINY, epochs=2), 0.5,
                             threshold_scores=np.array([0.2, 0.7]),
                             threshold_abnormal=np.array([False, True]), history=history)


@needs_torch
def test_safetensors_round_trip_gives_identical_predictions_and_never_unpickles(
        tmp_path, monkeypatch):

    detector = tiny_detector()
    path = unet_cache.save_detector(tmp_path / "net.safetensors", "key-1", detector)
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header (JSON), not a pickle

    def refuse(*args, **kwargs):
        raise AssertionError("a weights file must never be unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(unet.deep().torch, "load", refuse)
    again = unet_cache.read_detector(path, "key-1")
    crops, m = toy_crops(4, seed=2), TINY.shift_vox
    x = np.concatenate([unet.normalise_hu(crops["hu"]), crops["pancreas"]], axis=1)
    x = x[:, :, m:-m, m:-m, m:-m]
    for a, b in zip(unet.predict_crops(detector.net, x), unet.predict_crops(again.net, x),
                    strict=True):
        assert np.array_equal(a, b)
    assert again.operating_threshold == 0.5 and again.history == detector.history
    with pytest.raises(ValueError, match="other settings"):
        unet_cache.read_detector(path, "key-2")


@needs_torch
def test_a_damaged_weights_file_is_ignored_and_retrained(tmp_path, monkeypatch):

    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    path = unet_cache.weights_path(TINY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a safetensors file")
    trained = []
    with pytest.warns(UserWarning, match="ignoring the cached network"):
        detector = unet_cache.load_or_train(TINY, lambda: trained.append(1) or tiny_detector())
    assert trained and path.is_file()
    assert unet_cache.read_detector(path, unet_cache.weights_key(TINY)).settings == \
        detector.settings


@needs_torch
def test_the_detector_has_stage_2s_interface():
    detector = tiny_detector()
    hu = np.full((30, 101, 122), 40.0, np.float32)
    gland = np.zeros(hu.shape, bool)
    gland[10:20, 40:60, 40:90] = True
    score, lesion, probability = detector.detect(hu, gland)
    assert 0.0 <= score <= 1.0 and lesion.shape == hu.shape == probability.shape
    assert lesion.dtype == bool
    assert not probability[~ndimage.binary_dilation(gland, iterations=2)].any()
    detector.operating_threshold = 1.01  # nothing can pass: no lesion is reported
    assert not detector.detect(hu, gland)[1].any()


@needs_torch
def test_default_pipeline_with_the_network_gives_the_same_result_fields():
    from helpers.pipeline import PipelineResult, default_pipeline
    from helpers.simulate import named_cohort

    case = named_cohort("held-out", 1)[0]
    model = default_pipeline(detector="unet")
    assert isinstance(model.detector, unet.UNetDetector)
    assert model.classifier is default_pipeline().classifier  # stage 3 unchanged
    assert not isinstance(default_pipeline().detector, unet.UNetDetector)
    result = model.predict(case.plain)
    assert isinstance(result, PipelineResult)
    assert 0.0 <= result.score <= 1.0 and result.probability is not None
    assert result.lesion.GetSize() == case.plain.GetSize()
    assert bool(result.subtype_probs) == result.found


# ------------------------------------------------------------------------- the device
@needs_torch
def test_plainct_device_forces_the_cpu(monkeypatch):
    torch = unet.deep().torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # even with a GPU
    for value in ("cpu", " CPU "):
        monkeypatch.setenv("PLAINCT_DEVICE", value)
        assert unet.choose_device() == torch.device("cpu")


@needs_torch
def test_an_unknown_or_unusable_device_is_refused_saying_what_to_do(monkeypatch):
    torch = unet.deep().torch
    monkeypatch.setenv("PLAINCT_DEVICE", "tpu")
    with pytest.raises(unet.DeviceError, match=r"'tpu' is not a device: set it to one of "
                                               r"cpu, cuda, mps, or unset it"):
        unet.choose_device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("PLAINCT_DEVICE", "cuda")
    with pytest.raises(unet.DeviceError, match="cannot use a cuda device.*PLAINCT_DEVICE=cpu"):
        unet.choose_device()
    assert isinstance(unet.DeviceError("x"), ValueError)


@needs_torch
def test_the_device_is_cuda_then_mps_then_the_cpu(monkeypatch):
    torch = unet.deep().torch
    monkeypatch.delenv("PLAINCT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert unet.choose_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert unet.choose_device().type == "mps"  # chosen only: nothing runs on it here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert unet.choose_device().type == "cuda"


@needs_torch
def test_on_the_cpu_nothing_moves_and_the_weights_key_is_the_cpus(monkeypatch):
    """The CPU's numbers are the reference: tensors stay the same objects, and the cached
    weights' key only changes (adding the device) when training would run on a GPU."""
    torch = unet.deep().torch
    net = unet.build_network(TINY)
    x = torch.zeros(1, 2, *unet.CROP_SHAPE)
    assert unet.device_of(net).type == "cpu" and unet.on_device(net, x)[0] is x
    monkeypatch.setenv("PLAINCT_DEVICE", "cpu")
    cpu_key = unet_cache.weights_key(TINY)
    monkeypatch.delenv("PLAINCT_DEVICE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert unet_cache.weights_key(TINY) == cpu_key
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert unet_cache.weights_key(TINY) != cpu_key
