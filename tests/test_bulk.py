"""``infoscrub bulk`` on a local Ray with 2 CPUs: real faces from ../shared/data plus broken
files; outputs, report rows, reruns, and an actor that dies mid-job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the bulk extra (ray[data]) is not installed")

from infoscrub.bulk import STATE, BulkSettings, list_sources, run_bulk
from infoscrub.cli import main
from infoscrub.edit_request import EditRequest
from infoscrub.errors import InfoscrubError
from infoscrub.photo_job import ScrubOptions

FACES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "celebahq128" / "images"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not FACES.is_dir(), reason="needs ../shared/data/celebahq128")]


@pytest.fixture(scope="module")
def local_ray():
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             object_store_memory=300 * 2**20)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from infoscrub.inference import Attacker, Editor
    from infoscrub.storage.weights import save_weights

    folder = tmp_path_factory.mktemp("weights")
    names = ["Male", "Smiling", "Young"]
    save_editor(folder, Editor.untrained(names, image_size=128, width=8))
    attacker = Attacker.untrained(names, image_size=128)
    save_weights(folder / "attacker.safetensors", {"adversary": attacker.model.state_dict()},
                 {"kind": "adversary", "config": {"model": {"arch": "resnet18", "width": 8}},
                  "attributes": attacker.attributes, "alignment": "celebahq", "image_size": 128, "step": 0})
    return folder / "editor.safetensors", folder / "attacker.safetensors"


def save_editor(folder: Path, editor) -> Path:
    """An editor as exported stage2 weights, ``folder/editor.safetensors``."""
    from infoscrub.storage.weights import save_weights

    save_weights(folder / "editor.safetensors", {"generator": editor.generator.state_dict(),
                                                 "mixer": editor.mixer.state_dict()},
                 {"kind": "stage2", "config": dict(editor.info["config"]), "attributes": editor.attributes,
                  "alignment": "celebahq", "image_size": 128, "step": 1})
    return folder / "editor.safetensors"


def make_source(root: Path) -> Path:
    """24 real faces (the first has none MTCNN finds) in two folders, plus broken files."""
    files = sorted(FACES.glob("*.jpg"))[:24]
    (root / "src" / "album").mkdir(parents=True)
    for i, f in enumerate(files):
        shutil.copy(f, root / "src" / ("album" if i % 3 == 0 else "") / f.name)
    (root / "src" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "src" / "album" / "cut.jpg").write_bytes(files[1].read_bytes()[:900])
    return root / "src"


def settings(weights, **extra) -> BulkSettings:
    editor, attacker = weights
    extra.setdefault("options", ScrubOptions(EditRequest(["Male"])))
    return BulkSettings(checkpoint=str(editor), attacker=str(attacker), actors=2, batch_size=4, **extra)


def report(summary: dict):
    import pyarrow.parquet as pq

    return pq.read_table(summary["report"]).to_pandas()


def test_a_collection_is_scrubbed_once_and_reruns_redo_only_what_is_missing(tmp_path, local_ray, weights):
    src, dst = make_source(tmp_path), tmp_path / "dst"
    first = run_bulk(src, dst, settings(weights), progress=False)
    assert first["photos"] == 26
    assert first["counts"] == {"scrubbed": 23, "no_face": 1, "error": 2}
    outputs = sorted(p.relative_to(dst) for p in dst.rglob("*.jpg") if STATE not in p.parts)
    expected = sorted(Path(r) for r in list_sources(src).column("relative").to_pylist())
    assert len(outputs) == 23 and set(outputs) < set(expected)  # DST mirrors SRC's tree
    rows = report(first)
    faces = rows[rows["face"].notna()]
    assert len(faces) == 23 and faces["relative"].is_unique
    assert all(0 <= p <= 1 for p in faces["belief_before"].map(lambda s: json.loads(s)["Male"]))
    errors = rows[rows["status"] == "error"]
    assert sorted(errors["relative"]) == ["album/cut.jpg", "broken.jpg"] and errors["error"].str.len().min() > 0

    again = run_bulk(src, dst, settings(weights), progress=False)
    assert again["counts"] == {"done_before": 24, "error": 2}  # failed ones are tried again

    removed = outputs[:3]
    for path in removed:
        (dst / path).unlink()
    third = run_bulk(src, dst, settings(weights), progress=False)
    assert third["counts"] == {"done_before": 21, "scrubbed": 3, "error": 2}
    redone = report(third)
    assert sorted(redone[redone["status"] == "scrubbed"]["relative"]) == sorted(str(p) for p in removed)


def test_an_actor_that_dies_is_restarted_and_every_photo_done_once(tmp_path, local_ray, weights):
    src, dst = make_source(tmp_path), tmp_path / "dst"
    victim = list_sources(src).column("relative")[2].as_py()  # the third of the first batch: two are done when it dies
    summary = run_bulk(src, dst, settings(weights, actor_env={"INFOSCRUB_BULK_CRASH_ONCE": victim}),
                       progress=False)
    assert (dst / STATE / "crashed").is_file()  # it did die
    assert summary["counts"] == {"scrubbed": 23, "no_face": 1, "error": 2}
    rows = report(summary)
    assert rows["relative"].is_unique and victim in set(rows["relative"])
    assert set(rows["status"]) == {"scrubbed", "no_face", "error"}  # no "done_before" from the retry
    assert (dst / victim).is_file()


def test_a_manifest_and_the_command_line(tmp_path, local_ray, weights, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = make_source(tmp_path)
    manifest = tmp_path / "photos.parquet"
    pq.write_table(pa.table({"path": [str(p.relative_to(tmp_path)) for p in sorted(src.rglob("*.jpg"))[:6]]}),
                   manifest)
    editor, attacker = weights
    code = main(["bulk", str(manifest), str(tmp_path / "out"), "--attributes", "Male", "--checkpoint", str(editor),
                 "--attacker", str(attacker), "--quiet"])
    out = capsys.readouterr().out
    assert "6 photos" in out and code in (0, 2)
    assert json.loads(out.strip().splitlines()[-1])["photos"] == 6


def test_bad_inputs_fail_before_any_work(tmp_path, weights):
    with pytest.raises(InfoscrubError, match="does not exist"):
        run_bulk(tmp_path / "nothing", tmp_path / "dst", settings(weights))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InfoscrubError, match="holds no photos"):
        run_bulk(tmp_path / "empty", tmp_path / "dst", settings(weights))
    src = make_source(tmp_path)
    with pytest.raises(InfoscrubError, match="inside"):
        run_bulk(src, src / "out", settings(weights))


def test_the_command_line_refuses_to_write_onto_sources_or_over_other_files(tmp_path, weights, capsys):
    """No Ray starts: the refusals come before any photo, as one line and exit 2."""
    editor, attacker = weights
    src = make_source(tmp_path)
    before = {p: p.read_bytes() for p in src.rglob("*.jpg")}
    names = sorted(str(p.relative_to(src)) for p in before)
    (src / "list.csv").write_text("path\n" + "\n".join(names) + "\n")
    common = ["--attributes", "Male", "--checkpoint", str(editor), "--attacker", str(attacker), "--quiet"]
    assert main(["bulk", str(src / "list.csv"), str(src), *common]) == 2  # the manifest's folder as DST
    assert "is the source photo" in capsys.readouterr().err
    assert main(["bulk", str(src / "list.csv"), str(src), *common, "--force"]) == 2  # not even forced
    capsys.readouterr()
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / names[0]).parent.mkdir(parents=True, exist_ok=True)
    (dst / names[0]).write_bytes(b"someone's own file")
    assert main(["bulk", str(src), str(dst), *common]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (dst / names[0]).read_bytes() == b"someone's own file"
    assert {p: p.read_bytes() for p in src.rglob("*.jpg")} == before


SAMPLE = FACES.parent.parent / "celeba_aligned_sample"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="needs ../shared/data/celeba_aligned_sample")
def visible_editor_weights(folder: Path, attacker: Path) -> tuple[Path, Path]:
    """An untrained editor changes no pixel: perturbed, its edits show and follow the code."""
    import torch

    from infoscrub.inference import Editor

    editor = Editor.untrained(["Male", "Smiling", "Young"], image_size=128, width=8, seed=5)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in list(editor.generator.parameters()) + list(editor.mixer.parameters()):
            param.add_(0.05 * torch.randn(param.shape, generator=gen))
    folder.mkdir()
    return save_editor(folder, editor), attacker


def test_an_album_collection_gives_each_person_one_edit_like_scrub_album(tmp_path, local_ray, weights):
    import numpy as np
    from PIL import Image

    from infoscrub.data.identities import read_identities
    from infoscrub.faces import identity
    from infoscrub.photo_job import scrub_album_files
    from infoscrub.scrubber import Scrubber

    if not identity.available():
        pytest.skip("the identity extra is not installed")
    by_person: dict[int, list[str]] = {}
    for name, person in sorted(read_identities(SAMPLE).items()):
        by_person.setdefault(person, []).append(name)
    src = tmp_path / "src"
    src.mkdir()
    chosen = {person: names[:3] for person, names in list(by_person.items())[:3]}
    for person, names in chosen.items():
        for name in names:
            shutil.copy(SAMPLE / "img_align_celeba" / name, src / f"{person}_{name}")
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    weights = visible_editor_weights(tmp_path / "weights", weights[1])
    summary = run_bulk(src, tmp_path / "dst", settings(weights, album=True,
                                                      options=ScrubOptions(EditRequest(["Male"], mode="obfuscate"))),
                       progress=False)
    assert summary["counts"] == {"error": 1, "scrubbed": 9}
    assert summary["album"]["people"] == 3 and summary["album"]["faces"] == 9
    rows = report(summary)
    scrubbed = rows[rows["status"] == "scrubbed"]
    owner = scrubbed["relative"].str.split("_").str[0]
    assert scrubbed.groupby(owner)["person"].nunique().tolist() == [1, 1, 1]
    assert scrubbed["person"].nunique() == 3
    people = json.loads(Path(summary["album"]["report"]).read_text())
    assert sorted(len(p["photos"]) for p in people["people"]) == [3, 3, 3]
    assert all(set(p["attacker_over_album"]) == {"Male"} for p in people["people"])
    assert "broken.jpg" in people["unread"]

    # the same album through scrub --album's code path: the same people, the same pixels
    editor, attacker = weights
    local = Scrubber.load(str(editor), attacker=str(attacker))
    names = sorted(p.name for p in src.iterdir() if p.name != "broken.jpg")
    options = ScrubOptions(EditRequest(["Male"], mode="obfuscate"))
    results, album = scrub_album_files(local, [(src / n, tmp_path / "local" / n) for n in names], options)
    assert sorted(p["faces"] for p in album["people"]) == [3, 3, 3]
    for name in names:
        ours = np.asarray(Image.open(tmp_path / "dst" / name), np.float32)
        theirs = np.asarray(Image.open(tmp_path / "local" / name), np.float32)
        original = np.asarray(Image.open(src / name), np.float32)
        assert np.abs(ours - original).mean() > 1.0, name  # the edit shows
        assert np.abs(ours - theirs).mean() < 0.5, name

    again = run_bulk(src, tmp_path / "dst", settings(weights, album=True,
                                                    options=ScrubOptions(EditRequest(["Male"], mode="obfuscate"))),
                     progress=False)
    assert again["counts"] == {"done_before": 9, "error": 1}


def test_videos_in_a_collection_are_one_task_each_and_reported_per_person(tmp_path, local_ray, weights):
    pytest.importorskip("av", reason="videos need the extra infoscrub[video]")
    import cv2

    from infoscrub.video.synthetic import SCENARIOS, render, write_clip

    src = tmp_path / "src"
    (src / "clips").mkdir(parents=True)
    face = cv2.resize(cv2.imread(str(sorted(FACES.glob("*.jpg"))[3]))[..., ::-1], (256, 256))
    frames = [f for f, _ in render(SCENARIOS["pan"]([face]), 320, 240, 6)]
    write_clip(src / "clips" / "walk.avi", frames, codec="mpeg4")
    write_clip(src / "clips" / "walk2.mp4", frames)
    shutil.copy(sorted(FACES.glob("*.jpg"))[5], src / "one.jpg")
    dst = tmp_path / "dst"
    summary = run_bulk(src, dst, settings(weights), progress=False)
    assert summary["photos"] == 3 and summary["counts"] == {"scrubbed": 3}, summary["first_errors"]
    assert (dst / "clips" / "walk.mp4").is_file() and (dst / "clips" / "walk2.mp4").is_file()  # .avi is written as .mp4
    rows = report(summary)
    clip_rows = rows[rows["relative"].str.startswith("clips/")]
    assert len(clip_rows) == 2 and set(clip_rows["person"]) == {0}
    assert all("Male" in json.loads(b) for b in clip_rows["belief_after"])
    again = run_bulk(src, dst, settings(weights), progress=False)
    assert again["counts"] == {"done_before": 3}
    with pytest.raises(InfoscrubError, match="holds videos: --album"):
        run_bulk(src, tmp_path / "dst2", settings(weights, album=True), progress=False)
