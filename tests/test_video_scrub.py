"""A clip through the pipeline (``video.job``, ``scrub clip.mp4``): every face tracked, one
edit per person across the frames, the report per person, nothing written for bad input
(small models stand in for the bundled ones)."""

import json

import numpy as np
import pytest
from conftest_video import clip_frames
from conftest_faces import ColourEmbedder, astronaut, encode, make_scrubber, run_scrub, use_small_models

from infoscrub.edit_request import EditRequest
from infoscrub.errors import InfoscrubError
from infoscrub.video.container import probe, read_frames
from infoscrub.video.flicker import FlickerMeter
from infoscrub.video.job import VideoOptions, scrub_video
from infoscrub.video.synthetic import write_clip

av = pytest.importorskip("av", reason="videos need the extra infoscrub[video]")


def options(scrubber, attributes=("Male",), mode="invert", **kwargs):
    return VideoOptions(scrubber.check_request(EditRequest(list(attributes), mode)), **kwargs)


def frames_of(path):
    return [item.rgb for item in read_frames(path, probe(path))]


def test_two_faces_are_two_people_edited_on_every_frame(tmp_path):
    frames, placements = clip_frames("two_faces", frames=10)
    source = write_clip(tmp_path / "two.mp4", frames, fps=10)
    scrubber = make_scrubber()
    video = scrub_video(scrubber, source, tmp_path / "out.mp4", options(scrubber, mode="obfuscate"))
    report = video.report
    assert report["status"] == "scrubbed" and report["detection"]["people"] == 2
    assert all(p["frames"] >= 9 for p in report["people"])  # the detector may miss a face at an end
    for person in report["people"]:
        assert person["attributes_hidden"] == ["Male"]
        # a frame where the detector missed the face is named, and the face is edited there too
        assert person["frames"] == person["last_frame"] - person["first_frame"] + 1
        assert all(person["first_frame"] < f < person["last_frame"] for f in person["missed_frames"])
        assert person["attacker"]["Male"]["frames_judged"] >= 1  # every fifth frame
        assert person["flicker"]["edit_change"] is not None
    out = frames_of(tmp_path / "out.mp4")
    assert len(out) == 10 and out[0].shape == frames[0].shape
    inside = [tuple(int(v) for v in p.box) for p in placements[4]]
    for x1, y1, x2, y2 in inside:  # the stand-in editor shifts the brightness of each face
        middle = (slice(y1 + 20, y2 - 20), slice(x1 + 20, x2 - 20))
        assert abs(out[4][middle].mean() - frames[4][middle].mean()) > 3
    assert np.abs(out[4][:20, :20].astype(int) - frames[4][:20, :20]).mean() < 4  # the background is untouched
    assert video.key_frames and all(k.faces for k in video.key_frames)
    assert set(report["timings_s"]) >= {"decode", "detect", "model", "paste", "encode"}


def test_a_face_that_leaves_and_comes_back_is_one_person_with_the_identity_check(tmp_path):
    frames, _ = clip_frames("pan", frames=20)
    empty = clip_frames("pan", frames=20, noise=0)[0][0].copy()
    empty[:] = frames[0][:40, :40].mean(axis=(0, 1)).astype(np.uint8)  # no face on it
    gap = frames[:6] + [empty] * 8 + frames[14:]
    source = write_clip(tmp_path / "back.mp4", gap, fps=10)
    alone = scrub_video(make_scrubber(), source, tmp_path / "a.mp4", options(make_scrubber())).report
    assert alone["detection"]["tracks"] == 2 and alone["detection"]["people"] == 2
    scrubber = make_scrubber()
    scrubber.identity = ColourEmbedder()
    joined = scrub_video(scrubber, source, tmp_path / "b.mp4", options(scrubber)).report
    assert joined["detection"]["tracks"] == 2 and joined["detection"]["people"] == 1
    (person,) = joined["people"]
    assert person["tracks"] == [0, 1] and person["frames"] == 12 and person["missed_frames"] == []


def test_a_clip_without_faces_writes_nothing_unless_asked(tmp_path):
    blank = [np.full((120, 160, 3), 90, np.uint8) for _ in range(4)]
    source = write_clip(tmp_path / "blank.mp4", blank)
    scrubber = make_scrubber()
    report = scrub_video(scrubber, source, tmp_path / "o.mp4", options(scrubber)).report
    assert report["status"] == "no_face" and not (tmp_path / "o.mp4").exists()
    copied = scrub_video(scrubber, source, tmp_path / "o.mp4", options(scrubber, copy_faceless=True)).report
    assert copied["status"] == "copied" and len(frames_of(tmp_path / "o.mp4")) == 4


def test_options_that_do_not_apply_to_a_clip_are_refused(tmp_path):
    from infoscrub.edit_request import Randomise, Target

    scrubber = make_scrubber()
    for request, message in ((EditRequest(["Male"], target=Target()), "--target does not apply"),
                             (EditRequest(["Male"], randomise=Randomise(0.5)), "a randomised edit does not apply")):
        with pytest.raises(InfoscrubError, match=message):
            scrub_video(scrubber, tmp_path / "x.mp4", tmp_path / "y.mp4", VideoOptions(request))
    frames, _ = clip_frames("pan", frames=2)
    source = write_clip(tmp_path / "c.mp4", frames)
    with pytest.raises(InfoscrubError, match="is the input itself"):
        scrub_video(scrubber, source, source, options(scrubber, force=True))
    with pytest.raises(InfoscrubError, match="a video is written as"):
        scrub_video(scrubber, source, tmp_path / "c.gif", options(scrubber))


def test_the_flicker_meter_follows_each_face_in_its_own_coordinates():
    rng = np.random.default_rng(0)
    source = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    steady, flickering = FlickerMeter(), FlickerMeter()
    for index in range(6):
        steady.add(index, source, np.clip(source.astype(int) + 20, 0, 255).astype(np.uint8), {0: identity})
        shift = 20 if index % 2 else -20
        flickering.add(index, source, np.clip(source.astype(int) + shift, 0, 255).astype(np.uint8), {0: identity})
    assert steady.summary()["edit_change"] < 1.0 < 10.0 < flickering.summary()["edit_change"]
    assert steady.summary()["pairs"] == 5 and steady.summary()["ratio"] is None  # the source never changed


# ------------------------------------------------------------------ the command


def test_the_command_scrubs_a_clip_beside_photos_and_reports_both(tmp_path, capsys, monkeypatch):
    use_small_models(monkeypatch)
    folder = tmp_path / "in"
    folder.mkdir()
    frames, _ = clip_frames("pan", frames=6)
    write_clip(folder / "clip.mov", frames, audio_seconds=0.5, metadata={"location": "+52.37+004.89/"})
    (folder / "me.png").write_bytes(encode(astronaut(), "PNG"))
    code, out, err = run_scrub([folder, "--attributes", "Male", "--output", tmp_path / "out",
                                "--report", tmp_path / "r.json", "--report", tmp_path / "r.html"], capsys)
    assert code == 0, err
    assert "clip.mov -> " in out and "1 person(s) in 1 track(s), 6 frames" in out
    written = tmp_path / "out" / "clip.mov"
    with av.open(str(written)) as clip:
        assert [s.type for s in clip.streams] == ["video"] and "location" not in clip.metadata
    entries = {e["input"].split("/")[-1]: e for e in json.loads((tmp_path / "r.json").read_text())["photos"]}
    assert entries["clip.mov"]["kind"] == "video" and entries["clip.mov"]["video"]["audio"].startswith("dropped")
    assert len(entries["clip.mov"]["sha256"]) == 64 and entries["me.png"]["status"] == "scrubbed"
    page = (tmp_path / "r.html").read_text()
    assert "clip.mov, frame 0" in page and "Person 0 (frames 0-5" in page


def test_the_command_refuses_what_a_clip_cannot_do_in_one_line(tmp_path, capsys, monkeypatch):
    use_small_models(monkeypatch)
    frames, _ = clip_frames("pan", frames=2)
    source = write_clip(tmp_path / "c.mp4", frames)
    for extra, message in ((["--album"], "--album does not apply to videos"),
                           (["--target"], "--target does not apply to videos"),
                           (["--detect-every", "0"], "at least 1"),
                           (["--video-quality", "99"], "0-51 scale"),
                           (["--min-face", "2"], "share of the frame's side")):
        code, _, err = run_scrub([source, "--attributes", "Male", "--output", tmp_path / "o.mp4", *extra], capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(source.read_bytes()[:300])
    code, _, err = run_scrub([broken, "--attributes", "Male", "--output", tmp_path / "o.mp4"], capsys)
    assert code == 2 and "broken.mp4" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.mp4").exists()


def test_without_the_extra_a_clip_gets_a_one_line_error_naming_it(tmp_path, capsys, monkeypatch):
    import builtins

    use_small_models(monkeypatch)
    frames, _ = clip_frames("pan", frames=2)
    source = write_clip(tmp_path / "c.mp4", frames)
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av" or name.startswith("av."):
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    code, _, err = run_scrub([source, "--attributes", "Male", "--output", tmp_path / "o.mp4"], capsys)
    assert code == 2 and "pip install 'infoscrub[video]'" in err and len(err.strip().splitlines()) == 1


def test_the_python_api_in_one_call(tmp_path):
    from infoscrub.video import scrub_clip

    frames, _ = clip_frames("pan", frames=4)
    source = write_clip(tmp_path / "c.mp4", frames)
    report = scrub_clip(make_scrubber(), source, tmp_path / "o.webm", "Male,Smiling", mode="obfuscate", quality=30)
    assert report["status"] == "scrubbed" and report["video"]["codec_out"] == "libvpx-vp9"
    assert report["attributes"] == ["Male", "Smiling"] and len(frames_of(tmp_path / "o.webm")) == 4


def test_frame_by_frame_scrubbing_is_measured_on_the_true_placements(tmp_path):
    from infoscrub.video.compare import clip_flicker, reading_flips, scrub_frame_by_frame

    frames, placements = clip_frames("pan", frames=5)
    source = write_clip(tmp_path / "c.mp4", frames)
    scrubber = make_scrubber()
    reports = scrub_frame_by_frame(scrubber, source, tmp_path / "f.mp4", EditRequest(["Male"]))
    assert len(reports) == 5 and all(r["faces_found"] == 1 for r in reports)
    truth = [[p.matrix for p in placed] for placed in placements]
    measured = clip_flicker(source, tmp_path / "f.mp4", truth)
    assert measured["pairs"] == 4 and measured["edit_change"] > 0 and measured["source_change"] > 0
    tracked = scrub_video(scrubber, source, tmp_path / "t.mp4", options(scrubber, judge_every=1)).report
    assert set(tracked["people"][0]["attacker_flips"]) == {"Male"}
    fake = [{"faces": [{"attacker": {"Male": {"p_after": p}}}]} for p in (0.2, 0.7, 0.8, 0.3, 0.1)]
    assert reading_flips(fake, ["Male"]) == {"Male": 2}


def test_the_steady_edit_damps_an_editor_that_jitters(tmp_path):
    """A stand-in editor whose brightening alternates 0.2 / 0.4 from frame to frame: with the
    steady window (the default) the pasted edit changes far less between frames than with
    each frame's own change, and every frame is still written, in order."""
    frames, _ = clip_frames("pan", frames=9)
    source = write_clip(tmp_path / "c.mp4", frames)
    scrubber = make_scrubber()
    edit = scrubber.editor.edit
    calls = []

    def jittering(faces, *args, **kwargs):
        calls.append(1)
        return edit(faces, *args, **kwargs) + (0.1 if len(calls) % 2 else -0.1)

    scrubber.editor.edit = jittering
    change = {}
    for sigma in (0.0, 2.0):
        calls.clear()
        report = scrub_video(scrubber, source, tmp_path / f"s{sigma}.mp4", options(scrubber, steady=sigma)).report
        assert report["detection"]["steady_sigma_frames"] == sigma
        assert len(frames_of(tmp_path / f"s{sigma}.mp4")) == 9
        change[sigma] = report["flicker"]["edit_change"]
    assert change[2.0] < change[0.0] / 3
    for bad in (-1.0, 13.0):
        with pytest.raises(InfoscrubError, match="--steady is a sigma"):
            scrub_video(scrubber, source, tmp_path / "x.mp4", options(scrubber, steady=bad))
