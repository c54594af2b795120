"""The parts of ``infoscrub bulk`` that need no Ray: listing a collection, the Parquet report
the driver writes, the progress line."""

from __future__ import annotations

import io

import pytest

pa = pytest.importorskip("pyarrow", reason="the bulk extra (ray[data]) is not installed")
import pyarrow.parquet as pq

from infoscrub.bulk.actor import REPORT_TYPES, report_rows, report_schema
from infoscrub.bulk.report import Progress, ReportWriter
from infoscrub.bulk.sources import list_sources
from infoscrub.errors import InfoscrubError


def test_a_folder_lists_its_photos_but_not_hidden_files_or_our_records(tmp_path):
    for name in ("a.jpg", "sub/b.PNG", "sub/deeper/c.webp", "notes.txt", ".hidden/d.jpg", ".e.jpg",
                 ".infoscrub/done/f.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    listing = list_sources(tmp_path)
    assert listing.column("relative").to_pylist() == ["a.jpg", "sub/b.PNG", "sub/deeper/c.webp"]
    assert listing.column("source").to_pylist()[1] == str(tmp_path / "sub" / "b.PNG")


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_manifest_gives_paths_from_its_folder_and_mirrors_absolute_ones(tmp_path, kind):
    paths = ["x/1.jpg", "/data/2.jpg"]
    manifest = tmp_path / f"m.{kind}"
    if kind == "parquet":
        pq.write_table(pa.table({"path": paths, "other": [1, 2]}), manifest)
    else:
        manifest.write_text("other,path\n1,x/1.jpg\n2,/data/2.jpg\n")
    listing = list_sources(manifest)
    assert listing.column("source").to_pylist() == [f"{tmp_path}/x/1.jpg", "/data/2.jpg"]
    assert listing.column("relative").to_pylist() == ["x/1.jpg", "data/2.jpg"]


@pytest.mark.parametrize("paths, message", [
    (["ok.jpg", "a/../../escape.jpg"], "climbs out"),
    (["..", "b.jpg"], "climbs out"),
    (["ok.jpg", ""], "empty"),
    ([".infoscrub/done/x.jpg"], "records"),
])
def test_a_manifest_with_dangerous_paths_is_refused(tmp_path, paths, message):
    pq.write_table(pa.table({"path": paths}), tmp_path / "m.parquet")
    with pytest.raises(InfoscrubError, match=message):
        list_sources(tmp_path / "m.parquet")


def test_a_manifest_without_paths_or_not_a_manifest_is_refused(tmp_path):
    pq.write_table(pa.table({"file": ["a.jpg"]}), tmp_path / "m.parquet")
    with pytest.raises(InfoscrubError, match="no 'path' column"):
        list_sources(tmp_path / "m.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InfoscrubError, match="not a readable manifest"):
        list_sources(tmp_path / "bad.parquet")
    (tmp_path / "list.txt").write_text("a.jpg\n")
    with pytest.raises(InfoscrubError, match="neither a folder"):
        list_sources(tmp_path / "list.txt")


def entry(status, faces=0, error=None):
    return {"output": None if error else "/dst/p.jpg", "sha256": "ab", "status": status, "error": error,
            "faces": [{"index": i, "box": [0, 0, 10, 10], "strength": 1.0,
                       "attacker": {"Male": {"p_before": 0.9, "p_after": 0.2}}} for i in range(faces)]}


def batch(*rows):
    return pa.Table.from_pylist([{name: row.get(name) for name in REPORT_TYPES} for row in rows],
                                schema=report_schema())


def test_report_rows_one_per_face_or_one_per_photo():
    two = report_rows("/s/p.jpg", "p.jpg", entry("scrubbed", faces=2), ["Male"])
    assert [row["face"] for row in two] == [0, 1] and two[0]["belief_after"] == '{"Male": 0.2}'
    (failed,) = report_rows("/s/q.jpg", "q.jpg", entry("error", error="bad bytes"), ["Male"])
    assert failed.get("face") is None and failed["error"] == "bad bytes"


def test_the_report_counts_photos_not_faces_and_reads_back_by_status(tmp_path):
    writer = ReportWriter(tmp_path / "run=1")
    first = batch(*report_rows("/s/a.jpg", "a.jpg", entry("scrubbed", faces=3), ["Male"]),
                  *report_rows("/s/b.jpg", "b.jpg", entry("no_face"), ["Male"]))
    assert writer.add(first) == 2
    assert writer.add(batch(*report_rows("/s/c.jpg", "c.jpg", entry("error", error="cut"), ["Male"]))) == 1
    writer.close()
    assert writer.photos == {"scrubbed": 1, "no_face": 1, "error": 1} and writer.faces == 3
    table = pq.read_table(tmp_path / "run=1").to_pandas()
    assert len(table) == 5 and sorted(table["status"].astype(str).unique()) == ["error", "no_face", "scrubbed"]
    assert table[table["status"] == "error"]["error"].tolist() == ["cut"]
    assert not list((tmp_path / "run=1").rglob("*.tmp"))


def test_an_abandoned_report_leaves_no_half_written_file(tmp_path, monkeypatch):
    monkeypatch.setattr("infoscrub.bulk.report.FLUSH_ROWS", 1)  # written as it comes
    writer = ReportWriter(tmp_path / "run=1")
    writer.add(batch(*report_rows("/s/a.jpg", "a.jpg", entry("scrubbed", faces=1), ["Male"])))
    assert list((tmp_path / "run=1").rglob("*.tmp"))
    writer.abandon()
    assert not [p for p in (tmp_path / "run=1").rglob("*") if p.is_file()]


def test_progress_says_photos_per_second_and_eta():
    stream = io.StringIO()
    progress = Progress(10, stream=stream)
    progress.start -= 2.0  # two seconds ago
    progress.advance(10)
    assert stream.getvalue().startswith("10/10 photos, ") and "photos/s, ETA 00:00:00" in stream.getvalue()
    assert progress.line(progress.start + 1.0).startswith("10/10 photos, 10.0 photos/s")


def test_album_settings_that_clash_are_refused():
    from infoscrub.bulk import BulkSettings
    from infoscrub.edit_request import EditRequest, Target
    from infoscrub.photo_job import ScrubOptions

    with pytest.raises(InfoscrubError, match="--target and --aligned do not apply"):
        BulkSettings(ScrubOptions(EditRequest(["Male"], target=Target())), album=True).check()
    with pytest.raises(InfoscrubError, match="between 0 and 2"):
        BulkSettings(ScrubOptions(EditRequest(["Male"])), album=True, album_threshold=0.0).check()
    BulkSettings(ScrubOptions(EditRequest(["Male"])), album=True).check()


def test_mixing_sums_add_up_exactly_in_any_order():
    import numpy as np
    import torch

    from infoscrub.bulk.album_plan import ALPHA_SCALE, AlbumPlan, add_mixing
    from infoscrub.consistency import PersonEdits

    rng = np.random.default_rng(0)
    parts = [rng.random((3, 16)) for _ in range(20)]  # 20 photos' maps of person 0, 4x4 px
    tables = [pa.table({"row": pa.array([0], pa.int32()), "count": pa.array([3], pa.int64()),
                        "alpha": pa.array([np.round(p.sum(0) * ALPHA_SCALE).astype(np.int64).tolist()],
                                          pa.list_(pa.int64()))}) for p in parts]
    maps = []
    for order in (range(20), reversed(range(20)), rng.permutation(20)):
        plan = AlbumPlan(album=None, plan=PersonEdits(["Male"], "obfuscate", [7], torch.zeros(1, 1),
                                                      torch.zeros(1, 1), None),
                         faces={}, sha256={}, errors={}, editor_attributes=["Male"], image_size=4)
        add_mixing(plan, [tables[i] for i in order])
        maps.append(plan.plan.alpha.numpy())
    assert all(np.array_equal(m, maps[0]) for m in maps)
    assert np.allclose(maps[0].reshape(-1), np.concatenate(parts).mean(0), atol=1e-6)


def test_the_album_plan_does_not_depend_on_the_order_batches_come_back():
    import json

    import numpy as np

    from infoscrub.bulk.album_plan import face_schema, plan_from_faces
    from infoscrub.inference import Editor

    editor = Editor.untrained(["Male", "Young"], image_size=32, width=8)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 128)) * 0.3
    rows = []
    for k in range(9):
        vector = centres[k % 3] + rng.normal(scale=0.001, size=128)
        rows.append({"relative": f"p{k}.jpg", "sha256": f"{k}", "error": None, "face": 0,
                     "box": json.dumps([0, 0, 10, 10]), "score": 1.0,
                     "landmarks": json.dumps(np.zeros((5, 2)).tolist()),
                     "embedding": vector.tolist(), "codes": [float(k % 2), 0.2]})
    plans = [plan_from_faces(pa.Table.from_pylist(order, schema=face_schema()), ["Male"], "invert", 0.6, editor)
             for order in (rows, rows[::-1], rows[3:] + rows[:3])]
    assert len({p.key() for p in plans}) == 1
    assert plans[0].album.person.tolist() == [0, 1, 2] * 3


def test_an_album_to_obfuscate_needs_a_mixer_before_any_pass():
    from infoscrub.bulk import BulkSettings
    from infoscrub.bulk.job import plan_album
    from infoscrub.edit_request import EditRequest
    from infoscrub.inference import Editor
    from infoscrub.photo_job import ScrubOptions

    editor = Editor.untrained(["Male"], image_size=32, width=8)
    editor.mixer = None
    settings = BulkSettings(ScrubOptions(EditRequest(["Male"], mode="obfuscate")), album=True)
    with pytest.raises(InfoscrubError, match="cannot obfuscate"):
        plan_album(None, [], settings, {}, 1, editor, progress=False)  # no Ray needed to refuse
