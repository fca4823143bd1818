"""helpers.cache: the one on-disk cache (keyed, atomic, never unpickles)."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toy_cases import HOUR, aged

from helpers import cache

ROOT = Path(__file__).resolve().parents[1]


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


# ------------------------------------------------------------------ damaged files (issue 33)

def _random_file(path):
    """A cache file whose compressed members are well over 12 KiB (random numbers)."""
    arrays = {"x": np.random.default_rng(0).normal(size=20_000), "y": np.arange(3)}
    cache.write_arrays(path, "k", arrays)
    return arrays


def _tear(path):
    """Zero 4 KiB inside the file, keeping its size (a torn block, as a bad disk leaves)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(4096)
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _not_a_zip(path):
    path.write_bytes(b"\x00" * 5000)


def _wrong_key_dtype(path):
    np.savez_compressed(path, key=np.int64(7), x=np.zeros(3))


def _structured(path):
    np.savez_compressed(path, key=np.str_("k"), x=np.zeros(2, dtype=[("a", "i4")]), y=np.arange(3))


@pytest.mark.parametrize("damage", [_tear, _truncate, _not_a_zip, _wrong_key_dtype, _structured],
                         ids=["torn-4KiB", "truncated", "not-a-zip", "key-dtype", "structured"])
def test_every_read_failure_is_one_kind_and_the_file_is_kept_aside_and_rebuilt(tmp_path,
                                                                               damage):
    path = tmp_path / "thing.npz"
    _random_file(path)
    size = path.stat().st_size
    damage(path)
    if damage is _tear:
        assert path.stat().st_size == size  # torn inside, not shorter
    damaged = path.read_bytes()
    with pytest.raises(cache.DamagedCacheFile):
        cache.read_arrays(path, "k")
    calls = []

    def build():
        calls.append(1)
        return {"x": np.ones(2)}

    with pytest.warns(UserWarning, match=r"ignoring the thing thing\.npz: it is damaged \(.*\); "
                                         r"it was kept aside as thing\.npz\.corrupt-.*rebuilding"):
        found = cache.load_or_build(path, "k", build, what="thing")
    assert calls == [1] and found["x"].tolist() == [1, 1]
    (aside,) = tmp_path.glob("thing.npz.corrupt-*")
    assert aside.read_bytes() == damaged  # kept as it was, never deleted
    assert cache.read_arrays(path, "k")["x"].tolist() == [1, 1]  # rebuilt and stored


def test_the_torn_file_of_the_issue_raised_a_bare_zlib_error_before(tmp_path):
    path = tmp_path / "thing.npz"
    _random_file(path)
    _tear(path)
    with pytest.raises(cache.DamagedCacheFile, match=r"^torn or truncated, zlib\.error: Error "
                                                     r"-3 while decompressing data"):
        cache.read_arrays(path, "k")


def test_a_missing_member_is_damage_too(tmp_path):
    path = tmp_path / "thing.npz"
    cache.write_arrays(path, "k", {"x": np.zeros(2)})
    with pytest.raises(cache.DamagedCacheFile, match="member"):
        cache.read_arrays(path, "k", names=["x", "y"])
    with pytest.warns(UserWarning, match="it is damaged"):
        cache.load_or_build(path, "k", lambda: {"x": np.zeros(2), "y": np.ones(1)},
                            from_arrays=lambda arrays: (arrays["x"], arrays["y"]))
    assert len(list(tmp_path.glob("thing.npz.corrupt-*"))) == 1


def test_a_file_of_other_settings_is_not_damage(tmp_path):
    path = tmp_path / "thing.npz"
    cache.write_arrays(path, "other", {"x": np.zeros(2)})
    with pytest.raises(cache.OtherSettingsError):
        cache.read_arrays(path, "mine")
    with pytest.warns(UserWarning, match="other settings"):
        cache.load_or_build(path, "mine", lambda: {"x": np.ones(2)})
    assert not list(tmp_path.glob("*.corrupt-*"))


# ------------------------------------------------------------------ a full disk (issue 33)

def _disk_full_after_some_bytes(handle, *args, **kwargs):
    handle.write(b"x" * 3000)
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_names_the_folder_the_space_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez_compressed", _disk_full_after_some_bytes)
    folder = tmp_path / "sub"
    with pytest.warns(UserWarning) as caught:
        found = cache.load_or_build(folder / "x.npz", "k", lambda: {"x": np.ones(1000)},
                                    what="cached case")
    assert found["x"].shape == (1000,)  # the result is still used
    (message,) = [str(w.message) for w in caught]
    assert f"the disk holding {folder} is full" in message
    assert "up to 8 kB (the arrays before compression)" in message and "are free there" in message
    assert "python3 run.py clean" in message and "PLAINCT_DATA" in message
    assert "writable folder" not in message  # the advice for a read-only folder is wrong here
    assert list(folder.iterdir()) == []  # nothing partial was left
    with pytest.raises(cache.DiskFullError, match="more than the 3 kB written") as direct:
        cache.atomic_write(folder / "y.bin", lambda h: _disk_full_after_some_bytes(h))
    assert direct.value.errno == errno.ENOSPC and list(folder.iterdir()) == []


# ------------------------------------------------------------------ killed writes (issue 20)

def test_the_array_cache_cleans_up_its_stale_temporary_files(tmp_path):
    stale = tmp_path / ".thing.npz.a1b2c3d4.part"
    stale.write_bytes(b"killed")
    aged(stale, 2 * HOUR)
    fresh = tmp_path / ".thing.npz.e5f6g7h8.part"
    fresh.write_bytes(b"being written right now")
    cache.load_or_build(tmp_path / "thing.npz", "k", lambda: {"x": np.ones(2)})
    assert {p.name for p in tmp_path.iterdir()} == {"thing.npz", fresh.name}
    assert cache.clean_stale_parts(tmp_path, max_age_s=0.0) == [fresh]


def test_the_memo_keeps_the_most_recent_values_up_to_its_limit():
    memo = cache.Memo(2)
    built = []
    for key in ("a", "b", "a", "c", "b"):
        memo.get(key, lambda key=key: built.append(key) or key.upper())
    # "a" was used again before "c" came, so "b" was the oldest and went; "b" is rebuilt
    assert built == ["a", "b", "c", "b"] and "a" not in memo and "c" in memo
    assert memo.get("c") == "C"
    with pytest.raises(KeyError):
        memo.get("a")
    memo.clear()
    assert "c" not in memo


WRITER = """
import sys
import numpy as np
from helpers import cache
arrays = {"a": np.random.default_rng(0).standard_normal(1_500_000)}  # 12 MB: a slow write
for _ in range(4):
    cache.write_arrays(sys.argv[1], "k", arrays)
"""


def test_two_processes_writing_one_entry_never_let_a_reader_see_a_partial_file(tmp_path):
    """Two writers store the same entry over and over while this process reads it as often
    as it can: every read finds the whole file (the writes go to a temporary file renamed
    into place), and no temporary file is left."""
    path = tmp_path / "entry.npz"
    expected = np.random.default_rng(0).standard_normal(1_500_000)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT)
               for _ in range(2)]
    reads = 0
    while any(w.poll() is None for w in writers):
        if path.exists():
            np.testing.assert_array_equal(cache.read_arrays(path, "k")["a"], expected)
            reads += 1
    assert [w.returncode for w in writers] == [0, 0]
    np.testing.assert_array_equal(cache.read_arrays(path, "k")["a"], expected)
    assert reads >= 1  # the reader did overlap the writers
    assert [p.name for p in tmp_path.iterdir()] == ["entry.npz"]  # no .part left behind
