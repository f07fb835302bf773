"""Tests for edgefer.tracking.FaceTracker: ids through gaps, no swaps, smoothing over time."""
import numpy as np
import pytest

from edgefer.tracking import FaceTracker

FLAT = np.full(7, 1 / 7)


def run(tracker, frames, fps=25.0):
    """Track ids per frame for ``frames`` (lists of boxes) at ``fps``."""
    return [[tid for tid, _ in tracker.update(boxes, np.tile(FLAT, (len(boxes), 1)), i / fps)]
            for i, boxes in enumerate(frames)]


def test_track_keeps_id_through_short_gap_and_not_long_one():
    """A face unseen for 0.6 s keeps its id; one unseen for 1.2 s (gap setting 1 s) gets a new one."""
    moving = [[(100 + 2 * i, 100, 80, 80)] for i in range(60)]
    short = moving[:20] + [[]] * 15 + moving[35:]
    assert {i for ids in run(FaceTracker(), short) for i in ids} == {1}
    long_ = moving[:20] + [[]] * 30 + moving[50:]
    ids = run(FaceTracker(max_gap_s=1.0), long_)
    assert ids[19] == [1] and ids[50] == [2]


def test_track_faces_passing_close_keep_their_ids():
    """Two faces moving past each other 100 px apart (1.25 sides) keep their ids, seen every 5th frame."""
    frames = [[(40 + 8 * i, 100, 80, 80), (440 - 8 * i, 200, 80, 80)] for i in range(0, 50, 5)]
    ids = run(FaceTracker(), frames, fps=5.0)
    assert all(f == [1, 2] for f in ids)
    swapped = [list(reversed(f)) for f in frames]  # detector order changes: ids follow the faces
    ids = run(FaceTracker(), frames[:5] + swapped[5:], fps=5.0)
    assert ids[:5] == [[1, 2]] * 5 and ids[5:] == [[2, 1]] * 5


def test_track_links_override_position():
    """A box followed from a track (``links``) keeps that track even when it jumped."""
    t = FaceTracker()
    (a, _), = t.update([(0, 0, 50, 50)], [FLAT], 0.0)
    (b, _), = t.update([(300, 300, 50, 50)], [FLAT], 0.04, links=[a])
    assert a == b == 1


def test_smoothing_follows_time_constant():
    """After a jump in probabilities, the smoothed value moves 1 - exp(-dt/tau) of the way per frame; 0 turns it off."""
    a, b = np.eye(7)[3], np.eye(7)[6]
    t = FaceTracker(smooth_s=0.5)
    t.update([(0, 0, 50, 50)], [a], 0.0)
    (_, s), = t.update([(0, 0, 50, 50)], [b], 0.1)
    assert s[6] == pytest.approx(1 - np.exp(-0.2)) and s.sum() == pytest.approx(1.0)
    t = FaceTracker(smooth_s=0)
    t.update([(0, 0, 50, 50)], [a], 0.0)
    (_, s), = t.update([(0, 0, 50, 50)], [b], 0.1)
    assert np.array_equal(s, b)


def test_tracker_rejects_bad_settings():
    """Negative or non-number seconds raise ValueError naming the setting."""
    with pytest.raises(ValueError, match="`max_gap_s` must be a number of seconds >= 0"):
        FaceTracker(max_gap_s=-1)
    with pytest.raises(ValueError, match="`smooth_s`"):
        FaceTracker(smooth_s="fast")
