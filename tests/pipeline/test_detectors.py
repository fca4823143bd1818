"""Stage 2's seam (helpers.pipeline.detectors): the interface both detectors have, and the
registry a third detector joins with one entry, shown with a cheap dummy that flows through
the default pipeline, the warm-up and notebook 07's end-to-end table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage
from toy_cases import arr, small_voxel_model, toy_case  # noqa: F401 (small_voxel_model: autouse)

from helpers import pipeline
from helpers.pipeline import chain, default, detectors, end_to_end, warmup
from helpers.pipeline.stage2 import boosted, unet


@dataclass
class BrightSpot:
    """A dummy stage 2: P(lesion) grows with how much brighter than the gland's median the
    (3-voxel mean) HU inside the pancreas is: 1 at 35 HU brighter (a toy cyst)."""

    operating_threshold: float = 0.5
    voxel_threshold: float = 0.5
    threshold_scores: np.ndarray | None = None
    threshold_abnormal: np.ndarray | None = None

    def probability_map(self, hu, pancreas):
        smooth = ndimage.uniform_filter(hu, 3)
        bright = np.clip((smooth - np.median(hu[pancreas])) / 35.0, 0.0, 1.0)
        return np.where(pancreas, bright, 0.0).astype(np.float32)

    def detect(self, hu, pancreas):
        probability = self.probability_map(hu, pancreas)
        score = float(probability.max())
        lesion = ((probability >= self.voxel_threshold) if score >= self.operating_threshold
                  else np.zeros(hu.shape, bool))
        return score, lesion, probability


def toy_stage1(scan, method="atlas"):
    """Stage 1 for toy scans: the soft tissue (the toy gland at -10 HU, fat at -100)."""
    return sitk.Cast(scan > -55, sitk.sitkUInt8)


@pytest.fixture
def dummy(toy_pipeline, monkeypatch):
    """A registered "dummy" detector (removed afterwards); the default pipeline's own fit is
    the toy pipeline, the network counts as not installed. Yields a record of its calls."""
    calls = {"built": [], "warmed": []}
    entry = detectors.DetectorEntry(
        "HU bar (test)", build=lambda seed: calls["built"].append(seed) or BrightSpot(),
        warmup=("the dummy's cache", lambda progress: calls["warmed"].append(progress)))
    monkeypatch.setattr(default, "make_pipeline", lambda seed=0, **settings: toy_pipeline)
    monkeypatch.setattr(unet, "available", lambda: False)
    monkeypatch.setattr(chain, "segment_pancreas", toy_stage1)
    default.fitted_default.cache_clear()
    detectors.register("dummy", entry)
    try:
        yield calls
    finally:
        detectors.unregister("dummy")
        default.fitted_default.cache_clear()


def test_both_real_detectors_have_the_interface():
    assert isinstance(boosted.Detector(None, 0.5, 0.5), detectors.StageTwoDetector)
    assert isinstance(unet.UNetDetector(None, unet.DEFAULT_SETTINGS, 0.5),
                      detectors.StageTwoDetector)
    assert isinstance(BrightSpot(), detectors.StageTwoDetector)
    assert not isinstance(object(), detectors.StageTwoDetector)


def test_the_built_in_registry_is_the_boosted_default_and_the_network():
    assert detectors.detector_names()[:2] == ("boosted", "unet") == (detectors.DEFAULT, "unet")
    assert detectors.get("boosted").build is None  # fitted by make_pipeline itself
    network = detectors.get("unet")
    assert network.label == "neural network (notebook 08)"
    assert unet.INSTALL_COMMAND in network.missing and network.warmup


def test_an_unknown_name_is_refused_with_the_known_ones(dummy):
    for call in (detectors.get, lambda name: pipeline.default_pipeline(0, name)):
        with pytest.raises(ValueError, match="choose one of boosted, unet, dummy"):
            call("cnn")


def test_a_registered_detector_flows_through_the_default_pipeline(dummy, toy_pipeline):
    model = pipeline.default_pipeline(3, "dummy")
    assert isinstance(model.detector, BrightSpot) and dummy["built"] == [3]
    assert model.classifier is toy_pipeline.classifier  # stages 1 and 3: the default's
    assert pipeline.default_pipeline(3, "dummy") is model  # fitted once per process
    case = toy_case(71, "cyst")
    result = model.predict(case.plain, case.pancreas_plain)
    assert result.found and (arr(result.lesion) & arr(case.lesion_plain)).any()


def test_a_registered_detector_gets_its_warm_up_step_and_its_table_row(dummy, toy_pipeline):
    steps = dict(warmup.warmup_steps(progress=False))
    assert "the dummy's cache" in steps and not any("network" in name for name in steps)
    steps["the dummy's cache"]()
    assert dummy["warmed"] == [False]
    cases = [toy_case(70 + i, kind) for i, kind in enumerate((None, "cyst", None))]
    rows = {row["stage 2"]: row for row in end_to_end.end_to_end_rows(cases)}
    assert list(rows) == ["boosted features (default)", "neural network (notebook 08)",
                          "HU bar (test)"]
    assert rows["HU bar (test)"]["lesions found in place"] == "1 of 1"
    assert rows["neural network (notebook 08)"]["lesions found in place"].startswith("not run")


def test_a_detector_that_cannot_run_says_what_to_install(toy_pipeline, monkeypatch):
    entry = detectors.DetectorEntry("needs an extra", build=lambda seed: BrightSpot(),
                                    available=lambda: False, missing="pip install nothing",
                                    warmup=("never", lambda progress: None))
    monkeypatch.setattr(unet, "available", lambda: False)
    monkeypatch.setattr(chain, "segment_pancreas", toy_stage1)
    detectors.register("extra", entry)
    try:
        with pytest.raises(detectors.DetectorUnavailable, match="pip install nothing"):
            pipeline.default_pipeline(0, "extra")
        assert "never" not in dict(warmup.warmup_steps(progress=False))
        monkeypatch.setattr(end_to_end, "default_pipeline", lambda seed=0, name="boosted": (
            toy_pipeline))
        last = end_to_end.end_to_end_rows([toy_case(72, "cyst")])[-1]
        assert last == {"stage 2": "needs an extra",
                        "lesions found in place": "not run: pip install nothing"}
    finally:
        detectors.unregister("extra")


def test_register_refuses_a_taken_name_or_no_builder_and_keeps_the_built_ins():
    with pytest.raises(ValueError, match="already registered"):
        detectors.register("unet", detectors.DetectorEntry("again", build=lambda seed: None))
    with pytest.raises(ValueError, match="build"):
        detectors.register("lazy", detectors.DetectorEntry("no builder", build=None))
    with pytest.raises(ValueError, match="built in"):
        detectors.unregister("boosted")
    assert "lazy" not in detectors.detector_names()
