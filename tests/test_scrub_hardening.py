"""``scrub`` against hostile and odd input: deep TIFFs, folders with bad files, unwritable
outputs, photos with no face, strength 0, bugs that must not become tracebacks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest_faces import astronaut, encode, run_scrub, use_small_models
from PIL import Image

import infoscrub.cli as cli
from infoscrub.scrubber import Scrubber


@pytest.fixture(autouse=True)
def small_models(monkeypatch):
    use_small_models(monkeypatch)


run = run_scrub


def deep_gray_tiff(array: np.ndarray) -> bytes:
    gray = (array.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) * 257
    buffer = io.BytesIO()
    Image.fromarray(gray.astype(np.uint16)).save(buffer, format="TIFF")
    return buffer.getvalue()


def test_a_16_bit_grayscale_tiff_is_scrubbed(tmp_path: Path, capsys):
    source = tmp_path / "scan.tif"
    source.write_bytes(deep_gray_tiff(astronaut()))
    code, out, err = run([source, "--attributes", "Male", "--output", tmp_path / "o.tif"], capsys)
    assert code == 0, err
    written = Image.open(tmp_path / "o.tif")
    assert written.mode == "I;16" and written.size == (512, 512)


def test_a_folder_run_goes_on_past_bad_files_and_reports_them(tmp_path: Path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a_face.png").write_bytes(encode(astronaut(), "PNG"))
    (inputs / "b_broken.jpg").write_bytes(encode(astronaut(), "JPEG")[:3000])
    (inputs / "c_scan.tif").write_bytes(deep_gray_tiff(astronaut()))
    report = tmp_path / "report.json"
    code, _, err = run([inputs, "--attributes", "Male", "--output", tmp_path / "out", "--report", report],
                       capsys)
    assert code == 2 and "1 of 3 photos could not be scrubbed" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_face.png", "c_scan.tif"]
    entries = {Path(e["input"]).name: e for e in json.loads(report.read_text())["photos"]}
    assert entries["b_broken.jpg"]["status"] == "error" and "truncated" in entries["b_broken.jpg"]["message"]
    assert entries["b_broken.jpg"]["output"] is None
    assert entries["a_face.png"]["status"] == "scrubbed" and entries["c_scan.tif"]["status"] == "scrubbed"


def test_an_unwritable_output_is_one_line_and_a_folder_run_goes_on(tmp_path: Path, capsys):
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    code, _, err = run([source, "--attributes", "Male", "--output", "/sys/infoscrub/out.png"], capsys)
    assert code == 2 and "cannot write" in err and err.count("\n") == 1
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.png", "b.png"):
        (inputs / name).write_bytes(encode(astronaut(), "PNG"))
    code, _, err = run([inputs, "--attributes", "Male", "--output", "/sys/infoscrub-out"], capsys)
    assert code == 2 and err.count("cannot write") == 2 and "2 of 2 photos" in err


def test_no_face_has_its_own_exit_status(tmp_path: Path, capsys):
    wall = tmp_path / "wall.png"
    wall.write_bytes(encode(np.full((120, 160, 3), 90, np.uint8), "PNG"))
    code, _, err = run([wall, "--attributes", "Male", "--output", tmp_path / "o.png"], capsys)
    assert code == 3 and "no face" in err and not (tmp_path / "o.png").exists()
    code, out, _ = run([wall, "--attributes", "Male", "--output", tmp_path / "o.png", "--copy-faceless"], capsys)
    assert code == 0 and "copied clean" in out and (tmp_path / "o.png").exists()


def test_strength_zero_says_nothing_changed(tmp_path: Path, capsys):
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))
    report = tmp_path / "r.json"
    code, out, _ = run([source, "--attributes", "Male", "--strength", "0", "--output", tmp_path / "o.png",
                        "--report", report], capsys)
    assert code == 0 and "0 edited (strength 0" in out
    entry = json.loads(report.read_text())["photos"][0]
    assert entry["status"] == "unchanged" and not any(f["edited"] for f in entry["faces"])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")), astronaut())


def test_a_bug_is_one_line_not_a_traceback(tmp_path: Path, capsys, monkeypatch):
    source = tmp_path / "me.png"
    source.write_bytes(encode(astronaut(), "PNG"))

    def broken(*args, **kwargs):
        raise ValueError("something inside went wrong\nsecond line")

    monkeypatch.setattr(Scrubber, "scrub_request", broken)
    code, _, err = run([source, "--attributes", "Male", "--output", tmp_path / "o.png"], capsys)
    assert code == 2 and "internal error (ValueError" in err and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_the_cli_turns_any_bug_into_one_line(capsys, monkeypatch):
    import infoscrub.cli.scrub_cmd as scrub_cmd

    def crash(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(scrub_cmd, "run_scrub", crash)  # the parser is built after this
    monkeypatch.delenv("INFOSCRUB_DEBUG", raising=False)
    args = ["scrub", "x.jpg", "--attributes", "Male", "--output", "y.jpg"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: boom)" in err and err.count("\n") == 1
    monkeypatch.setenv("INFOSCRUB_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(args)


def test_resume_of_an_empty_run_folder_fails_before_reading_data(tmp_path: Path, capsys, monkeypatch):
    import infoscrub.training.loop as loop

    def never(*args, **kwargs):
        raise AssertionError("the data was read before the resume check")

    monkeypatch.setattr(loop, "load_training_data", never)
    code = cli.main(["train", "stage1", "--data", str(tmp_path), "--out", str(tmp_path / "empty"), "--resume"])
    assert code == 2 and "holds no checkpoint.pt" in capsys.readouterr().err
