"""The data registry: look-up order, checksums, atomic writes and clear errors."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from toy_cases import HOUR, aged, digest

from helpers import data, dicom
from helpers.data import SAMPLES

SMALL = "totalsegmentator_example_seg"  # 35 kB: quick to copy around
SMALL_FILE = "totalsegmentator_example_seg.nii.gz"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PLAINCT_DATA", str(cache))
    monkeypatch.setenv("PLAINCT_OFFLINE", "1")
    return cache


@pytest.fixture
def own_mirror(tmp_path, mirror, monkeypatch):
    """A private copy of part of the mirror that a test may damage."""
    copy = tmp_path / "mirror"
    copy.mkdir()
    for name in (SMALL_FILE, "totalsegmentator_example_ct_sm.nii.gz"):
        shutil.copy(mirror / name, copy / name)
    monkeypatch.setenv("PLAINCT_MIRROR", str(copy))
    return copy


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".part") or "write-test" in p.name]


def test_unknown_sample_lists_the_known_ones():
    with pytest.raises(data.UnknownSampleError) as info:
        data.fetch("pancreas_atlas")
    message = str(info.value)
    assert "pancreas_atlas" in message
    assert all(name in message for name in SAMPLES)


def test_fetch_copies_from_mirror_and_verifies(empty_cache, mirror):
    path = data.fetch(SMALL)
    assert path == empty_cache / SMALL_FILE
    assert data.sha256_of(path) == SAMPLES[SMALL].files[0].sha256
    assert leftovers(empty_cache) == []


def test_dicom_series_is_one_sample_returned_as_a_folder(empty_cache, mirror):
    folder = data.fetch("totalsegmentator_example_ct_dicom")
    assert folder.is_dir() and len(list(folder.glob("*.dcm"))) == 20


def test_load_ct_gives_hounsfield_units_and_load_labels_the_table(empty_cache, mirror):
    ct = data.load_ct("totalsegmentator_example_ct_sm")
    labels, names = data.load_labels()
    assert ct.GetPixelID() == sitk.sitkFloat32 and ct.GetSize() == (122, 101, 30)
    hu = sitk.GetArrayViewFromImage(ct)
    assert -1100 <= hu.min() < -900 and hu.max() > 700  # air ... bone, in HU
    assert labels.GetSize() == ct.GetSize() and names[7] == "pancreas" and len(names) == 117
    assert int((sitk.GetArrayViewFromImage(labels) == 7).sum()) == 644


def test_ct_small_needs_no_download(empty_cache, monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    path = data.fetch("pydicom_ct_small")
    assert path.name == "CT_small.dcm" and not empty_cache.exists()
    assert data.load_ct("pydicom_ct_small").GetSize() == (128, 128, 1)


def test_label_table_is_rebuilt_byte_for_byte_without_mirror(empty_cache, monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    path = data.fetch("totalsegmentator_total_labels")
    assert data.sha256_of(path) == SAMPLES["totalsegmentator_total_labels"].files[0].sha256


def test_damaged_cache_file_is_refused_and_replaced_from_mirror(empty_cache, own_mirror):
    good = data.fetch(SMALL)
    good.write_bytes(b"not a nifti file")
    with pytest.warns(UserWarning, match=SMALL_FILE):
        again = data.fetch(SMALL)
    assert data.sha256_of(again) == SAMPLES[SMALL].files[0].sha256


def test_damaged_cache_file_with_no_source_names_file_and_fix(empty_cache, monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    empty_cache.mkdir(parents=True)
    (empty_cache / SMALL_FILE).write_bytes(b"damaged")
    with pytest.warns(UserWarning), pytest.raises(data.DataError) as info:
        data.fetch(SMALL)
    message = str(info.value)
    assert SMALL_FILE in message and "does not match its SHA-256" in message
    assert "prefetch" in message and "PLAINCT_MIRROR" in message
    assert not (empty_cache / SMALL_FILE).exists()  # not used again under its name ...
    (aside,) = empty_cache.glob(f"{SMALL_FILE}.corrupt-*")  # ... but not deleted either
    assert aside.read_bytes() == b"damaged" and "kept aside" in message


def test_mirror_missing_a_file_is_named(empty_cache, own_mirror):
    (own_mirror / SMALL_FILE).unlink()
    with pytest.raises(data.DataError, match=f"has no file {SMALL_FILE}"):
        data.fetch(SMALL)


def test_damaged_mirror_file_is_refused_and_left_untouched(empty_cache, own_mirror):
    damaged = own_mirror / SMALL_FILE
    damaged.write_bytes(b"corrupted copy")
    before = (damaged.read_bytes(), damaged.stat().st_mtime_ns)
    with pytest.raises(data.DataError, match="left untouched"):
        data.fetch(SMALL)
    assert (damaged.read_bytes(), damaged.stat().st_mtime_ns) == before
    assert not (empty_cache / SMALL_FILE).exists() and leftovers(empty_cache) == []


def test_mirror_path_that_does_not_exist(empty_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAINCT_MIRROR", str(tmp_path / "no-such-folder"))
    with pytest.raises(data.DataError, match="not an existing folder"):
        data.fetch(SMALL)


def test_no_network_and_no_mirror_says_how_to_fix(empty_cache, monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    monkeypatch.setenv("PLAINCT_OFFLINE", "0")

    def no_network(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr("pooch.retrieve", no_network)
    with pytest.raises(data.DataError) as info:
        data.fetch(SMALL)
    message = str(info.value)
    assert "ConnectionError" in message and "raw.githubusercontent.com" in message
    assert "python3 run.py prefetch" in message and "PLAINCT_MIRROR" in message
    assert "python -m" not in message  # the project's own command, not a module's


def test_cache_folder_that_is_not_writable(tmp_path, mirror, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("PLAINCT_DATA", str(blocker / "cache"))
    with pytest.raises(data.DataError, match="not writable.*PLAINCT_DATA"):
        data.fetch(SMALL)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write to read-only folders")
def test_read_only_cache_folder(tmp_path, mirror, monkeypatch):
    cache = tmp_path / "readonly"
    cache.mkdir()
    cache.chmod(0o555)
    monkeypatch.setenv("PLAINCT_DATA", str(cache))
    with pytest.raises(data.DataError, match="not writable"):
        data.fetch(SMALL)


@pytest.fixture
def served_mirror(own_mirror, monkeypatch):
    """Serve the private mirror over HTTP on loopback, like a teacher on the class network."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(own_mirror))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PLAINCT_MIRROR", f"http://127.0.0.1:{server.server_port}/")
    yield own_mirror
    server.shutdown()


def test_url_mirror_downloads_with_pooch(empty_cache, served_mirror):
    path = data.fetch(SMALL)
    assert data.sha256_of(path) == SAMPLES[SMALL].files[0].sha256


def test_download_with_wrong_checksum_leaves_no_partial_file(empty_cache, served_mirror):
    (served_mirror / SMALL_FILE).write_bytes(b"tampered on the server")
    with pytest.raises(data.DataError, match="did not match its SHA-256"):
        data.fetch(SMALL)
    assert not (empty_cache / SMALL_FILE).exists() and leftovers(empty_cache) == []


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "helpers.data", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_verify_passes_with_the_mirror(tmp_path, mirror):
    env = {**os.environ, "PLAINCT_DATA": str(tmp_path / "c"), "PLAINCT_MIRROR": str(mirror)}
    result = run_cli("verify", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s)" in result.stdout


def test_verify_writes_nothing(tmp_path, own_mirror, monkeypatch):
    monkeypatch.setenv("PLAINCT_DATA", str(tmp_path / "untouched"))
    problems = data.verify()
    assert problems and not (tmp_path / "untouched").exists()


def test_verify_reports_a_line_per_problem(tmp_path, own_mirror):
    env = {**os.environ, "PLAINCT_DATA": str(tmp_path / "c"), "PLAINCT_MIRROR": str(own_mirror)}
    result = run_cli("verify", env=env)
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    present = {p.name for p in own_mirror.iterdir()}
    missing = [s for s in SAMPLES.values() if s.kind not in ("table", "dicom-file")
               and not {f.path for f in s.files} <= present]
    assert result.returncode == 1 and len(problems) == len(missing), problems
    assert "python3 run.py prefetch" in result.stdout and "PLAINCT_MIRROR" in result.stdout


def test_verify_with_nothing_present_is_short_and_says_how_to_fix(tmp_path):
    env = {**os.environ, "PLAINCT_DATA": str(tmp_path / "empty")}
    env.pop("PLAINCT_MIRROR", None)
    result = run_cli("verify", env=env)
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    downloadable = [s for s in SAMPLES.values() if s.kind not in ("table", "dicom-file")]
    assert result.returncode == 1 and len(problems) == len(downloadable)
    assert all("no mirror is set" in line for line in problems)
    assert "python3 run.py prefetch" in result.stdout and "PLAINCT_MIRROR" in result.stdout


def test_prefetch_fills_the_cache(tmp_path, mirror):
    env = {**os.environ, "PLAINCT_DATA": str(tmp_path / "c"), "PLAINCT_MIRROR": str(mirror)}
    result = run_cli("prefetch", env=env)
    assert result.returncode == 0, result.stderr
    files = [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert len(files) == sum(len(s.files) for s in SAMPLES.values()) - 1  # CT_small is bundled
    sums = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert sums == {f.sha256 for s in SAMPLES.values() for f in s.files if s.kind != "dicom-file"}


def test_registry_matches_the_mirror_checksums(mirror):
    listed = {}
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        sha, name = line.split()
        listed[name.removeprefix("./")] = sha
    ours = {f.path: f.sha256 for s in SAMPLES.values() for f in s.files if s.kind != "dicom-file"}
    assert ours == listed


def test_fetched_ct_is_the_real_scan(empty_cache, mirror):
    hu = sitk.GetArrayFromImage(data.load_ct("totalsegmentator_example_ct_sm"))
    fat_and_air = np.mean(hu < -200)
    assert 0.2 < fat_and_air < 0.7  # a body in air, not noise


def test_a_full_disk_while_fetching_names_the_folder_the_space_and_what_to_do(
        empty_cache, mirror, monkeypatch):
    """ENOSPC simulated by patching the copy's write: a clear DataError, nothing partial."""
    import errno

    def full_disk(source, out, *args, **kwargs):
        out.write(source.read(10_000))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full_disk)
    with pytest.raises(data.DataError) as caught:
        data.fetch(SMALL)
    message = str(caught.value)
    size = (mirror / SMALL_FILE).stat().st_size
    assert message.startswith(f"the disk holding {empty_cache} is full (no space left on "
                              f"device) while writing {SMALL_FILE}: this step needs about "
                              f"{size / 1024:.0f} kB, and ")
    assert "python3 run.py clean" in message and "PLAINCT_DATA" in message
    assert "writable" not in message and "No space left" not in message.split(":")[0]
    assert not (empty_cache / SMALL_FILE).exists() and leftovers(empty_cache) == []


# ------------------------------------------------- killed fetches, damaged files (issue 20)

@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A user's own PLAINCT_DATA folder, empty; no downloads."""
    folder = tmp_path / "my-data"
    folder.mkdir()
    monkeypatch.setenv("PLAINCT_DATA", str(folder))
    monkeypatch.setenv("PLAINCT_OFFLINE", "1")
    return folder


def test_killed_fetches_leave_nothing_behind_for_long(own_cache, mirror, monkeypatch):
    monkeypatch.setenv("PLAINCT_MIRROR", str(mirror))
    stale_file = own_cache / f".{SMALL_FILE}.k3x9_q2z.part"  # a killed copy's temporary
    stale_file.write_bytes(b"half a file")
    aged(stale_file, 2 * HOUR)
    stale_dir = own_cache / f".{SMALL_FILE}.ab12cd34.part"  # a killed download's folder
    stale_dir.mkdir()
    (stale_dir / "tmpq1w2e3r4").write_bytes(b"half a download")
    aged(stale_dir, 2 * HOUR)
    probe = own_cache / ".write-test-zz99yy88"
    probe.write_bytes(b"")
    aged(probe, 2 * HOUR)
    running = own_cache / ".other.nii.gz.fresh123.part"  # another fetch, still running
    running.write_bytes(b"being written")
    mine = [own_cache / "results.part", own_cache / ".notes.abcdefgh.txt"]  # the user's
    for path in mine:
        path.write_text("my own work")
        aged(path, 2 * HOUR)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mine + [running]}
    data.fetch(SMALL)
    left = {p.name for p in own_cache.iterdir()}
    assert left == {SMALL_FILE, running.name} | {p.name for p in mine}
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in mine + [running]}


def test_a_corrupted_file_with_no_replacement_is_kept_aside_not_deleted(own_cache,
                                                                       monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    damaged = own_cache / SMALL_FILE
    damaged.write_bytes(b"my only copy, a little damaged")
    before = hashlib.sha256(damaged.read_bytes()).hexdigest()
    with pytest.warns(UserWarning, match="does not match its SHA-256"), \
            pytest.raises(data.DataError) as caught:
        data.fetch(SMALL)
    (aside,) = own_cache.glob(f"{SMALL_FILE}.corrupt-*")
    message = str(caught.value)
    assert "was not deleted: it was kept aside as" in message and str(aside) in message
    assert "python3 run.py prefetch" in message  # the data fix, in the project's words
    assert hashlib.sha256(aside.read_bytes()).hexdigest() == before
    assert not damaged.exists()  # never used again under its real name


def test_a_corrupted_file_is_replaced_when_a_good_copy_can_be_had(own_cache, mirror,
                                                                  monkeypatch):
    monkeypatch.setenv("PLAINCT_MIRROR", str(mirror))
    (own_cache / SMALL_FILE).write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="a good copy will replace it"):
        path = data.fetch(SMALL)
    assert data.sha256_of(path) == SAMPLES[SMALL].files[0].sha256
    assert [p.name for p in own_cache.iterdir()] == [SMALL_FILE]


@pytest.mark.parametrize("where", [3, -1], ids=["middle", "last"])
def test_a_corrupted_slice_of_the_cached_series_is_kept_aside_and_never_silently_missing(
        own_cache, real_series, monkeypatch, where):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    folder = own_cache / real_series.name
    shutil.copytree(real_series, folder)
    victim = sorted(folder.iterdir())[where]
    victim.write_bytes(victim.read_bytes()[:-10])
    damaged = hashlib.sha256(victim.read_bytes()).hexdigest()
    with pytest.warns(UserWarning), pytest.raises(data.DataError, match="kept aside"):
        data.fetch("totalsegmentator_example_ct_dicom")
    (aside,) = folder.glob(f".{victim.name}.corrupt-*")  # hidden, renamed, not deleted
    assert hashlib.sha256(aside.read_bytes()).hexdigest() == damaged and not victim.exists()
    before = digest(folder)
    # Read directly, the series would be one slice short (at the end, with no gap to see):
    # the kept-aside file is named instead.
    with pytest.raises(dicom.CorruptFileError) as caught:
        dicom.read_series(folder)
    message = str(caught.value)
    assert message.startswith(f"{victim.name} of this series was damaged and is kept aside as "
                              f"{aside.name}")
    assert "series lacks it" in message and "python3 run.py prefetch" in message
    assert caught.value.path == aside and digest(folder) == before
    shutil.copy(real_series / victim.name, victim)  # a good copy is back: the series reads
    assert dicom.read_series(folder).GetSize() == (512, 512, 20) and aside.exists()


def test_a_corrupted_file_that_cannot_be_renamed_is_left_in_place(own_cache, monkeypatch):
    monkeypatch.delenv("PLAINCT_MIRROR", raising=False)
    damaged = own_cache / SMALL_FILE
    damaged.write_bytes(b"damaged, on a read-only disk")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.warns(UserWarning), pytest.raises(data.DataError) as caught:
        data.fetch(SMALL)
    assert "could not be kept aside (Permission denied)" in str(caught.value)
    assert "left in place" in str(caught.value)
    assert damaged.read_bytes() == b"damaged, on a read-only disk"
