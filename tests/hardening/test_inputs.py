"""Input hardening (issue #8), part 1: the readers. Every hostile or odd input, one place.

The matrix, by entry point (bad images: conftest.BAD_IMAGES; odd but valid: conftest.ODD_IMAGES):

* ``edgefer.io.read_image`` and ``edgefer.data.folders.read_gray``: this file.
* data readers (``load_dataset`` on class folders, FER-2013 CSV, LFW legend): this file.
* ``edgefer predict`` / ``evaluate`` / ``train`` / ``data summary``: test_inputs_cli.py.
* ``POST /api/predict``: test_inputs_api.py (tests/web/test_api.py already covers random
  bytes, a truncated JPEG, a text file, EPS, an empty file and a 30000x30000 bomb there).
* Already covered elsewhere, not repeated: FER CSV short pixel row, non-numeric label, BOM +
  CRLF + extra column (tests/data/test_fer_csv.py); corrupt image in class folders
  (tests/data/test_folders.py); corrupt/empty/pickled checkpoints
  (tests/hardening/test_interrupt_and_untrusted.py).

Errors are one ImageReadError / DataError whose message starts with the file and names the
problem; odd formats come back as uint8 with the right shape and pixels.
"""
from __future__ import annotations

import csv
import logging
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgefer.data import load_dataset, read_fer_csv
from edgefer.data.folders import read_gray, read_gray_images
from edgefer.data.lfw import index_lfw
from edgefer.errors import DataError, ImageReadError
from edgefer.io import IMAGE_EXTENSIONS, read_image

BAD = ["empty", "truncated_jpeg", "truncated_png", "random_bytes", "text_file", "eps_named_jpeg", "bomb",
       "over_max_pixels", "symlink_loop", "broken_symlink"]
"""conftest.BAD_IMAGES, in order (parametrize ids)."""

ODD = ["one_pixel_png", "one_pixel_jpeg", "png16", "png16_low", "rgba", "cmyk_jpeg", "palette_gif", "exif_rotated",
       "corrupt_exif", "unicode_path"]
"""conftest.ODD_IMAGES."""

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_names(message: str, path: Path, rx: str) -> None:
    """The message starts with the file and then matches ``rx``."""
    assert message.startswith(f"{path}: "), message
    assert re.search(rx, message[len(str(path)) + 2:]), message


def test_matrix_lists_match_conftest(inputs):
    """The parametrize lists here name every input conftest builds, in order."""
    assert BAD == list(inputs.problems) and ODD == list(inputs.odd)


# --------------------------------------------------------------------------- read_image, read_gray


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("reader", ["read_image", "read_image_gray", "read_gray"])
def test_read_image_bad_input_one_error_naming_file(tmp_path, inputs, kind, reader):
    """Each bad file raises one ImageReadError starting with its path and naming the problem."""
    path = inputs.write_bad(kind, tmp_path)
    read = {"read_image": read_image, "read_image_gray": lambda p: read_image(p, gray=True),
            "read_gray": read_gray}[reader]
    with pytest.raises(ImageReadError) as info:
        read(path)
    assert_names(str(info.value), path, inputs.problems[kind])


@pytest.mark.parametrize("reader", [read_image, read_gray])
def test_read_image_directory_named_like_an_image(tmp_path, reader):
    """A directory named photo.jpg raises ImageReadError 'is a directory'."""
    folder = tmp_path / "photo.jpg"
    folder.mkdir()
    with pytest.raises(ImageReadError, match=re.escape(f"{folder}: is a directory, expected an image file")):
        reader(folder)


def test_read_image_fifo_is_not_a_regular_file(tmp_path):
    """A named pipe with an image name is refused at once (no hang waiting for a writer)."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match=re.escape(f"{fifo}: not a regular file")):
        read_image(fifo)


@pytest.mark.parametrize("kind", ODD)
def test_read_image_odd_formats_uint8_right_pixels(tmp_path, inputs, kind):
    """1x1, 16-bit, RGBA, CMYK, palette, EXIF-rotated and unicode-path images read as uint8 (H, W[, 3]), upright."""
    path, gray, tol = inputs.write_odd(kind, tmp_path)
    bgr = read_image(path)
    assert bgr.dtype == np.uint8 and bgr.shape == (*gray.shape, 3)
    for got in (read_image(path, gray=True), read_gray(path)):
        assert got.dtype == np.uint8 and got.shape == gray.shape
        assert np.abs(got.astype(int) - gray).max() <= tol


def test_read_image_colours_of_rgba_cmyk_palette(tmp_path, inputs):
    """RGBA loses its alpha, CMYK cyan + yellow ink is green, a palette pixel takes its palette colour; all as BGR."""
    for kind, bgr in (("rgba", (50, 100, 200)), ("cmyk_jpeg", (0, 255, 0)), ("palette_gif", (0, 200, 0))):
        path, _, tol = inputs.write_odd(kind, tmp_path / kind)
        got = read_image(path)
        assert np.abs(got.reshape(-1, 3).astype(int) - bgr).max() <= tol, kind


@pytest.mark.parametrize("ext", ["jpg", "png", "webp"])
@pytest.mark.parametrize("orientation, turn", [(3, 2), (6, 1), (8, 3)])
def test_read_gray_exif_orientation_upright(tmp_path, ext, orientation, turn):
    """A crop stored turned, with EXIF orientation 3, 6 or 8, reads upright (bright half on top) by both readers."""
    upright = np.zeros((40, 60), np.uint8)
    upright[:20] = 200
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned.{ext}"
    stored = np.ascontiguousarray(np.rot90(upright, turn))
    Image.fromarray(stored).save(path, exif=exif, **({"quality": 95} if ext != "png" else {}))
    for got in (read_image(path, gray=True), read_gray(path)):
        assert got.shape == (40, 60)
        assert got[:20].mean() > 190 and got[20:].mean() < 10


def test_read_bomb_refused_before_decoding(tmp_path, inputs, monkeypatch):
    """A header declaring too many pixels is refused without PIL or OpenCV decoding anything."""
    import cv2

    from edgefer import io as eio
    monkeypatch.setattr(eio, "_pil_to_array", lambda *a, **k: pytest.fail("decoded by PIL"))
    monkeypatch.setattr(cv2, "imread", lambda *a, **k: pytest.fail("decoded by OpenCV"))
    for kind in ("bomb", "over_max_pixels"):
        path = inputs.write_bad(kind, tmp_path)
        for reader in (read_image, read_gray):
            with pytest.raises(ImageReadError, match="refused before decoding"):
                reader(path)


def test_read_image_max_pixels_argument(tmp_path, inputs):
    """max_pixels lowers the limit: a 64x64 image is refused at 4000 pixels, naming its size."""
    path, _, _ = inputs.write_odd("png16", tmp_path)
    with pytest.raises(ImageReadError, match=r"declares 64x64 = 4,096 pixels, over the limit of 4,000"):
        read_image(path, max_pixels=4000)


def test_read_image_pil_warning_is_one_log_line_naming_file(tmp_path, inputs, caplog, recwarn):
    """Damage PIL reads past (corrupt EXIF) is logged once, naming the file, and no Python warning
    escapes; for a file that cannot be read, its one error is all there is."""
    path, _, _ = inputs.write_odd("corrupt_exif", tmp_path)
    with caplog.at_level(logging.WARNING, logger="edgefer.io"):
        assert read_image(path).shape == (24, 32, 3)
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: Corrupt EXIF data.  Expecting to read 12 bytes but only got 0."]
    assert not recwarn.list
    caplog.clear()
    tif = tmp_path / "junk.tif"
    tif.write_bytes(b"II*\x00garbage")
    with caplog.at_level(logging.WARNING, logger="edgefer.io"), pytest.raises(ImageReadError, match="not an image"):
        read_image(tif)
    assert not caplog.records and not recwarn.list


@FUZZ
@given(data=st.binary(min_size=0, max_size=3000), ext=st.sampled_from(IMAGE_EXTENSIONS))
def test_read_image_random_bytes_never_escape(data, ext):
    """Random bytes under any image extension give a uint8 image or one ImageReadError naming the file."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"random{ext}"
        path.write_bytes(data)
        for reader in (read_image, read_gray):
            try:
                image = reader(path)
            except ImageReadError as exc:
                assert str(exc).startswith(f"{path}: ")
            else:
                assert image.dtype == np.uint8 and image.size > 0


@FUZZ
@given(fmt=st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM"]), cut=st.floats(0.0, 0.999))
def test_read_image_truncated_anywhere(fmt, cut):
    """An image cut anywhere gives one ImageReadError (empty, truncated, not an image) or decodes at full size."""
    data = _encoded_noise(fmt)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"cut.{fmt.lower()}"
        path.write_bytes(data[:int(len(data) * cut)])
        for reader in (read_image, read_gray):
            try:
                image = reader(path)
            except ImageReadError as exc:
                assert_names(str(exc), path, r"empty file|corrupt or truncated|not an image edgefer reads")
            else:
                assert image.shape[:2] == (24, 32) and image.dtype == np.uint8


def _encoded_noise(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


# --------------------------------------------------------------------------- data readers: class folders


def _class_folders(root: Path, inputs, n: int = 3) -> Path:
    """``root/happy`` and ``root/sad`` with ``n`` 48x48 noise crops each."""
    for k, cls in enumerate(("happy", "sad")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            inputs.noise(seed=10 * k + i).save(root / cls / f"face {i}.png")
    return root


@pytest.mark.parametrize("kind", BAD)
def test_load_dataset_bad_item_raises_naming_it(tmp_path, inputs, kind):
    """A bad file among class-folder crops raises one ImageReadError naming it (on_error='raise', the default)."""
    root = _class_folders(tmp_path / "faces", inputs)
    bad = inputs.write_bad(kind, root / "happy")
    with pytest.raises(ImageReadError) as info:
        ds = load_dataset(root)
        [ds.images[i] for i in range(len(ds))]  # photos are decoded on access
    assert_names(str(info.value), bad, inputs.problems[kind])


@pytest.mark.parametrize("kind", BAD)
def test_load_dataset_bad_item_skipped_and_counted(tmp_path, inputs, kind, caplog):
    """With on_error='skip' the bad file is left out, counted under 'unreadable image' and logged; the rest is read."""
    root = _class_folders(tmp_path / "faces", inputs)
    bad = inputs.write_bad(kind, root / "happy")
    ds = load_dataset(root, on_error="skip")
    assert len(ds) == 6 and ds.per_class()["happy"] == 3 and ds.per_class()["sad"] == 3
    assert ds.skipped == {"unreadable image": 1}
    assert str(bad) in caplog.text
    assert all(ds.images[i].dtype == np.uint8 for i in range(len(ds)))


def test_load_dataset_skip_survives_cache(tmp_path, inputs, monkeypatch):
    """A second read, from the cache, skips and counts the same bad files, symlink loop included."""
    from edgefer.data import folders

    root = _class_folders(tmp_path / "faces", inputs)
    for kind in ("symlink_loop", "broken_symlink", "truncated_png"):
        inputs.write_bad(kind, root / "sad")
    first = load_dataset(root, on_error="skip")
    monkeypatch.setattr(folders, "_decode", lambda *a, **k: pytest.fail("decoded again, not from the cache"))
    second = load_dataset(root, on_error="skip")
    assert first.skipped == second.skipped == {"unreadable image": 3}
    np.testing.assert_array_equal(first.images, second.images)


def test_load_dataset_odd_formats_and_paths(tmp_path, inputs):
    """Every odd-but-valid image is read, in a class folder with a unicode name and spaces, upright and uint8."""
    root = tmp_path / "dätä sét"
    expected = {}
    for kind in ODD:
        path, gray, tol = inputs.write_odd(kind, root / "happy" / kind)
        expected[str(path)] = (gray, tol)
    ds = load_dataset(root)
    assert len(ds) == len(ODD) and ds.skipped == {}
    assert ds.needs_detection  # mixed sizes: whole photos
    for i, source in enumerate(ds.sources):
        gray, tol = expected[source]
        assert ds.images[i].shape == gray.shape and np.abs(ds.images[i].astype(int) - gray).max() <= tol


def test_read_gray_images_16bit_matches_read_image(tmp_path, inputs):
    """A 16-bit PNG holding 0..255 decodes to the same pixels in data sets as in predict (not black)."""
    path, gray, _ = inputs.write_odd("png16_low", tmp_path)
    (image,), errors = read_gray_images([path], cache=False)
    assert errors == {}
    np.testing.assert_array_equal(image, read_image(path, gray=True))
    assert image.max() == 255


def test_load_dataset_directory_named_like_image_is_a_subfolder(tmp_path, inputs):
    """A folder named x.jpg inside a class folder is searched like any subfolder (its image counts), not an error."""
    root = _class_folders(tmp_path / "faces", inputs)
    (root / "happy" / "x.jpg").mkdir()
    inputs.noise(seed=99).save(root / "happy" / "x.jpg" / "inner.png")
    ds = load_dataset(root)
    assert len(ds) == 7 and str(root / "happy" / "x.jpg" / "inner.png") in ds.sources


@pytest.mark.parametrize("data, message", [
    ("loop", r"symbolic link loop"), ("empty.csv", r"empty file, expected a header"),
    ("notes.txt", r"not a data set"), ("random.csv", r"not a data set"), ("nofolder", r"no such file or folder"),
])
def test_load_dataset_bad_data_path(tmp_path, data, message):
    """A symlink loop, empty CSV, text file, random bytes or missing path as the data set: one error naming it."""
    path = tmp_path / data
    if data == "loop":
        os.symlink(path, path)
    elif data == "empty.csv":
        path.write_bytes(b"")
    elif data == "notes.txt":
        path.write_text("hello\n")
    elif data == "random.csv":
        path.write_bytes(np.random.default_rng(4).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises((DataError, FileNotFoundError)) as info:
        load_dataset(path, format="fer-csv" if data == "empty.csv" else None)
    assert str(info.value).startswith(str(path)) and re.search(message, str(info.value)), info.value


def test_load_dataset_lazy_photo_truncated_names_it(tmp_path, inputs):
    """A photo whose header is fine but whose data is cut is named when the lazy item is decoded."""
    root = tmp_path / "photos"
    (root / "happy").mkdir(parents=True)
    inputs.noise((120, 90)).save(root / "happy" / "ok.png")
    data = inputs.encode(inputs.noise((100, 80)), "PNG")
    (root / "happy" / "cut.png").write_bytes(data[:len(data) // 2])
    ds = load_dataset(root)
    assert ds.needs_detection and len(ds) == 2
    with pytest.raises(ImageReadError, match=re.escape(f"{root / 'happy' / 'cut.png'}: corrupt or truncated")):
        [ds.images[i] for i in range(len(ds))]


# --------------------------------------------------------------------------- data readers: FER-2013 CSV


def _pixels(rng) -> str:
    return " ".join(map(str, rng.integers(0, 256, 2304)))


def _write_rows(path: Path, header: list[str], rows: list[list[str]], *, bom=False, crlf=False) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n" if crlf else "\n")
        w.writerow(header)
        w.writerows(rows)
    return path


@FUZZ
@given(bom=st.booleans(), crlf=st.booleans(), extra=st.integers(0, 3), order=st.permutations([0, 1, 2]),
       upper=st.booleans(), blank=st.booleans())
def test_read_fer_csv_quirks_same_result(bom, crlf, extra, order, upper, blank):
    """A BOM, CRLF, extra columns anywhere, any column order, header case and blank lines all read the same rows."""
    rng = np.random.default_rng(0)
    rows = [[str(k % 7), _pixels(rng), ("Training", "PublicTest", "PrivateTest")[k % 3]] for k in range(6)]
    header = ["emotion", "pixels", "Usage"]
    header = [header[i] for i in order] + [f"note{j}" for j in range(extra)]
    if upper:
        header = [h.upper() for h in header]
    body = [[r[i] for i in order] + ["x, y"] * extra for r in rows]
    if blank:
        body.insert(2, [])
    with tempfile.TemporaryDirectory() as d:
        out = read_fer_csv(_write_rows(Path(d) / "f.csv", header, body, bom=bom, crlf=crlf), cache=False)
        assert list(out) == ["train", "publictest", "privatetest"]
        assert [ds.labels.tolist() for ds in out.values()] == [[0, 3], [1, 4], [2, 5]]
        first = np.array(rows[0][1].split(), dtype=np.uint8).reshape(48, 48)
        np.testing.assert_array_equal(out["train"].images[0], first)


@FUZZ
@given(row=st.integers(0, 4), what=st.sampled_from(["short", "long", "label", "pixel", "columns", "usage"]),
       junk=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1, max_size=8),
       n=st.integers(0, 2303))
def test_read_fer_csv_bad_row_names_file_row_and_line(row, what, junk, n):
    """One broken row (short, long, bad label or pixel, missing column, no Usage): DataError naming file, row, line."""
    rng = np.random.default_rng(1)
    rows = [["3", _pixels(rng), "Training"] for _ in range(5)]
    values = rows[row][1].split()
    if what == "short":
        rows[row][1] = " ".join(values[:n])
    elif what == "long":
        rows[row][1] = " ".join(values + values[:n + 1])
    elif what == "label":
        rows[row][0] = junk if not junk.strip().isdigit() else junk + "x"
    elif what == "pixel":
        values[n] = "x" + junk.replace(" ", "").replace(",", "")
        rows[row][1] = " ".join(values)
    elif what == "columns":
        rows[row] = rows[row][:2]
    else:
        rows[row][2] = ""
    with tempfile.TemporaryDirectory() as d:
        path = _write_rows(Path(d) / "f.csv", ["emotion", "pixels", "Usage"], rows)
        with pytest.raises(DataError, match=re.escape(f"{path}: row {row} (line ")):
            read_fer_csv(path, cache=False)
        ok = read_fer_csv(path, cache=False, on_error="skip")["train"]
        assert len(ok) == 4 and sum(ok.skipped.values()) == 1


def test_read_fer_csv_bare_carriage_return_ends_a_line(tmp_path):
    """A bare CR inside an unquoted field ends the line (CSV's old Mac line end), so the row falls
    in two, and each part is named as a row with missing columns. (The fuzz test above leaves CR
    out of its junk for this reason: the csv writer quotes a field for \\n but not for \\r.)"""
    rng = np.random.default_rng(1)
    pixels = _pixels(rng)
    path = tmp_path / "cr.csv"
    path.write_bytes(f"emotion,pixels,Usage\n3,{pixels},Training\n3,{pixels[:20]}\rx{pixels[20:]},Training\n"
                     .encode())
    with pytest.raises(DataError, match=re.escape(f"{path}: row 1 (line 3): 2 columns, expected at least 3")):
        read_fer_csv(path, cache=False)
    ok = read_fer_csv(path, cache=False, on_error="skip")["train"]
    assert len(ok) == 1 and ok.skipped == {"bad row: missing columns": 2}


@pytest.mark.parametrize("tail, message", [
    (b"1,\xff\xfe 7,Training\n", r"line 3: not UTF-8 text \(byte 0xff at column 3\)"),
    (b"1," + b"1" * 200_000 + b",Training\n", r"line 3: not valid CSV \(field larger than field limit"),
    (b"1,\x00\x00,Training\n", r"row 1 \(line 3\): pixel 0 is '\\x00\\x00'"),
])
def test_read_fer_csv_binary_junk_names_line(tmp_path, tail, message):
    """A non-UTF-8 byte, an oversized field or NUL bytes in a row raise DataError naming the file and the line."""
    path = tmp_path / "f.csv"
    path.write_bytes(b"emotion,pixels,Usage\n0," + " ".join(["7"] * 2304).encode() + b",Training\n" + tail)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert_names(str(info.value), path, message)


def test_read_fer_csv_directory_where_file_expected(tmp_path):
    """A folder named like the CSV given to read_fer_csv raises DataError 'not a file'."""
    (tmp_path / "fer2013.csv").mkdir()
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'fer2013.csv'}: not a file")):
        read_fer_csv(tmp_path / "fer2013.csv")


# --------------------------------------------------------------------------- data readers: LFW legend


def _lfw(root: Path, inputs, legend: bytes) -> Path:
    """An LFW folder with one photo and the given legend.csv bytes."""
    (root / "lfw-deepfunneled" / "Ann_Lee").mkdir(parents=True)
    inputs.noise((250, 250)).save(root / "lfw-deepfunneled" / "Ann_Lee" / "Ann_Lee_0001.jpg")
    (root / "legend.csv").write_bytes(legend)
    return root


def test_index_lfw_non_utf8_legend_names_it(tmp_path, inputs):
    """A legend.csv with a non-UTF-8 byte raises DataError naming the legend."""
    root = _lfw(tmp_path / "lfw", inputs, b"user.id,image,emotion\nu1,Ann_Lee_0001.jpg,happ\xe9\n")
    with pytest.raises(DataError, match=re.escape(f"{root / 'legend.csv'}: not a readable UTF-8 CSV")):
        index_lfw(root)


def test_index_lfw_short_row_counted_not_silent(tmp_path, inputs):
    """A legend row missing a column is counted in skipped (it used to vanish silently); blank lines are not rows."""
    root = _lfw(tmp_path / "lfw", inputs, b"\xef\xbb\xbfuser.id,image,emotion\r\nu1,Ann_Lee_0001.jpg,happiness\r\n"
                                          b"\r\nu2,Ann_Lee_0001.jpg\r\n")
    index = index_lfw(root)
    assert len(index.files) == 1 and index.skipped == {"legend row with missing columns": 1}
