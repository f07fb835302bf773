"""Reading image files into uint8 arrays, with clear errors naming the file; atomic writes."""
from __future__ import annotations

import errno
import io
import logging
import os
import stat
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edgefer.errors import ImageReadError, ImageTooLargeError, NotAnImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm")
MAX_PIXELS = 50_000_000
"""Images declaring more pixels than this are refused before decoding (decompression bombs)."""
IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF", "PPM")
"""PIL decoders tried (JPEG covers MPO, phones' multi-picture JPEG; PPM covers PGM); the rest (EPS,
which runs Ghostscript, and exotic formats) are refused, whatever the file's extension."""

log = logging.getLogger(__name__)
_WARNINGS_LOCK = threading.Lock()  # warnings.catch_warnings is process-wide before Python 3.14


def is_image_file(path: str | os.PathLike) -> bool:
    """True when the file name has an image extension edgefer reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def missing_reason(path: str | os.PathLike, what: str = "file") -> str:
    """Why ``path`` cannot be found: ``no such <what>``, a broken symbolic link or a symbolic link loop."""
    p = Path(path)
    try:
        p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (too many levels of symbolic links)"
    if p.is_symlink():
        return f"broken symbolic link (its target {os.readlink(p)} does not exist)"
    return f"no such {what}"


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
        Naming the file: missing (or a broken link or link loop), a directory, empty, not an
        image, corrupt or truncated, too large.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError) or exc.errno == errno.ELOOP
        raise ImageReadError(f"{p}: {missing_reason(p) if missing else f'cannot read ({exc.strerror})'}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(f"{p}: is a directory, expected an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(f"{p}: not a regular file (a device, pipe or socket), expected an image file")
    if st.st_size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    caught: list[warnings.WarningMessage] = []
    image = _decode(p, gray=gray, max_pixels=max_pixels, caught=caught)
    log_warnings(p, caught)
    return image


@contextmanager
def pil_warnings_logged(name: str | os.PathLike | None):
    """Log each warning raised inside as one line, ``name: message``, once the block succeeds.

    PIL warns (a UserWarning, printed with a source line) about damage it reads past, such as
    corrupt EXIF data. When the block raises, its error says what was wrong and the warnings are
    dropped; with ``name=None`` they are always dropped (for a peek at a header whose file is
    decoded, and its warnings logged, later). Such blocks run one at a time (see ``recorded_warnings``).
    """
    caught: list[warnings.WarningMessage] = []
    with recorded_warnings(caught):
        yield
    if name is not None:
        log_warnings(name, caught)


@contextmanager
def recorded_warnings(caught: list):
    """Add the warnings raised inside to ``caught``, even when the block raises. A lock makes such
    blocks take turns: ``warnings.catch_warnings`` is process-wide before Python 3.14."""
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            caught.extend(got)


def log_warnings(name, caught) -> None:
    """Log each recorded warning as one line, ``name: message``."""
    for w in caught:
        log.warning("%s: %s", name, str(w.message).strip())


def _decode(p: Path, *, gray: bool, max_pixels: int, caught: list) -> np.ndarray:
    """``read_image`` once the file is known to be a non-empty regular file."""
    with open_image(p, name=p, max_pixels=max_pixels, caught=caught) as im:
        return image_array(im, gray=gray, name=p, caught=caught)


def decode_image(data: bytes, *, gray: bool = False, max_pixels: int = MAX_PIXELS,
                 name: str = "upload") -> np.ndarray:
    """Decode an image file's bytes (an upload, say) as :func:`read_image` decodes a file.

    One policy for files and bytes: the same formats (:data:`IMAGE_FORMATS`), the same pixel
    limit checked before decoding, EXIF orientation applied, any mode turned into uint8 BGR
    (H, W, 3) or gray (H, W); PIL's warnings are logged as one line each naming ``name``.

    Raises
    ------
    ImageReadError
        Naming ``name``: empty, corrupt or truncated; :class:`NotAnImageError` for bytes that
        are not an image edgefer reads, :class:`ImageTooLargeError` over ``max_pixels``.
    """
    caught: list[warnings.WarningMessage] = []
    with open_image(data, name=name, max_pixels=max_pixels, caught=caught) as im:
        image = image_array(im, gray=gray, name=name, caught=caught)
    log_warnings(name, caught)
    return image


def open_image(source: str | os.PathLike | bytes, *, name, max_pixels: int = MAX_PIXELS,
               caught: list | None = None) -> Image.Image:
    """The PIL image of a file or of an image file's bytes: its header read and checked, its
    pixels not yet decoded (a caller can size its memory by ``im.size`` first).

    PIL's warnings while reading the header and EXIF data go to ``caught`` (dropped if None).

    Raises
    ------
    ImageReadError
        Naming ``name``: empty bytes, a corrupt header, no pixels; :class:`NotAnImageError`,
        :class:`ImageTooLargeError` (over ``max_pixels``, refused before decoding).
    """
    caught = [] if caught is None else caught
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageReadError(f"{name}: empty file (0 bytes)")
        source = io.BytesIO(source)
    try:
        with recorded_warnings(caught):
            im = Image.open(source, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: image too large, refused before decoding ({exc})") from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image edgefer reads (cannot identify image file; expected "
                              "JPEG, PNG, BMP, TIFF, WebP, GIF or PPM/PGM)") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure on untrusted bytes is the bytes' fault
        raise ImageReadError(f"{name}: corrupt or truncated image ({type(exc).__name__}: {exc})") from None
    w, h = im.size
    try:
        if w * h > max_pixels:
            raise ImageTooLargeError(f"{name}: image too large: it declares {w}x{h} = {w * h:,} pixels, over "
                                     f"the limit of {max_pixels:,}; refused before decoding")
        if w < 1 or h < 1:
            raise ImageReadError(f"{name}: image has no pixels ({w}x{h})")
    except ImageReadError:
        im.close()
        raise
    # Not im.getexif() here: for a PNG whose EXIF may follow the pixels it decodes the image.
    return im


def image_array(im: Image.Image, *, gray: bool = False, name="image", caught: list | None = None) -> np.ndarray:
    """Decode an image from :func:`open_image`: uint8 BGR (H, W, 3) or gray (H, W), upright per
    its EXIF orientation. The pixels are decoded outside the warnings lock, so images decode in
    parallel; PIL's warnings about the EXIF data go to ``caught`` (dropped if None).

    Raises
    ------
    ImageReadError
        Naming ``name``: corrupt or truncated image data.
    """
    caught = [] if caught is None else caught
    try:
        im.load()
        with recorded_warnings(caught):
            im.getexif()  # parsed once, here; exif_transpose reuses it
        # in place: no copy of the decoded image when there is nothing to turn
        ImageOps.exif_transpose(im, in_place=True)
        return _pil_to_array(im, gray=gray)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted bytes is the bytes' fault
        raise ImageReadError(f"{name}: corrupt or truncated image ({type(exc).__name__}: {exc})") from None


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, write) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    A crash or ``kill -9`` at any moment leaves either the old file or the new one under
    ``path``, never a partial one. The new file gets the usual mode (0666 less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))
