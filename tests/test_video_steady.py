"""The steady edit (``video.steady``): each face's change averaged over a centred window of
frames, so jitter is damped and a change that follows the face is not dragged behind it."""

import numpy as np
import pytest

from infoscrub.video.steady import EditSmoother


def smoother_with(values, sigma=2.0, track=0):
    smoother = EditSmoother(sigma)
    for frame, value in enumerate(values):
        smoother.add(track, frame, np.full((4, 4, 3), float(value), dtype=np.float32))
    return smoother


def test_a_lasting_change_is_kept_and_jitter_is_damped():
    lasting = smoother_with([0.3] * 9)
    assert np.allclose(lasting.steady(0, 4), 0.3)
    jitter = smoother_with([0.3 + (0.1 if f % 2 else -0.1) for f in range(9)])
    steady = [float(jitter.steady(0, f).mean()) for f in range(2, 7)]
    raw_step, steady_step = 0.2, max(abs(a - b) for a, b in zip(steady, steady[1:]))
    assert steady_step < raw_step / 10  # frame-to-frame change of the pasted edit


def test_the_window_is_centred_so_a_forming_change_is_not_dragged_behind():
    ramp = smoother_with([0.1 * f for f in range(11)])
    assert np.allclose(ramp.steady(0, 5), 0.5)  # a running average would give less here
    assert float(ramp.steady(0, 0).mean()) > 0.0  # at a track's start: the frames it has


def test_no_smoothing_and_other_tracks_apart():
    own = smoother_with([0.1, 0.9, 0.1], sigma=0.0)
    assert own.reach == 0 and np.allclose(own.steady(0, 1), 0.9)
    two = smoother_with([0.2] * 5, track=0)
    for frame in range(5):
        two.add(1, frame, np.full((4, 4, 3), -0.4, dtype=np.float32))
    assert np.allclose(two.steady(0, 2), 0.2) and np.allclose(two.steady(1, 2), -0.4)


def test_forget_keeps_what_later_frames_take_in():
    smoother = smoother_with(range(10), sigma=1.0)  # reach 2
    smoother.forget(6)
    assert sorted(smoother.changes[0]) == [4, 5, 6, 7, 8, 9]
    smoother.forget(100)
    assert smoother.changes == {}
    with pytest.raises(KeyError):
        smoother.steady(0, 5)
