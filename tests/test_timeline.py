"""Tests for edgefer.timeline: rows, per-track summary, CSV and plot."""
import csv

import cv2
import pytest

from edgefer.labels import CLASSES
from edgefer.recognize import Face
from edgefer.timeline import CSV_COLUMNS, Timeline, format_summary


def face(frame, track, label, fps=10.0):
    """A video face of ``track`` at ``frame`` whose smoothed label is ``label`` (p = 0.7)."""
    probs = {c: (0.7 if c == label else 0.05) for c in CLASSES}
    return Face(box=(1, 2, 30, 30), label=label, probabilities=probs, frame=frame, time_s=frame / fps,
                track=track, raw_probabilities={c: 1 / 7 for c in CLASSES})


def test_summary_counts_time_and_shares():
    """Track 1 seen 4 frames (3 happy, 1 sad) at 10 frames/s: 0.4 s in view, happy dominant, shares 0.75/0.25."""
    t = Timeline(frame_s=0.1)
    for i, label in enumerate(["happy", "happy", "sad", "happy"]):
        t.add([face(i, 1, label), *([face(i, 2, "neutral")] if i < 2 else [])])
    s1, s2 = t.summary()
    assert (s1["track"], s1["frames"], s1["time_in_view_s"], s1["dominant"]) == (1, 4, 0.4, "happy")
    assert s1["share"]["happy"] == 0.75 and s1["share"]["sad"] == 0.25 and s1["share"]["angry"] == 0
    assert (s2["first_s"], s2["last_s"], s2["frames"]) == (0.0, 0.1, 2)
    table = format_summary(t.summary()).splitlines()
    assert len(table) == 3 and "happy 75%, sad 25%" in table[1]


def test_frame_time_from_median_gap_when_not_given():
    """Without frame_s the time a frame stands for is the median gap between frame times (a camera)."""
    t = Timeline()
    for i in range(5):
        t.add([face(i, 1, "happy", fps=20.0)])
    assert t.summary()[0]["time_in_view_s"] == pytest.approx(0.25)


def test_csv_and_plot_written(tmp_path):
    """The CSV has the documented columns and one row per face; the plot is a PNG, also with no face."""
    t = Timeline(0.1)
    t.add([face(0, 1, "happy"), face(0, 2, "sad")])
    with open(t.write_csv(tmp_path / "t.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["track"] for r in rows] == ["1", "2"]
    assert float(rows[1]["sad"]) == 0.7 and float(rows[1]["raw_sad"]) == pytest.approx(1 / 7, abs=1e-6)
    assert cv2.imread(str(t.plot(tmp_path / "t.png"))) is not None
    assert cv2.imread(str(Timeline().plot(tmp_path / "empty.png"))) is not None


def test_add_rejects_still_image_faces():
    """A face without track or time (a still image's) raises ValueError."""
    with pytest.raises(ValueError, match="must come from video"):
        Timeline().add([Face(box=(0, 0, 5, 5), label="happy", probabilities={"happy": 1.0})])
