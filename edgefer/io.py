"""Reading image files into uint8 arrays, with clear errors naming the file."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edgefer.errors import ImageReadError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm")
MAX_PIXELS = 50_000_000
"""Images declaring more pixels than this are refused before decoding (decompression bombs)."""


def is_image_file(path: str | os.PathLike) -> bool:
    """True when the file name has an image extension edgefer reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | os.PathLike, *, gray: bool = False, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as uint8 BGR (H, W, 3) or gray (H, W), upright per its EXIF orientation.

    Parameters
    ----------
    path : the image file (jpg, png, bmp, tiff, webp, gif, ...).
    gray : return a 2-D gray image instead of BGR.
    max_pixels : refuse images whose header declares more pixels than this, before decoding.

    Raises
    ------
    ImageReadError
        Naming the file: missing, a directory, empty, not an image, corrupt or truncated, too large.
    """
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a directory, expected an image file")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read ({exc.strerror})") from None
    if size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    try:
        with Image.open(p) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ImageReadError(
                    f"{p}: image declares {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}")
            if w < 1 or h < 1:
                raise ImageReadError(f"{p}: image has no pixels ({w}x{h})")
            im = ImageOps.exif_transpose(im)
            return _pil_to_array(im, gray=gray)
    except ImageReadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{p}: not a readable image ({type(exc).__name__}: {exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{p}: corrupt or truncated image ({exc})") from None


def _pil_to_array(im: Image.Image, *, gray: bool) -> np.ndarray:
    """uint8 gray (H, W) or BGR (H, W, 3) from any PIL mode (16-bit, RGBA, CMYK, palette)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return arr if gray else cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if im.mode == "F":
        arr = np.clip(np.asarray(im, dtype=np.float64), 0, 255).astype(np.uint8)
        return arr if gray else cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if gray:
        return np.array(im.convert("L"), dtype=np.uint8)
    rgb = np.array(im.convert("RGB"), dtype=np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 gray (H, W) from gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    raise ValueError(f"`image` must be (H, W), (H, W, 3) or (H, W, 4); got shape {image.shape}")
