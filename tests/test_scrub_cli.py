"""``infoscrub scrub`` over real files (untrained models stand in for the bundled ones)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_faces import astronaut, encode, make_scrubber, two_faces
from PIL import Image

import infoscrub.cli as cli
from infoscrub.scrubber import Scrubber


@pytest.fixture(autouse=True)
def scrub_command(monkeypatch):
    """Small models stand in for the bundled ones."""
    scrubber = make_scrubber()
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: scrubber))


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(["scrub", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def gps_jpeg(array: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    return encode(array, "JPEG", quality=95, exif=exif.tobytes())


def test_scrubs_one_photo_and_writes_a_clean_file(tmp_path: Path, capsys) -> None:
    source = tmp_path / "me.jpg"
    source.write_bytes(gps_jpeg(two_faces()))
    out, report_path = tmp_path / "clean.jpg", tmp_path / "report.json"
    code, stdout, _ = run([source, "--attributes", "male,Young", "--mode", "obfuscate",
                           "--output", out, "--report", report_path], capsys)
    assert code == 0 and "2 face(s), 2 edited" in stdout
    data = out.read_bytes()
    assert b"Exif" not in data and b"SpyCam" not in data and b"GPS" not in data
    assert Image.open(io.BytesIO(data)).size == (1024, 512)
    report = json.loads(report_path.read_text())["photos"][0]
    assert report["status"] == "scrubbed" and report["faces_found"] == 2
    assert report["attributes"] == ["Male", "Young"]
    assert all("p_after" in v for v in report["faces"][0]["attacker"].values())


def test_folder_in_folder_out_with_faceless_photos(tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "face.png").write_bytes(encode(astronaut(), "PNG"))
    (inputs / "wall.jpg").write_bytes(gps_jpeg(np.full((120, 160, 3), 70, np.uint8)))
    (inputs / "notes.txt").write_text("not a photo")
    code, _, err = run([inputs, "--attributes", "Male", "--output", tmp_path / "out"], capsys)
    assert code == 3 and "no face" in err  # a photo had no face: nothing written for it
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["face.png"]

    code, _, _ = run([inputs, "--attributes", "Male", "--output", tmp_path / "out2",
                      "--copy-faceless"], capsys)
    assert code == 0
    wall = (tmp_path / "out2" / "wall.jpg").read_bytes()
    assert b"Exif" not in wall and b"SpyCam" not in wall


def test_aligned_crops(tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "crops"
    inputs.mkdir()
    for name in ("a.png", "b.png"):
        (inputs / name).write_bytes(encode(np.full((128, 128, 3), 100, np.uint8), "PNG"))
    code, _, _ = run([inputs, "--attributes", "Male", "--aligned", "--output",
                      tmp_path / "out"], capsys)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    edited = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert edited.shape == (128, 128, 3) and edited.mean() > 100  # the stand-in brightens


def test_never_overwrites_without_force(tmp_path: Path, capsys) -> None:
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    code, _, err = run([source, "--attributes", "Male", "--output", target], capsys)
    assert code == 2 and "already exists" in err and target.read_bytes() == b"precious"
    code, _, _ = run([source, "--attributes", "Male", "--output", target, "--force"], capsys)
    assert code == 0 and Image.open(target).size == (512, 512)


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "e.jpg").write_bytes(b""), "empty"),
    (lambda d: (d / "e.jpg").write_bytes(b"plain text, no pixels" * 20), "not an image"),
    (lambda d: (d / "e.jpg").write_bytes(encode(astronaut(), "JPEG")[:5000]), "truncated"),
])
def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys, make, message) -> None:
    make(tmp_path)
    code, _, err = run([tmp_path / "e.jpg", "--attributes", "Male", "--output",
                        tmp_path / "o.jpg"], capsys)
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_attribute_and_bad_face_list(tmp_path: Path, capsys) -> None:
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    code, _, err = run([source, "--attributes", "Wizard", "--output", tmp_path / "o.png"],
                       capsys)
    assert code == 2 and "unknown attribute 'Wizard'" in err and err.count("\n") == 1
    code, _, err = run([source, "--attributes", "Male", "--faces", "0,x", "--output",
                        tmp_path / "o.png"], capsys)
    assert code == 2 and "face numbers" in err


def test_output_name_must_match_the_format(tmp_path: Path, capsys) -> None:
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    code, _, err = run([source, "--attributes", "Male", "--output", tmp_path / "o.jpg"], capsys)
    assert code == 2 and "PNG" in err and not (tmp_path / "o.jpg").exists()


def test_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    program = "import sys, infoscrub.cli as c\nsys.exit(c.main())"
    result = subprocess.run(
        [sys.executable, "-c", program, "scrub", str(tmp_path / "missing.jpg"),
         "--attributes", "Male", "--output", str(tmp_path / "o.jpg")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_album_gives_each_person_one_edit_and_lists_the_people(tmp_path: Path, capsys, monkeypatch) -> None:
    from conftest_faces import ColourEmbedder, tinted_astronaut

    from infoscrub.faces import identity

    monkeypatch.setattr(identity, "shared_embedder", ColourEmbedder)
    scrubber = Scrubber.load()
    scrubber.identity = ColourEmbedder()  # groups and checks with the stand-in
    folder = tmp_path / "album"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(encode(astronaut()))
    (folder / "b.png").write_bytes(encode(two_faces(), "PNG"))
    (folder / "c.jpg").write_bytes(encode(tinted_astronaut()))
    (folder / "d.jpg").write_bytes(encode(astronaut())[:500])  # truncated: its own error
    out, report_path, page = tmp_path / "out", tmp_path / "r.json", tmp_path / "r.html"
    code, stdout, err = run([folder, "--attributes", "Male", "--album", "--output", out,
                             "--report", report_path, "--report", page], capsys)
    assert code == 2 and "d.jpg" in err and "1 of 4 photos could not be scrubbed" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.png", "c.jpg"]
    assert "album: 2 people among 4 faces in 4 photos" in stdout
    assert "person 0: 3 face(s) in a.jpg, b.png: Male read" in stdout
    report = json.loads(report_path.read_text())
    people = report["album"]["people"]
    assert [p["faces"] for p in people] == [3, 1] and people[1]["photos"] == [str(folder / "c.jpg")]
    assert [f["person"] for f in report["photos"][1]["faces"]] == [0, 0]
    assert report["photos"][3]["status"] == "error"
    assert "People in the album" in page.read_text()


@pytest.mark.parametrize("extra, message", [
    (["--album", "--target"], "--target does not apply"),
    (["--album", "--faces", "0"], "--faces does not apply"),
    (["--album-threshold", "0.5"], "--album-threshold needs --album"),
    (["--album", "--album-threshold", "3"], "between 0 and 2"),
])
def test_album_options_that_clash_are_one_line_errors(tmp_path: Path, capsys, extra, message) -> None:
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    code, _, err = run([source, "--attributes", "Male", "--output", tmp_path / "o.png", *extra], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
