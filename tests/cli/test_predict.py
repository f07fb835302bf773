"""Tests for `edgefer predict` through typer's test runner."""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.cli.main import app
from edgefer.labels import CLASSES

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # predict sets one torch thread


def predict(*args):
    """Run `edgefer predict ARGS` and return the result."""
    return runner.invoke(app, ["predict", *map(str, args)])


def json_lines(result):
    """The JSON objects printed on stdout, one per line."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_predict_astronaut_json(tiny_checkpoint, tmp_path):
    """The example photo gives one face with the face schema's keys (no video keys) and probabilities summing to 1."""
    result = predict(EXAMPLE, "--model", tiny_checkpoint, "--json", "--out", tmp_path / "out", "--detector", "haar")
    assert result.exit_code == 0, result.output
    (face,) = json_lines(result)
    assert list(face) == ["file", "box", "label", "confidence", "probabilities"]
    assert face["file"] == str(EXAMPLE) and face["confidence"] == face["probabilities"][face["label"]]
    assert face["box"] == [177, 66, 95, 95]
    assert face["label"] in CLASSES and list(face["probabilities"]) == list(CLASSES)
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
    assert cv2.imread(str(tmp_path / "out" / "astronaut.jpg")).shape == (512, 512, 3)


def test_predict_human_output(tiny_checkpoint, tmp_path):
    """Without --json, each face is one 'file: label (confidence) at x,y,w,h' line, then where the copy went."""
    result = predict(EXAMPLE, "--model", tiny_checkpoint, "--out", tmp_path / "out", "--detector", "haar")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{EXAMPLE}: ") and lines[0].endswith(" at 177,66,95,95")
    assert lines[0].split(": ")[1].split(" (")[0] in CLASSES
    assert lines[1] == f"{EXAMPLE}: annotated copy written to {tmp_path / 'out' / 'astronaut.jpg'}"


def test_predict_folder_reports_each_bad_file_and_goes_on(tiny_checkpoint, tmp_path):
    """In a folder, the good image gets results, the corrupt one a clear error, the no-face one a note; exit 1."""
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLE, photos / "good.jpg")
    (photos / "corrupt.jpg").write_bytes(EXAMPLE.read_bytes()[:2000])
    (photos / "notes.txt").write_text("not a photo")
    cv2.imwrite(str(photos / "sub" / "blank.png"), np.full((90, 120), 128, np.uint8))
    out = tmp_path / "out"
    result = predict(photos, "--model", tiny_checkpoint, "--json", "--out", out)
    assert result.exit_code == 1
    assert [f["file"] for f in json_lines(result)] == [str(photos / "good.jpg")]
    err = result.stderr.splitlines()
    assert f"error: {photos / 'corrupt.jpg'}: corrupt or truncated image" in result.stderr
    assert f"{photos / 'sub' / 'blank.png'}: no face" in err
    assert any("notes.txt" in line and "not an image or video" in line for line in err)
    assert sum(line.startswith("error:") for line in err) == 1
    assert (out / "photos" / "good.jpg").is_file() and (out / "photos" / "sub" / "blank.png").is_file()
    assert not (out / "photos" / "corrupt.jpg").exists()


def test_predict_explicit_bad_inputs_fail_per_file(tiny_checkpoint, tmp_path):
    """A missing path, a named file of unknown type and an empty folder each get one error line; good inputs still run."""
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = predict(tmp_path / "missing.jpg", notes, empty, EXAMPLE, "--model", tiny_checkpoint,
                     "--json", "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert len(json_lines(result)) == 1
    assert f"error: {tmp_path / 'missing.jpg'}: no such file or folder" in result.stderr
    assert f"error: {notes}: unknown file type '.txt'" in result.stderr
    assert f"error: {empty}: no images or videos in this folder" in result.stderr
    assert "3 input(s) failed" in result.stderr


def test_predict_never_writes_over_input_or_existing_file(tiny_checkpoint, tmp_path):
    """--out refuses an input's own path and an existing file (results still printed); --overwrite replaces only the latter."""
    photo = tmp_path / "astronaut.jpg"
    shutil.copy(EXAMPLE, photo)
    original = photo.read_bytes()
    into_input = predict(photo, "--model", tiny_checkpoint, "--json", "--out", tmp_path)
    assert into_input.exit_code == 1 and "is an input file; refusing to write over it" in into_input.stderr
    assert photo.read_bytes() == original and len(json_lines(into_input)) == 1
    out = tmp_path / "out"
    out.mkdir()
    (out / "astronaut.jpg").write_bytes(b"existing")
    again = predict(photo, "--model", tiny_checkpoint, "--out", out)
    assert again.exit_code == 1 and "already exists; pass --overwrite" in again.stderr
    assert (out / "astronaut.jpg").read_bytes() == b"existing"
    assert predict(photo, "--model", tiny_checkpoint, "--out", out, "--overwrite").exit_code == 0
    assert cv2.imread(str(out / "astronaut.jpg")) is not None
    assert predict(photo, "--model", tiny_checkpoint, "--out", tmp_path, "--overwrite").exit_code == 1
    assert photo.read_bytes() == original


def test_predict_video_every_2(tiny_checkpoint, face_video, tmp_path):
    """A 7-frame video with --every 2 gives faces on frames 0, 2, 4, 6 and a 4-frame annotated video."""
    path, _ = face_video
    out = tmp_path / "out"
    result = predict(path, "--model", tiny_checkpoint, "--json", "--every", 2, "--out", out)
    assert result.exit_code == 0, result.output
    *faces, summary = json_lines(result)
    assert [f["frame"] for f in faces] == [0, 2, 4, 6]
    assert all(f["file"] == str(path) and len(f["box"]) == 4 for f in faces)
    assert list(faces[0]) == ["file", "frame", "box", "label", "confidence", "probabilities",
                              "time_s", "track", "raw_probabilities"]
    assert [f["time_s"] for f in faces] == [0.0, 0.2, 0.4, 0.6]  # 10 frames/s
    assert {f["track"] for f in faces} == {1}
    assert summary["file"] == str(path) and summary["frames"] == 4 and summary["tracks"][0]["frames"] == 4
    assert summary["tracks"][0]["time_in_view_s"] == pytest.approx(0.8)
    cap = cv2.VideoCapture(str(out / "face.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    cap.release()


def test_predict_unreadable_video_is_clear(tiny_checkpoint, tmp_path):
    """A text file named .mp4 is reported as not openable as a video, naming the file; exit 1."""
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video\n" * 10)
    result = predict(fake, "--model", tiny_checkpoint, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert f"error: {fake}: cannot open as a video" in result.stderr
    assert not (tmp_path / "out" / "clip.mp4").exists()


def test_predict_webcam_that_cannot_open(tiny_checkpoint):
    """--webcam with a camera that does not exist exits 1 naming the camera."""
    result = runner.invoke(app, ["predict", "--webcam", "97", "--model", str(tiny_checkpoint)])
    assert result.exit_code == 1 and "camera 97: cannot be opened" in result.stderr


def test_predict_needs_input_and_known_model(tmp_path):
    """No INPUT, or an unknown model name, is a clear error with exit code 1."""
    assert "give at least one INPUT" in runner.invoke(app, ["predict"]).stderr
    result = predict(EXAMPLE, "--model", "no_such_model", "--out", tmp_path)
    assert result.exit_code == 1 and "'no_such_model' is neither a model file nor a shipped model" in result.stderr


def test_predict_out_equal_to_input_folder_is_named(tiny_checkpoint, tmp_path):
    """--out equal to an input folder is an error that says so, not 'no images or videos'."""
    shutil.copy(EXAMPLE, tmp_path / "a.jpg")
    result = predict(tmp_path, "--model", tiny_checkpoint, "--out", tmp_path)
    assert result.exit_code == 1
    assert f"error: {tmp_path}: is the --out folder" in result.stderr and "choose another --out" in result.stderr
    assert "no images or videos" not in result.stderr and sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_predict_closed_stdout_ends_quietly_and_keeps_writing(tiny_checkpoint, tmp_path):
    """`predict FOLDER --json | head -1`: exit 0, no error on stderr, and every annotated copy still written."""
    import os
    import subprocess
    import sys
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        shutil.copy(EXAMPLE, folder / f"a{i}.jpg")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "predict", str(folder), "--json", "--model",
                             str(tiny_checkpoint), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # like head -1: the reader goes away while files remain
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert json.loads(first)["file"].endswith(".jpg")
    assert "Broken pipe" not in err and "Error" not in err
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == [f"a{i}.jpg" for i in range(6)]


def test_predict_detector_option(tiny_checkpoint, tmp_path):
    """--detector mtcnn finds the example's face near Haar's box; an unknown detector is a clear error."""
    result = predict(EXAMPLE, "--model", tiny_checkpoint, "--detector", "mtcnn", "--json", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    (face,) = json_lines(result)
    x, y, w, h = face["box"]
    assert abs(x + w / 2 - 224) < 12 and abs(y + h / 2 - 113) < 12 and 80 < w < 120
    bad = predict(EXAMPLE, "--model", tiny_checkpoint, "--detector", "yolo", "--out", tmp_path / "p")
    assert bad.exit_code == 1 and "unknown face detector 'yolo'; choose one of: haar, mtcnn" in bad.stderr


def test_serve_passes_detector_to_the_app(tiny_checkpoint, monkeypatch):
    """`edgefer serve --detector mtcnn` builds the app on a Recognizer that uses MTCNN."""
    import uvicorn

    import edgefer.web
    seen = {}
    monkeypatch.setattr(edgefer.web, "create_app", lambda rec, **kw: seen.setdefault("rec", rec))
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    result = runner.invoke(app, ["serve", "--model", str(tiny_checkpoint), "--detector", "mtcnn"])
    assert result.exit_code == 0, result.output
    assert seen["rec"].detector.name == "mtcnn"


def test_predict_finds_faces_with_mtcnn_by_default(tiny_checkpoint, tmp_path):
    """predict's default detector is MTCNN (docs/detectors.md): the astronaut's face, framed like
    Haar's box (within 10 pixels of it)."""
    from edgefer.cli._options import DEFAULT_DETECTOR
    assert DEFAULT_DETECTOR == "mtcnn"
    result = predict(EXAMPLE, "--model", tiny_checkpoint, "--json", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    (face,) = json_lines(result)
    assert max(abs(a - b) for a, b in zip(face["box"], (177, 66, 95, 95))) <= 10
