"""Faces followed through a clip (``video.tracks``): detections linked into tracks, misses kept
inside a track's span, landmarks filled in and steadied over time."""

import numpy as np

from infoscrub.faces.detect import Face
from infoscrub.video.tracks import (
    EDGE_FRAMES,
    Linker,
    box_of,
    dense_landmarks,
    local_linear_over_time,
    reach_past_ends,
    visible_share,
)


def face_at(x: float, y: float, side: float = 40.0, jitter: np.ndarray | None = None) -> Face:
    points = np.array([[x - 8, y - 5], [x + 8, y - 5], [x, y + 2], [x - 6, y + 9], [x + 6, y + 9]], float)
    if jitter is not None:
        points = points + jitter
    return Face((x - side / 2, y - side / 2, x + side / 2, y + side / 2), 0.99, points)


def test_a_moving_face_is_one_track_and_two_faces_are_two():
    linker = Linker(max_gap=3)
    for frame in range(10):
        ids = linker.add(frame, [face_at(50 + 4 * frame, 60), face_at(200 - 4 * frame, 80)])
        assert ids == [0, 1]
    tracks = linker.finished()
    assert [sorted(t.detected) for t in tracks] == [list(range(10))] * 2 and all(not t.missed for t in tracks)


def test_a_missed_face_keeps_its_track_and_the_misses_are_named():
    linker = Linker(max_gap=3)
    for frame in range(10):
        linker.add(frame, [] if frame in (4, 5) else [face_at(50 + 3 * frame, 60)])
    (track,) = linker.finished()
    assert track.missed == [4, 5] and (track.first, track.last) == (0, 9)
    dense = dense_landmarks(track, sigma=0)
    assert sorted(dense) == list(range(10))  # filled in where it was missed
    assert np.allclose(dense[4].mean(axis=0), [62.0, 62.0], atol=1e-6)  # a third of the way from frame 3 to 6


def test_a_face_gone_longer_than_the_gap_starts_a_new_track_and_leaving_is_no_miss():
    linker = Linker(max_gap=2)
    for frame in range(12):
        linker.add(frame, [face_at(60, 60)] if frame < 4 or frame >= 9 else [])
    first, second = linker.finished()
    assert (first.first, first.last, second.first, second.last) == (0, 3, 9, 11)
    assert first.missed == [] and second.missed == []


def test_smoothing_steadies_jittered_landmarks_and_holds_the_ends():
    rng = np.random.default_rng(0)
    linker = Linker(max_gap=2)
    for frame in range(40):
        linker.add(frame, [face_at(100.0, 80.0, jitter=rng.normal(0, 1.5, (5, 2)))])
    (track,) = linker.finished()
    raw = np.stack([v for _, v in sorted(dense_landmarks(track, sigma=0).items())])
    smooth = np.stack([v for _, v in sorted(dense_landmarks(track, sigma=2.0).items())])
    assert np.abs(np.diff(smooth, axis=0)).mean() < 0.3 * np.abs(np.diff(raw, axis=0)).mean()
    constant = np.ones((7, 3))
    assert np.allclose(local_linear_over_time(constant, 2.0), constant)  # no drift at the ends
    short = np.arange(6.0).reshape(2, 3)  # a track of two frames, shorter than the window: the line through them
    assert np.allclose(local_linear_over_time(short, 2.0), short)
    assert np.allclose(local_linear_over_time(np.full((1, 3), 4.0), 2.0), 4.0)  # one frame: as it is
    x1, y1, x2, y2 = box_of(raw[0])
    assert x1 < 92 and x2 > 108 and y1 < 75 and y2 > 89


def test_smoothing_follows_a_moving_face_to_the_ends_of_its_track():
    """A face moving steadily (a pan) is followed exactly, at the track's first and last
    frames too, where a weighted mean over the lopsided window would lag it by sigma-ish
    pixels; jitter on top is still damped."""
    frames = np.arange(24.0)
    line = np.stack([100.0 + 3.0 * frames, 80.0 - 1.5 * frames], axis=1)
    assert np.allclose(local_linear_over_time(line, 4.0), line)
    jittered = line + np.random.default_rng(1).normal(0, 1.0, line.shape)
    smooth = local_linear_over_time(jittered, 2.0)
    assert np.abs(smooth - line).mean() < 0.6 * np.abs(jittered - line).mean()
    assert np.abs(smooth[[0, -1]] - line[[0, -1]]).max() < 2.5


def walking(xs: list[float], y: float = 80.0) -> dict[int, np.ndarray]:
    """A face's smoothed landmarks, frame -> (5, 2), centred at each x in turn."""
    return {frame: face_at(x, y).landmarks for frame, x in enumerate(xs)}


def test_a_face_leaving_through_the_edge_is_edited_while_part_of_it_is_in_view():
    """Found until its centre is 10 px from the right edge of a 200-px frame, moving 20 px a
    frame: the frames after, while part of it is still in view, are added at its speed; a face
    that vanishes mid-frame, or sits still at the edge, gets no frame made up."""
    leaving = reach_past_ends(walking([130.0, 150.0, 170.0, 190.0]), 200, 160)
    added = sorted(set(leaving) - set(range(4)))
    assert added and added[0] == 4 and len(added) <= EDGE_FRAMES
    assert np.allclose(leaving[added[-1]].mean(axis=0), [190.0 + 20.0 * len(added), 82.0])
    assert visible_share(leaving[added[-1]], 200, 160) > 0
    entering = reach_past_ends({f + 5: v for f, v in walking([10.0, 30.0, 50.0]).items()}, 200, 160)
    assert min(entering) < 5 and min(entering) >= 0
    assert reach_past_ends(walking([80.0, 90.0, 100.0]), 200, 160).keys() == {0, 1, 2}  # vanishes inside
    assert reach_past_ends(walking([195.0, 195.0, 195.0]), 200, 160).keys() == {0, 1, 2}  # still at the edge
    assert reach_past_ends(walking([100.0]), 200, 160).keys() == {0}


def test_the_frames_the_detector_skipped_are_covered_at_a_tracks_ends():
    """Detecting every 3rd frame, a face last found on frame 6 may be on frames 7 and 8, which
    the detector never looked at: they are edited (the last frames of a clip went out
    unedited before); a still face in mid-frame gets nothing more."""
    track = {f: v for f, v in walking([100.0 + 2.0 * f for f in range(7)]).items() if f >= 3}
    ends = reach_past_ends(track, 400, 300, detect_every=3)
    assert sorted(ends) == list(range(1, 9))
    assert np.allclose(ends[8].mean(axis=0), [116.0, 82.0])
    assert sorted(reach_past_ends(track, 400, 300, detect_every=1)) == list(range(3, 7))
