"""helpers.cache: the one on-disk cache (keyed, atomic, never unpickles)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import cache


def test_settings_key_hashes_every_setting_and_ignores_their_order():
    key = cache.settings_key({"a": 1, "b": [1, 2]})
    assert key == cache.settings_key({"b": [1, 2], "a": 1}) and len(key) == 64
    assert key != cache.settings_key({"a": 1, "b": [1, 3]})


def test_build_once_then_read_back(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"x": np.arange(5), "names": np.array(["a", "b"])}

    path = tmp_path / "sub" / "thing.npz"
    first = cache.load_or_build(path, "k1", build)
    second = cache.load_or_build(path, "k1", build)
    assert len(calls) == 1 and path.is_file()
    np.testing.assert_array_equal(first["x"], second["x"])
    assert list(second["names"]) == ["a", "b"]
    cache.load_or_build(path, "k1", build, use_cache=False)
    assert len(calls) == 2


def test_a_file_of_other_settings_or_damaged_or_pickled_is_rebuilt(tmp_path):
    path = tmp_path / "thing.npz"
    cache.write_arrays(path, "other", {"x": np.zeros(2)})
    with pytest.warns(UserWarning, match=r"ignoring the thing thing\.npz \(it was made with"):
        found = cache.load_or_build(path, "mine", lambda: {"x": np.ones(2)}, what="thing")
    np.testing.assert_array_equal(found["x"], 1)
    assert cache.read_arrays(path, "mine")["x"].tolist() == [1, 1]  # replaced
    for bad in (b"not a zip file", None):
        if bad is None:
            np.savez(path, key=np.array([{"a": 1}], dtype=object))  # needs a pickle to read
        else:
            path.write_bytes(bad)
        with pytest.warns(UserWarning, match="ignoring"):
            cache.load_or_build(path, "mine", lambda: {"x": np.ones(2)})


def test_from_arrays_may_refuse_arrays_that_do_not_fit(tmp_path):
    path = tmp_path / "t.npz"
    cache.write_arrays(path, "k", {"x": np.zeros(3)})

    def strict(arrays):
        if len(arrays["x"]) != 4:
            raise ValueError("its arrays do not fit together")
        return arrays

    with pytest.warns(UserWarning, match="do not fit together"):
        cache.load_or_build(path, "k", lambda: {"x": np.zeros(4)}, from_arrays=strict)


def test_an_interrupted_write_leaves_nothing_under_the_real_name(tmp_path):
    target = tmp_path / "file.bin"

    def half_then_fail(handle):
        handle.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cache.atomic_write(target, half_then_fail)
    assert list(tmp_path.iterdir()) == []

    def refuse(_tmp):
        raise ValueError("checksum mismatch")

    with pytest.raises(ValueError):
        cache.atomic_write(target, lambda h: h.write(b"data"), check=refuse)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_only_costs_the_speed_up(tmp_path, monkeypatch):
    def no_disk(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr(cache, "write_arrays", no_disk)
    with pytest.warns(UserWarning, match="could not write"):
        found = cache.load_or_build(tmp_path / "x.npz", "k", lambda: {"x": np.ones(1)})
    assert found["x"][0] == 1


def test_the_cache_folder_follows_plainct_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path))
    assert cache.cache_dir() == tmp_path
    monkeypatch.delenv("PLAINCT_DATA")
    assert cache.cache_dir().parts[-2:] == ("data_samples", "cache")


def test_the_key_name_is_reserved(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        cache.write_arrays(tmp_path / "x.npz", "k", {"key": np.zeros(1)})
