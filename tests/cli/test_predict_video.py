"""`edgefer predict` on videos and the camera path: tracks, smoothing, timeline files (clips built from LFW)."""
import csv
import json
from collections import Counter

import cv2
import pytest
from typer.testing import CliRunner

from edgefer.cli.main import app
from edgefer.labels import CLASSES
from edgefer.timeline import CSV_COLUMNS

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # predict sets one torch thread


def run_json(*args):
    """Face lines and summary lines printed by `edgefer predict ARGS --json`."""
    result = runner.invoke(app, ["predict", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [x for x in lines if "box" in x], [x for x in lines if "tracks" in x]


def ids_by_face(faces, centres):
    """For each true face, the track ids of the detections nearest it (within 60 px), frame order."""
    out = {0: [], 1: []}
    for f in faces:
        x, y, w, h = f["box"]
        near = [(((x + w / 2 - c[0]) ** 2 + (y + h / 2 - c[1]) ** 2) ** 0.5, k)
                for k, c in enumerate(centres[f["frame"]]) if c is not None]
        if near and min(near)[0] < 60:
            out[min(near)[1]].append((f["frame"], f["track"]))
    return out


def dominant_share(pairs):
    """(most common track id, its share of the detections)."""
    tid, n = Counter(t for _, t in pairs).most_common(1)[0]
    return tid, n / len(pairs)


def test_predict_video_keeps_ids_through_a_gap(tiny_checkpoint, gap_clip, tmp_path):
    """Each face keeps one track id for >= 90 % of its detections, also the one hidden for 0.6 s; CSV and plot are written."""
    path, centres = gap_clip
    out = tmp_path / "out"
    faces, (summary,) = run_json(path, "--model", tiny_checkpoint, "--out", out)
    by_face = ids_by_face(faces, centres)
    (a, share_a), (b, share_b) = dominant_share(by_face[0]), dominant_share(by_face[1])
    assert share_a >= 0.9 and share_b >= 0.9 and a != b
    before = [t for i, t in by_face[1] if i < 40]
    after = [t for i, t in by_face[1] if i >= 55]
    assert before and after and Counter(after).most_common(1)[0][0] == Counter(before).most_common(1)[0][0] == b
    assert all(f["time_s"] == pytest.approx(f["frame"] / 25, abs=1e-3) for f in faces)
    assert all(list(f["probabilities"]) == list(CLASSES) and list(f["raw_probabilities"]) == list(CLASSES)
               for f in faces)
    with open(out / "gap.timeline.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(faces)
    assert [int(r["track"]) for r in rows] == [f["track"] for f in faces]
    assert float(rows[-1]["raw_neutral"]) == pytest.approx(faces[-1]["raw_probabilities"]["neutral"], abs=1e-6)
    assert cv2.imread(str(out / "gap.timeline.png")) is not None
    assert cv2.VideoCapture(str(out / "gap.avi")).get(cv2.CAP_PROP_FRAME_COUNT) == 100
    tracks = {t["track"]: t for t in summary["tracks"]}
    assert tracks[b]["frames"] == len([1 for f in faces if f["track"] == b])
    assert tracks[a]["time_in_view_s"] == pytest.approx(tracks[a]["frames"] / 25)
    assert sum(tracks[a]["share"].values()) == pytest.approx(1.0, abs=1e-3)


def test_predict_video_faces_passing_close_keep_apart(tiny_checkpoint, cross_clip, tmp_path):
    """Two faces that pass each other 130 px apart keep distinct track ids for >= 90 % of detections, before and after."""
    path, centres = cross_clip
    faces, _ = run_json(path, "--model", tiny_checkpoint, "--out", tmp_path / "out")
    by_face = ids_by_face(faces, centres)
    (a, share_a), (b, share_b) = dominant_share(by_face[0]), dominant_share(by_face[1])
    assert a != b and share_a >= 0.9 and share_b >= 0.9
    assert {t for i, t in by_face[0] if i > 60} == {a} and {t for i, t in by_face[1] if i > 60} == {b}


def test_predict_camera_path_tracks_and_writes_timeline(tiny_checkpoint, gap_clip, tmp_path):
    """--webcam given a video file runs the live path: the same tracks (>= 90 %), smoothing and a timeline CSV and plot.

    The live path times frames by the wall clock, so the clip's 0.6 s gap lasts as long as its
    15 frames take to process: --max-gap 30 keeps the test about tracking, not about how busy
    the machine is (the file path's test keeps the default 1 s on the clip's own clock)."""
    path, centres = gap_clip
    out = tmp_path / "out"
    faces, (summary,) = run_json("--webcam", path, "--model", tiny_checkpoint, "--max-gap", 30, "--out", out)
    by_face = ids_by_face(faces, centres)
    (a, share_a), (b, share_b) = dominant_share(by_face[0]), dominant_share(by_face[1])
    assert share_a >= 0.9 and share_b >= 0.9 and a != b
    assert all("raw_probabilities" in f and f["time_s"] >= 0 for f in faces)
    assert summary["frames"] == 100 and len(summary["written"]) == 2
    assert (out / "gap.timeline.csv").is_file() and (out / "gap.timeline.png").is_file()


def test_predict_video_smooth_zero_gives_raw(tiny_checkpoint, face_video, tmp_path):
    """--smooth 0: the reported probabilities are each frame's own."""
    faces, _ = run_json(face_video[0], "--model", tiny_checkpoint, "--smooth", 0, "--out", tmp_path / "o")
    assert all(f["probabilities"] == f["raw_probabilities"] for f in faces)
    smoothed, _ = run_json(face_video[0], "--model", tiny_checkpoint, "--out", tmp_path / "p")
    assert smoothed[0]["probabilities"] == smoothed[0]["raw_probabilities"]  # a track starts raw
    assert any(f["probabilities"] != f["raw_probabilities"] for f in smoothed[1:])
