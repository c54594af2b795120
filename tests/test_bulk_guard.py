"""Bulk never loses an original: what it may write is settled before any photo (never onto a
source, never out of DST, never over a file it did not write), one run per DST, bounded
reads, a per-photo time limit, stale outputs dropped, killed runs' rows reported again.
No Ray here: the listing, the guard and one actor's photo logic are called directly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow", reason="the bulk extra (ray[data]) is not installed")
import pyarrow.parquet as pq

from infoscrub.bulk.guard import DstLock, check_outputs
from infoscrub.bulk.records import STATE, done_record, mark_finished
from infoscrub.bulk.report import drop_unfinished_reports, reported_runs
from infoscrub.bulk.sources import list_sources
from infoscrub.bulk.time_limit import time_limit
from infoscrub.storage.files import read_bytes
from infoscrub.errors import InfoscrubError


def photos(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"original " + name.encode())
    return folder


def manifest(path: Path, paths: list[str]) -> Path:
    pq.write_table(pa.table({"path": paths}), path)
    return path


# ---- listing: one row per output, every spelling normalised


def test_dot_slash_double_slash_and_duplicate_rows_are_one_photo(tmp_path):
    photos(tmp_path, "a.jpg", "sub/b.jpg")
    listing = list_sources(manifest(tmp_path / "m.parquet", ["./a.jpg", "a.jpg", "sub//b.jpg", "./sub/./b.jpg",
                                                             f"{tmp_path}/a.jpg"]))
    assert listing.column("relative").to_pylist() == ["a.jpg", "sub/b.jpg", str(tmp_path / "a.jpg").lstrip("/")]
    assert listing.column("source").to_pylist()[:2] == [str(tmp_path / "a.jpg"), str(tmp_path / "sub/b.jpg")]


@pytest.mark.parametrize("path", ["./.infoscrub/done/x.jpg", ".infoscrub//x.jpg", "/.infoscrub/x.jpg"])
def test_every_spelling_of_our_records_folder_is_refused(tmp_path, path):
    with pytest.raises(InfoscrubError, match="records"):
        list_sources(manifest(tmp_path / "m.parquet", [path]))


def test_two_photos_landing_on_one_output_are_refused(tmp_path):
    (tmp_path / "m").mkdir()
    rows = ["x/a.jpg", "/x/a.jpg"]  # relative x/a.jpg and the absolute /x/a.jpg both mirror to x/a.jpg
    with pytest.raises(InfoscrubError, match="would both be written to x/a.jpg"):
        list_sources(manifest(tmp_path / "m" / "m.parquet", rows))


def test_non_utf8_file_names_are_listed_and_shown(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.jpg"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    listing = list_sources(tmp_path)
    assert listing.column("relative").to_pylist() == ["caf\\xe9.jpg"]  # valid UTF-8 for the report
    assert listing.column("relative_fs").to_pylist() == [b"caf\xe9.jpg"]  # the real name, to open
    assert listing.column("source_fs").to_pylist() == [raw]


# ---- the guard: never onto a source, never out of DST, never over a file it did not write


def test_a_manifest_in_the_folder_it_lists_with_dst_that_folder_is_refused(tmp_path):
    folder = photos(tmp_path / "photos", "a.jpg", "b.jpg")
    listing = list_sources(manifest(folder / "list.parquet", ["a.jpg", "b.jpg"]))
    with pytest.raises(InfoscrubError, match="is the source photo .*2 such"):
        check_outputs(listing, folder)
    with pytest.raises(InfoscrubError, match="source photo"):
        check_outputs(listing, folder, force=True)  # not even with --force
    assert (folder / "a.jpg").read_bytes() == b"original a.jpg"


@pytest.mark.parametrize("spelling", ["relative", "absolute", "dotted", "symlink"])
def test_dst_naming_the_photos_folder_any_way_is_refused(tmp_path, spelling):
    folder = photos(tmp_path / "photos", "a.jpg")
    (tmp_path / "link").symlink_to(folder)
    rows = {"relative": ["a.jpg"], "absolute": [str(folder / "a.jpg")], "dotted": ["./a.jpg"],
            "symlink": ["a.jpg"]}[spelling]
    listing = list_sources(manifest(folder / "m.parquet", rows))
    dst = {"relative": Path(os.path.relpath(folder)), "absolute": Path("/"), "dotted": folder / ".",
           "symlink": tmp_path / "link"}[spelling]
    with pytest.raises(InfoscrubError, match="source photo"):
        check_outputs(listing, dst)


def test_src_inside_dst_under_a_same_named_folder_is_refused(tmp_path):
    dst = tmp_path / "d"
    src = photos(dst / "a", "x.jpg", "a/x.jpg")  # a/x.jpg of SRC would land on d/a/x.jpg: a source
    with pytest.raises(InfoscrubError, match="source photo"):
        check_outputs(list_sources(src), dst)


def test_a_symlink_in_dst_onto_a_source_is_refused(tmp_path):
    src = photos(tmp_path / "src", "a.jpg")
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "a.jpg").symlink_to(src / "a.jpg")
    with pytest.raises(InfoscrubError, match="source photo"):
        check_outputs(list_sources(src), dst, force=True)


def test_a_link_in_dst_leading_out_of_it_is_refused(tmp_path):
    src = photos(tmp_path / "src", "sub/a.jpg")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "sub").symlink_to(elsewhere)
    with pytest.raises(InfoscrubError, match="leads out of DST"):
        check_outputs(list_sources(src), dst)


def test_a_file_bulk_did_not_write_stops_the_run_unless_forced(tmp_path):
    src = photos(tmp_path / "src", "a.jpg", "b.jpg")
    dst = photos(tmp_path / "dst", "a.jpg")  # someone's own file
    listing = list_sources(src)
    with pytest.raises(InfoscrubError, match="1 file.*did not write.*--force"):
        check_outputs(listing, dst)
    check_outputs(listing, dst, force=True)
    # an output bulk wrote (its done record names it) is bulk's to replace
    mark_finished(dst, "a.jpg", "sha", "key", "run", str(dst / "a.jpg"), [])
    check_outputs(listing, dst)


# ---- one run per DST


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from infoscrub.bulk.guard import DstLock
with DstLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_run_on_a_dst_in_use_is_refused_and_a_killed_run_frees_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(InfoscrubError, match=rf"in use by another infoscrub bulk run \(pid {holder.pid}"):
            with DstLock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with DstLock(tmp_path):  # the kernel released the killed run's lock
        pass


# ---- reads: regular files only, bounded


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(InfoscrubError, match="not a regular file"):
        read_bytes(fifo)  # no writer: must not wait for one
    with pytest.raises(InfoscrubError, match="not a regular file"):
        read_bytes(Path("/dev/zero"))  # an endless stream
    with pytest.raises(InfoscrubError, match="is a folder"):
        read_bytes(tmp_path)
    assert time.perf_counter() - start < 5


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as handle:
        handle.truncate(600 * 2**20)  # sparse: no disk, but 600 MB long
    with pytest.raises(InfoscrubError, match="over the limit of 512 MB"):
        read_bytes(huge)
    small = photos(tmp_path, "small.jpg") / "small.jpg"
    with pytest.raises(InfoscrubError, match="over the limit"):
        read_bytes(small, max_bytes=4)
    assert read_bytes(small) == b"original small.jpg"


def test_time_limit_stops_a_slow_block():
    start = time.perf_counter()
    with pytest.raises(InfoscrubError, match="took more than 0.2 s"):
        with time_limit(0.2):
            time.sleep(5)
    assert time.perf_counter() - start < 2
    with time_limit(None):
        pass


# ---- one actor's photo logic (no Ray, no model)


@pytest.fixture
def actor(tmp_path, monkeypatch):
    """A ScrubActor whose scrubbing is a stub: a photo whose bytes start with 'face' is written,
    one starting with 'slow' hangs, anything else has no face."""
    import infoscrub.bulk.actor as actor_module
    import infoscrub.bulk.album_plan as album_module
    from infoscrub.edit_request import EditRequest
    from infoscrub.photo_job import PhotoResult, ScrubOptions

    def scrub_file(scrubber, source, destination, options, data):
        if data.startswith(b"slow"):
            time.sleep(10)
        if not data.startswith(b"face"):
            return PhotoResult({"input": str(source), "output": None, "status": "no_face", "faces": []})
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(b"scrubbed " + data)
        return PhotoResult({"input": str(source), "output": str(destination), "status": "scrubbed", "faces": []})

    monkeypatch.setattr(album_module, "load_scrubber", lambda weights, threads: None)
    monkeypatch.setattr(actor_module, "scrub_file", scrub_file)

    def make(key: str = "k1", run: str = "run2", reported: frozenset = frozenset(), seconds: float | None = None):
        return actor_module.ScrubActor(ScrubOptions(EditRequest(["Male"])), {}, 1, str(tmp_path / "dst"), key, run,
                                       None, reported, seconds)
    return make


def one(scrubber, src: Path, name: str) -> list[dict]:
    return scrubber.one(str(src / name), name, str(src / name), name)


def test_a_source_replaced_by_a_faceless_photo_or_junk_loses_its_old_output(tmp_path, actor):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"face one")
    assert one(actor(run="run1"), src, "a.jpg")[0]["status"] == "scrubbed"
    assert (dst / "a.jpg").read_bytes() == b"scrubbed face one"
    (src / "a.jpg").write_bytes(b"junk, or a photo with no face")
    assert one(actor(run="run2"), src, "a.jpg")[0]["status"] == "no_face"
    assert not (dst / "a.jpg").exists()  # the old edit of other bytes no longer stands for it
    assert json.loads(done_record(dst, "a.jpg").read_text())["output"] is None


def test_a_photo_unreadable_for_a_moment_keeps_its_output(tmp_path, actor):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"face one")
    one(actor(run="run1"), src, "a.jpg")
    (src / "a.jpg").unlink()
    assert one(actor(run="run2"), src, "a.jpg")[0]["status"] == "error"
    assert (dst / "a.jpg").read_bytes() == b"scrubbed face one"


def test_a_slow_photo_fails_alone(tmp_path, actor):
    src = photos(tmp_path / "src", "a.jpg")
    (src / "slow.jpg").write_bytes(b"slow face")
    rows = one(actor(seconds=0.3), src, "slow.jpg")
    assert rows[0]["status"] == "error" and "time limit" in rows[0]["error"]


def test_a_killed_runs_photos_are_reported_by_the_next_run(tmp_path, actor):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"face one")
    first = one(actor(run="killed"), src, "a.jpg")  # finished, then the driver was killed: no report
    reports = dst / STATE / "report"
    (reports / "run=killed" / "status=scrubbed").mkdir(parents=True)
    (reports / "run=killed" / "status=scrubbed" / "part-0.parquet.tmp").write_bytes(b"half")
    drop_unfinished_reports(reports)
    assert not any(reports.rglob("*.tmp"))
    reported = reported_runs(reports)
    assert "killed" not in reported
    again = one(actor(run="next", reported=reported), src, "a.jpg")
    assert again == first and again[0]["status"] == "scrubbed"
    # once a run's report exists, its photos are done before
    pq.write_table(pa.table({"x": [1]}), reports / "run=killed" / "status=scrubbed" / "part-0.parquet")
    later = one(actor(run="later", reported=reported_runs(reports)), src, "a.jpg")
    assert later[0]["status"] == "done_before"


# ---- a killed driver takes its Ray with it

FAKE_DRIVER = """
import subprocess, sys, time
from infoscrub.bulk.reaper import Reaper
reaper = Reaper.start()
# as Ray's agents are: started after the reaper, a grandchild in a session of its own
child = subprocess.Popen([sys.executable, "-c",
    "import subprocess, sys, time; subprocess.Popen(['sleep', '300'], start_new_session=True); time.sleep(300)"])
print(child.pid, reaper.process.pid, flush=True)
if sys.argv[1] == "normal":
    time.sleep(2)
    reaper.stop()
    print("stopped", flush=True)
time.sleep(300)
"""


def sleepers_of(pid: int) -> list[int]:
    from infoscrub.bulk.reaper import descendants

    return list(descendants(pid))


@pytest.mark.parametrize("end", ["killed", "normal"])
def test_a_killed_driver_leaves_no_process_behind(tmp_path, end):
    from infoscrub.bulk.reaper import start_time

    driver = subprocess.Popen([sys.executable, "-c", FAKE_DRIVER, end], stdout=subprocess.PIPE, text=True)
    child, reaper = (int(v) for v in driver.stdout.readline().split())
    deadline = time.monotonic() + 20
    while len(sleepers_of(child)) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    (grandchild,) = sleepers_of(child)
    time.sleep(1.5)  # the reaper's list is refreshed every second
    if end == "normal":
        assert driver.stdout.readline().strip() == "stopped"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 10
    while start_time(reaper) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in (child, grandchild) if start_time(pid) is not None and
             not open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"]
    try:
        if end == "killed":
            assert alive == []  # the reaper killed what the driver had started
        else:
            assert alive == [child, grandchild]  # a normal end kills nothing
    finally:
        for pid in alive:
            os.kill(pid, signal.SIGKILL)


def test_a_batch_with_non_utf8_names_gives_a_readable_report(tmp_path, actor):
    src = tmp_path / "src"
    src.mkdir()
    good = os.fsencode(str(src)) + b"/caf\xe9.jpg"
    with open(good, "wb") as handle:
        handle.write(b"face one")
    missing = os.fsencode(str(src)) + b"/gone\xff.jpg"  # its error message quotes the name
    batch = {"source_fs": [good, missing], "relative_fs": [b"caf\xe9.jpg", b"gone\xff.jpg"],
             "source": [os.fsencode(good).decode("utf-8", "backslashreplace"), "gone\\xff.jpg"],
             "relative": ["caf\\xe9.jpg", "gone\\xff.jpg"]}
    table = actor()(batch).to_pylist()
    assert [row["status"] for row in table] == ["scrubbed", "error"]
    assert table[0]["output"].endswith("caf\\xe9.jpg") and "gone\\xff.jpg" in table[1]["error"]
    assert os.path.exists(os.fsencode(str(tmp_path / "dst")) + b"/caf\xe9.jpg")  # written under its real name
