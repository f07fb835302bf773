"""Input hardening (issue #8), part 1: the commands ``predict``, ``evaluate``, ``train``, ``data summary``.

Each bad input gets one ``error: <file>: <problem>`` line and a non-zero exit; a batch
(``predict``) goes on with the rest and exits 1 at the end; odd-but-valid inputs give results.
No Python traceback, ever. The matrix itself is described in test_inputs.py.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.cli.main import app

runner = CliRunner()

BAD = ["empty", "truncated_jpeg", "truncated_png", "random_bytes", "text_file", "eps_named_jpeg", "bomb",
       "over_max_pixels", "symlink_loop", "broken_symlink"]
ODD = ["one_pixel_png", "one_pixel_jpeg", "png16", "png16_low", "rgba", "cmyk_jpeg", "palette_gif", "exif_rotated",
       "corrupt_exif", "unicode_path"]
TRACEBACK = "Traceback (most recent call last)"


pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # predict sets one torch thread


def invoke(*args):
    """Run ``edgefer ARGS`` in-process; fail on any exception other than a clean exit."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert TRACEBACK not in result.output
    return result


def error_line(output: str, path: Path, rx: str) -> None:
    """Exactly one ``error: <path>: ...`` line, and it matches ``rx``."""
    lines = [ln for ln in output.splitlines() if ln.startswith(f"error: {path}: ")]
    assert len(lines) == 1, output
    assert re.search(rx, lines[0][len(f"error: {path}: "):]), lines[0]


def json_lines(text: str) -> list[dict]:
    """The JSON objects printed one per line."""
    return [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]


def test_matrix_lists_match_conftest(inputs):
    """The parametrize lists here name every input conftest builds, in order."""
    assert BAD == list(inputs.problems) and ODD == list(inputs.odd)


# --------------------------------------------------------------------------- edgefer predict: one batch of everything


@pytest.fixture(scope="module")
def batch(tiny_checkpoint, tmp_path_factory, inputs):
    """One real ``edgefer predict --json`` process over every bad and odd input, the photo and its EXIF-turned copy."""
    b = inputs
    root = tmp_path_factory.mktemp("batch")
    bad = {kind: b.write_bad(kind, root / "bad") for kind in BAD}
    empty_dir = root / "bad" / "folder.jpg"
    empty_dir.mkdir()
    odd = {kind: b.write_odd(kind, root / "odd" / kind)[0] for kind in ODD}
    photo = root / "good" / "astronaut.jpg"
    photo.parent.mkdir()
    shutil.copy(b.astronaut, photo)
    turned = b.rotated_astronaut(root / "good" / "turned astronaut.jpg")
    out = root / "out"
    args = [*bad.values(), empty_dir, *odd.values(), photo, turned]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "edgefer", "predict", *map(str, args), "--model",
                           str(tiny_checkpoint), "--json", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    return dict(proc=proc, bad=bad, empty_dir=empty_dir, odd=odd, photo=photo, turned=turned, out=out,
                problems=b.problems)


def test_predict_batch_exits_1_counting_every_failure(batch):
    """The batch exits 1, says how many inputs failed (the bad files and the empty folder) and prints no traceback."""
    proc = batch["proc"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert TRACEBACK not in proc.stderr and TRACEBACK not in proc.stdout
    assert f"{len(BAD) + 1} input(s) failed" in proc.stderr
    assert sum(ln.startswith("error:") for ln in proc.stderr.splitlines()) == len(BAD) + 1


@pytest.mark.parametrize("kind", BAD)
def test_predict_batch_bad_file_one_error_line(batch, kind):
    """Each bad file gets one error line naming it and its problem, and no annotated copy."""
    path = batch["bad"][kind]
    error_line(batch["proc"].stderr, path, batch["problems"][kind])
    assert not (batch["out"] / path.name).exists()


def test_predict_batch_directory_named_like_image(batch):
    """A directory named folder.jpg is searched as a folder: 'no images or videos in this folder'."""
    error_line(batch["proc"].stderr, batch["empty_dir"], r"no images or videos in this folder")


@pytest.mark.parametrize("kind", ODD)
def test_predict_batch_odd_image_read_no_face(batch, kind):
    """Each odd but valid image is read: 'no face' (not an error) and an annotated copy written."""
    path = batch["odd"][kind]
    assert f"{path}: no face" in batch["proc"].stderr.splitlines()
    copy = batch["out"] / path.name
    assert copy.with_suffix(".png" if copy.suffix == ".gif" else copy.suffix).is_file()


def test_predict_batch_good_photos_still_predicted(batch):
    """The photo and its EXIF-turned copy each give one face, the turned one upright at the same box
    (within 4 px); predict's default detector (MTCNN) frames it like Haar's (177, 66, 95, 95)."""
    faces = {f["file"]: f for f in json_lines(batch["proc"].stdout)}
    assert set(faces) == {str(batch["photo"]), str(batch["turned"])}
    box = faces[str(batch["photo"])]["box"]
    assert np.abs(np.subtract(box, [177, 66, 95, 95])).max() <= 10
    assert np.abs(np.subtract(faces[str(batch["turned"])]["box"], box)).max() <= 4
    assert (batch["out"] / "turned astronaut.jpg").is_file()


def test_predict_folder_reports_links_and_bad_files(tiny_checkpoint, tmp_path, inputs):
    """In a folder: each bad file (links too) an error, a folder link a 'skipped' note, the photo its face; exit 1."""
    photos = tmp_path / "phötös"
    bad = {kind: inputs.write_bad(kind, photos / "sub") for kind in BAD}
    shutil.copy(inputs.astronaut, photos / "astronaut.jpg")
    os.symlink(photos, photos / "sub" / "up")  # a link back up: not followed, no endless walk
    result = invoke("predict", photos, "--model", tiny_checkpoint, "--json", "--out", tmp_path / "out")
    assert result.exit_code == 1
    for kind, path in bad.items():
        error_line(result.stderr, path, inputs.problems[kind])
    assert f"skipped: {photos / 'sub' / 'up'}: symbolic link to a folder, not followed" in result.stderr
    assert [f["file"] for f in json_lines(result.stdout)] == [str(photos / "astronaut.jpg")]
    assert f"{len(BAD)} input(s) failed" in result.stderr


def test_predict_out_is_a_file(tiny_checkpoint, tmp_path, inputs):
    """--out naming an existing file is refused before anything runs."""
    (tmp_path / "out").write_text("x")
    result = invoke("predict", inputs.astronaut, "--model", tiny_checkpoint, "--out", tmp_path / "out")
    assert result.exit_code == 1 and f"--out {tmp_path / 'out'}: exists and is not a folder" in result.stderr


def test_predict_model_empty_file(tmp_path, inputs):
    """An empty checkpoint file exits 1 naming it, no traceback."""
    (tmp_path / "m.pt").write_bytes(b"")
    result = invoke("predict", inputs.astronaut, "--model", tmp_path / "m.pt", "--out", tmp_path / "out")
    assert result.exit_code == 1 and f"error: {tmp_path / 'm.pt'}: empty file (0 bytes), not a checkpoint" in result.stderr


def test_predict_and_evaluate_model_directory(tmp_path, inputs):
    """A folder given as --model exits 1 naming it and saying it is a folder, no traceback."""
    (tmp_path / "m.pt").mkdir()
    for result in (invoke("predict", inputs.astronaut, "--model", tmp_path / "m.pt", "--out", tmp_path / "out"),
                   evaluate(tmp_path, tmp_path / "m.pt")):
        assert result.exit_code == 1
        error_line(result.output, tmp_path / "m.pt", r"is a (folder|directory)")


# --------------------------------------------------------------------------- evaluate and train on image folders


def _faces(root: Path, inputs) -> Path:
    """Class folders happy/ and sad/ with four 48x48 noise crops each."""
    for k, cls in enumerate(("happy", "sad")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            inputs.noise(seed=10 * k + i).save(root / cls / f"face {i}.png")
    return root


def evaluate(data, model, split="all"):
    """``edgefer evaluate`` of ``model`` on ``split`` of ``data``, JSON output."""
    return invoke("evaluate", "--data", data, "--model", model, "--split", split, "--json")


def train(data, out, split="all"):
    """``edgefer train`` of a tiny model for one step on ``split`` of ``data``, no validation."""
    return invoke("train", "--data", data, "--model", "fernet_small", "--arg", "fusion=none", "--split", split,
                  "--val-split", "none", "--batch-size", "4", "--max-steps", "1", "--out", out, "--json")


def cv(data, out):
    """``edgefer cv`` of a tiny model, 2 folds, one step each."""
    return invoke("cv", "--data", data, "--model", "fernet_small", "--arg", "fusion=none", "--folds", "2",
                  "--batch-size", "4", "--max-steps", "1", "--out", out, "--json")


@pytest.mark.parametrize("kind", BAD)
def test_evaluate_and_train_bad_image_in_data(tiny_checkpoint, tmp_path, inputs, kind):
    """A bad file in the data set: evaluate and train each exit 1 with one error naming it, before any training."""
    root = _faces(tmp_path / "faces", inputs)
    bad = inputs.write_bad(kind, root / "sad")
    for result in (evaluate(root, tiny_checkpoint), train(root, tmp_path / "run")):
        assert result.exit_code == 1
        error_line(result.output, bad, inputs.problems[kind])
    assert not (tmp_path / "run" / "best.pt").exists()


def test_evaluate_and_train_truncated_photo_named(tiny_checkpoint, tmp_path, inputs):
    """A photo with a good header but cut data (decoded only when used) is named by evaluate, train and
    cv, exit 1."""
    root = tmp_path / "photos"
    (root / "happy").mkdir(parents=True)
    inputs.noise((120, 90)).save(root / "happy" / "ok.png")
    data = inputs.encode(inputs.noise((100, 80)), "PNG")
    (root / "happy" / "cut.png").write_bytes(data[:len(data) // 2])
    for result in (evaluate(root, tiny_checkpoint), train(root, tmp_path / "run"), cv(root, tmp_path / "cv")):
        assert result.exit_code == 1
        error_line(result.output, root / "happy" / "cut.png", r"corrupt or truncated image")


def test_evaluate_and_train_odd_images_unicode_folder(tiny_checkpoint, tmp_path, inputs):
    """Every odd-but-valid image, in folders with unicode names and spaces, is evaluated and trained on (exit 0)."""
    root = tmp_path / "dätä sét"
    for kind in ODD:
        inputs.write_odd(kind, root / ("happy", "sad")[ODD.index(kind) % 2] / kind)
    result = evaluate(root, tiny_checkpoint)
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout)[-1]["n"] == len(ODD)
    result = train(root, tmp_path / "rün")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rün" / "best.pt").is_file()


def test_data_summary_counts_without_decoding(tmp_path, inputs):
    """`data summary` counts image files by name (documented: nothing is decoded), bad ones included, exit 0."""
    root = _faces(tmp_path / "faces", inputs)
    for kind in BAD:
        inputs.write_bad(kind, root / "sad")
    result = invoke("data", "summary", root, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["splits"]["all"]["per_class"]["sad"] == 4 + len(BAD)


@pytest.mark.parametrize("what", ["loop", "image file", "empty folder", "missing"])
def test_commands_bad_data_path(tiny_checkpoint, tmp_path, inputs, what):
    """--data as a symlink loop, an image, an empty folder or a missing path: one error naming it, every command."""
    path = tmp_path / "data"
    message = {"loop": r"symbolic link loop", "image file": r"not a data set", "empty folder": r"empty folder",
               "missing": r"no such file or folder"}[what]
    if what == "loop":
        os.symlink(path, path)
    elif what == "image file":
        path = tmp_path / "astronaut.jpg"
        shutil.copy(inputs.astronaut, path)
    elif what == "empty folder":
        path.mkdir()
    for result in (invoke("data", "summary", path), evaluate(path, tiny_checkpoint), train(path, tmp_path / "run")):
        assert result.exit_code in (1, 2)
        error_line(result.output, path, message)


# --------------------------------------------------------------------------- FER-2013 CSV through the commands


def _csv(path: Path, rows: list[str], *, bom: bool = False, crlf: bool = False, header: str = "emotion,pixels,Usage"
         ) -> Path:
    end = "\r\n" if crlf else "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (end.join([header, *rows]) + end).encode())
    return path


def _row(label, seed: int, n: int = 2304, usage: str = "Training", extra: str = "") -> str:
    pixels = " ".join(map(str, np.random.default_rng(seed).integers(0, 256, n)))
    return f"{label},{pixels},{usage}{extra}"


CSV_BAD = {
    "short pixel row": ([_row(0, 1), _row(1, 2, n=2303)], r"row 1 \(line 3\): 2303 pixel values, expected 2304"),
    "non-numeric label": ([_row(0, 1), _row("happy", 2)], r"row 1 \(line 3\): label 'happy' is not an integer 0\.\.6"),
    "missing column": ([_row(0, 1), "3,1 2 3"], r"row 1 \(line 3\): 2 columns, expected at least 3"),
}


@pytest.mark.parametrize("case", list(CSV_BAD))
def test_commands_bad_csv_row(tiny_checkpoint, tmp_path, case):
    """A short pixel row, a non-numeric label or a missing column: summary, evaluate and train exit 1 naming the row."""
    rows, message = CSV_BAD[case]
    path = _csv(tmp_path / "fer 2013.csv", rows)
    for result in (invoke("data", "summary", path), evaluate(path, tiny_checkpoint, "train"),
                   train(path, tmp_path / "run", "train")):
        assert result.exit_code == 1
        error_line(result.output, path, message)


@pytest.mark.parametrize("case, message", [("not utf-8", r"line 4: not UTF-8 text \(byte 0xe9 at column 6\)"),
                                           ("huge field", r"line 4: not valid CSV \(field larger than field limit")])
def test_commands_binary_csv(tiny_checkpoint, tmp_path, case, message):
    """A Latin-1 byte or a 200 kB field in the CSV: one error naming file and line, no traceback."""
    path = _csv(tmp_path / "f.csv", [_row(0, 1), _row(1, 2), "x"])
    data = path.read_bytes()
    junk = b"2,caf\xe9,Training\n" if case == "not utf-8" else b"2," + b"7" * 200_000 + b",Training\n"
    path.write_bytes(data[:data.rindex(b"x")] + junk)
    for result in (invoke("data", "summary", path), evaluate(path, tiny_checkpoint, "train"),
                   train(path, tmp_path / "run", "train")):
        assert result.exit_code == 1
        error_line(result.output, path, message)


def test_commands_csv_bom_crlf_extra_column(tiny_checkpoint, tmp_path):
    """A CSV with a BOM, CRLF ends and an extra column is summarized, evaluated and trained on (exit 0)."""
    rows = [_row(k % 7, k, extra=f",note {k}") for k in range(8)]
    path = _csv(tmp_path / "fer.csv", rows, bom=True, crlf=True, header="emotion,pixels,Usage,comment")
    summary = invoke("data", "summary", path, "--json")
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["splits"]["train"]["total"] == 8
    result = evaluate(path, tiny_checkpoint, "train")
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout)[-1]["n"] == 8
    result = train(path, tmp_path / "run", "train")
    assert result.exit_code == 0, result.output
