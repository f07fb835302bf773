"""Hostile and odd input files for the input-hardening tests (issue #8), all written into tmp_path.

``BAD_IMAGES`` are files with an image extension that no entry point can read; each maps to
the problem its one error line must name. ``ODD_IMAGES`` are valid images in unusual forms
that every entry point must read. The builders are served by the ``inputs`` fixture
(``--import-mode=importlib`` cannot import conftest).
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
ASTRONAUT_BOX = (177, 66, 95, 95)
"""(x, y, w, h) of the one face Haar finds in examples/astronaut.jpg (512x512)."""

BAD_IMAGES = {
    # kind: (file name, regex the error must match after "<path>: ")
    "empty": ("empty.jpg", r"empty file \(0 bytes\)"),
    "truncated_jpeg": ("cut.jpg", r"corrupt or truncated image"),
    "truncated_png": ("cut.png", r"corrupt or truncated image"),
    "random_bytes": ("noise.jpg", r"not an image edgefer reads"),
    "text_file": ("notes.png", r"not an image edgefer reads"),
    "eps_named_jpeg": ("script.jpg", r"not an image edgefer reads"),
    "bomb": ("bomb.png", r"image too large, refused before decoding"),
    "over_max_pixels": ("big.png", r"image too large: it declares 8000x8000 = 64,000,000 pixels.*"
                                   r"refused before decoding"),
    "symlink_loop": ("loop.jpg", r"symbolic link loop"),
    "broken_symlink": ("gone.jpg", r"broken symbolic link"),
}

ODD_IMAGES = ("one_pixel_png", "one_pixel_jpeg", "png16", "png16_low", "rgba", "cmyk_jpeg", "palette_gif",
              "exif_rotated", "corrupt_exif", "unicode_path")
"""Valid images every reader must decode; :func:`write_odd` gives each one's expected gray pixels."""


def png_declaring(width: int, height: int) -> bytes:
    """A 1x1 gray PNG whose IHDR is patched (with a valid CRC) to declare width x height."""
    png = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    # Signature (8 bytes), then IHDR: length (4), type (4), data (13: width, height, ...), CRC (4).
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    """The bytes of ``image`` saved as ``fmt``."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def noise(size: tuple[int, int] = (48, 48), seed: int = 0) -> Image.Image:
    """A gray noise image (w, h), 48x48 by default: a FER-sized crop."""
    w, h = size
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8))


def bad_bytes(kind: str) -> bytes:
    """The content of a BAD_IMAGES file that is a plain file (not the symlinks)."""
    if kind == "empty":
        return b""
    if kind == "truncated_jpeg":
        data = encode(noise(), "JPEG", quality=95)
        return data[:len(data) // 2]
    if kind == "truncated_png":
        data = encode(noise(), "PNG")
        return data[:len(data) // 2]
    if kind == "random_bytes":
        return np.random.default_rng(2).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    if kind == "text_file":
        return b"not a photo, just some notes\n" * 20
    if kind == "eps_named_jpeg":  # PIL would hand EPS to Ghostscript
        return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    if kind == "bomb":  # over PIL's own limit: PIL refuses at open
        return png_declaring(100_000, 100_000)
    if kind == "over_max_pixels":  # under PIL's limits, over edgefer.io.MAX_PIXELS
        return png_declaring(8000, 8000)
    raise KeyError(kind)


def write_bad(kind: str, folder: Path, name: str | None = None) -> Path:
    """Write the BAD_IMAGES file ``kind`` into ``folder`` (under ``name`` if given); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or BAD_IMAGES[kind][0])
    if kind == "symlink_loop":  # a link to itself: resolving it never ends
        os.symlink(path, path)
    elif kind == "broken_symlink":
        os.symlink(folder / "does-not-exist.jpg", path)
    else:
        path.write_bytes(bad_bytes(kind))
    return path


def rotated_astronaut(path: Path) -> Path:
    """The astronaut photo stored turned 90 degrees, with EXIF orientation 6 saying how to turn it upright."""
    upright = Image.open(ASTRONAUT)
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)
    return path


def write_odd(kind: str, folder: Path) -> tuple[Path, np.ndarray, int]:
    """Write the ODD_IMAGES file ``kind`` into ``folder``: (path, expected gray uint8 (H, W), tolerance)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "one_pixel_png":
        path = folder / "dot.png"
        Image.new("L", (1, 1), 77).save(path)
        return path, np.full((1, 1), 77, np.uint8), 0
    if kind == "one_pixel_jpeg":
        path = folder / "dot.jpg"
        Image.new("RGB", (1, 1), (90, 90, 90)).save(path, quality=95)
        return path, np.full((1, 1), 90, np.uint8), 3
    if kind in ("png16", "png16_low"):  # 16-bit gray: full range scaled to 0..255; 0..255 kept as is
        path = folder / f"{kind}.png"
        top = 65535 if kind == "png16" else 255
        ramp = np.linspace(0, top, 64 * 64).reshape(64, 64).astype(np.uint16)
        Image.fromarray(ramp).save(path)
        assert Image.open(path).mode == "I;16"
        return path, np.round(ramp / top * 255).astype(np.uint8), 1
    if kind == "rgba":  # alpha dropped: gray of the RGB
        path = folder / "rgba.png"
        Image.new("RGBA", (40, 30), (200, 100, 50, 128)).save(path)
        return path, np.full((30, 40), 124, np.uint8), 1
    if kind == "cmyk_jpeg":  # pure cyan+yellow ink = green
        path = folder / "cmyk.jpg"
        Image.new("CMYK", (40, 30), (255, 0, 255, 0)).save(path, quality=95)
        assert Image.open(path).mode == "CMYK"
        return path, np.full((30, 40), 150, np.uint8), 6
    if kind == "palette_gif":
        path = folder / "palette.gif"
        im = Image.new("P", (40, 30), 1)
        im.putpalette([0, 0, 0, 0, 200, 0] + [0] * (256 * 3 - 6))
        im.save(path)
        return path, np.full((30, 40), 117, np.uint8), 1
    if kind == "exif_rotated":  # stored 40 wide, 60 high; upright 60 wide with the bright half on top
        path = folder / "turned.jpg"
        upright = np.zeros((40, 60), np.uint8)
        upright[:20] = 200
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(np.ascontiguousarray(np.rot90(upright))).save(path, exif=exif, quality=95)
        return path, upright, 8
    if kind == "corrupt_exif":  # its EXIF block promises 5 entries and holds none: PIL warns, reads on
        path = folder / "bad exif.jpg"
        Image.new("RGB", (32, 24), (128, 128, 128)).save(
            path, quality=95, exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00")
        return path, np.full((24, 32), 128, np.uint8), 2
    if kind == "unicode_path":
        path = folder / "ünï cöde" / "my phötö 1.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        im = noise(seed=3)
        im.save(path)
        return path, np.asarray(im), 0
    raise KeyError(kind)


@pytest.fixture(scope="session")
def inputs():
    """The builders above, for tests."""
    return SimpleNamespace(write_bad=write_bad, write_odd=write_odd, bad_bytes=bad_bytes, encode=encode,
                           noise=noise, png_declaring=png_declaring, rotated_astronaut=rotated_astronaut,
                           problems={kind: rx for kind, (_, rx) in BAD_IMAGES.items()}, odd=ODD_IMAGES,
                           astronaut=ASTRONAUT, astronaut_box=ASTRONAUT_BOX)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test caches decoded images into its own folder, never into ~/.cache."""
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "cache"))
