"""Reading and writing clips (``video.container``): upright frames with their own times, no
metadata or extra streams written, audio only on purpose, bad clips refused in one line."""

from fractions import Fraction

import numpy as np
import pytest
from conftest_video import clip_frames

from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import write_atomic
from infoscrub.video.container import Frame, VideoLimits, VideoWriter, probe, read_frames
from infoscrub.video.synthetic import write_clip, write_silence

av = pytest.importorskip("av", reason="videos need the extra infoscrub[video]")

TAGS = {"creation_time": "2026-01-02T03:04:05Z", "location": "+52.3700+004.8900/", "make": "SpyPhone Inc",
        "model": "SpyPhone X1 Pro", "encoder": "SpyCam firmware 7"}


def copy_clip(source, destination, keep_audio=False):
    info = probe(source)
    template = av.open(str(source)) if keep_audio else None

    def write(stream):
        writer = VideoWriter(stream, destination.suffix, info,
                             audio_from=template.streams.audio[0] if template is not None else None)
        for item in read_frames(source, info, audio_packets=keep_audio):
            writer.write(item.rgb, item.pts) if isinstance(item, Frame) else writer.copy(item)
        writer.close()

    write_atomic(write, destination)
    return info


def test_rotation_is_applied_and_times_metadata_and_audio_handled(tmp_path):
    frames, _ = clip_frames("pan", frames=8)
    times = [0.0, 0.04, 0.08, 0.2, 0.24, 0.5, 0.54, 0.58]  # a variable frame rate
    source = write_clip(tmp_path / "phone.mp4", frames, fps=25, rotation=90, times=times, audio_seconds=1.0,
                        metadata=TAGS)
    info = probe(source)
    assert info.rotation == 90 and (info.width, info.height) == (320, 240) and info.audio == "aac"
    upright = [item for item in read_frames(source, info) if isinstance(item, Frame)]
    assert upright[0].rgb.shape == (240, 320, 3)
    assert np.abs(upright[3].rgb.astype(int) - frames[3]).mean() < 6  # turned back as the phone shows it
    out = tmp_path / "out.mp4"
    copy_clip(source, out)
    with av.open(str(out)) as written:
        tags = dict(written.metadata)
        assert not set(tags) & set(TAGS) and "SpyPhone" not in str(tags)
        assert [s.type for s in written.streams] == ["video"]  # the audio is dropped
        decoded = list(written.decode(video=0))
        assert [round(f.time, 3) for f in decoded] == times
        assert decoded[0].rotation == 0 and (decoded[0].width, decoded[0].height) == (320, 240)
    data = out.read_bytes()
    assert all(value.encode() not in data for value in TAGS.values())
    with_audio = tmp_path / "with_audio.mp4"
    copy_clip(source, with_audio, keep_audio=True)
    with av.open(str(with_audio)) as written, av.open(str(source)) as original:
        assert [s.type for s in written.streams] == ["video", "audio"]
        assert len(list(written.demux(audio=0))) == len(list(original.demux(audio=0)))


def test_ten_bit_alpha_and_odd_sizes_are_read_and_an_odd_size_is_kept(tmp_path):
    frames, _ = clip_frames("zoom", frames=3, width=65, height=49)
    ten_bit = write_clip(tmp_path / "ten.mkv", frames, codec="ffv1", pixel_format="yuv420p10le")
    alpha = write_clip(tmp_path / "alpha.mov", frames, codec="png", pixel_format="rgba")
    for clip in (ten_bit, alpha):
        info = probe(clip)
        got = [item.rgb for item in read_frames(clip, info)]
        assert len(got) == 3 and got[0].dtype == np.uint8 and got[0].shape == (49, 65, 3)
        assert np.abs(got[1].astype(int) - frames[1]).mean() < 6
    out = tmp_path / "odd.mp4"
    copy_clip(alpha, out)
    assert (probe(out).width, probe(out).height) == (65, 49)


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20), "not a readable video"),
    (lambda p: p.write_bytes(b""), "not a readable video"),
    (lambda p: p.mkdir(), "is not a file"),
])
def test_what_is_not_a_clip_is_refused_in_one_line(tmp_path, make, words):
    path = tmp_path / "clip.mp4"
    make(path)
    with pytest.raises(InfoscrubError, match=words) as caught:
        probe(path)
    assert "\n" not in str(caught.value)


def test_a_clip_without_video_or_cut_short_is_refused(tmp_path):
    sound = tmp_path / "voice.mp4"
    with av.open(str(sound), "w") as out:
        write_silence(out, out.add_stream("aac", rate=16000), 1.0)
    with pytest.raises(InfoscrubError, match="has no video stream"):
        probe(sound)
    frames, _ = clip_frames("pan", frames=30)
    whole = write_clip(tmp_path / "whole.mkv", frames, fps=10, codec="ffv1", pixel_format="yuv420p")  # 3 s
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InfoscrubError, match="ends at|damaged|not a readable"):
        info = probe(cut)
        list(read_frames(cut, info))


def test_limits_refuse_huge_frames_and_long_clips(tmp_path):
    frames, _ = clip_frames("pan", frames=5)
    clip = write_clip(tmp_path / "c.mp4", frames, fps=2)
    with pytest.raises(InfoscrubError, match="megapixels a frame"):
        probe(clip, VideoLimits(max_pixels=320 * 200))
    with pytest.raises(InfoscrubError, match="s long, over the limit"):
        probe(clip, VideoLimits(max_seconds=1.0))
    with pytest.raises(InfoscrubError, match="frames, over the limit"):
        probe(clip, VideoLimits(max_frames=3))


def test_a_failed_write_leaves_no_file(tmp_path):
    frames, _ = clip_frames("pan", frames=3)
    source = write_clip(tmp_path / "c.mp4", frames)
    info = probe(source)
    out = tmp_path / "out.mp4"

    def write(stream):
        writer = VideoWriter(stream, ".mp4", info)
        writer.write(frames[0], 0)
        raise InfoscrubError("stopped half-way")

    with pytest.raises(InfoscrubError, match="half-way"):
        write_atomic(write, out)
    assert list(tmp_path.iterdir()) == [source]
    assert Fraction(info.time_base) > 0
