"""Scale normalization: crop a face box and resize it to a fixed square."""
from __future__ import annotations

import numbers

import cv2
import numpy as np

from edgefer.preprocess._checks import check_image, check_int


def clip_box(box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Clip a box (x, y, w, h) to an image of the given shape and return the clipped box.

    Parameters
    ----------
    box : tuple of 4 int, or an object with ``as_tuple()`` (e.g. ``FaceBox``)
        Left, top, width and height in pixels. May extend past the image.
    shape : tuple of int
        The image shape; only (H, W) at the front is used.

    Returns
    -------
    tuple of int
        (x, y, w, h) inside the image, with w, h >= 1.

    Raises
    ------
    TypeError
        If ``box`` is not 4 integers.
    ValueError
        If ``w`` or ``h`` is not positive, or the box does not overlap the image.

    Examples
    --------
    >>> clip_box((-10, 5, 30, 100), (48, 64))
    (0, 5, 20, 43)
    """
    if hasattr(box, "as_tuple"):
        box = box.as_tuple()
    try:
        values = tuple(box)
    except TypeError:
        raise TypeError(f"`box` must be 4 ints (x, y, w, h); got {type(box).__name__}.") from None
    if len(values) != 4 or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        raise TypeError(f"`box` must be 4 ints (x, y, w, h); got {values!r}.")
    x, y, w, h = (int(v) for v in values)
    if w <= 0 or h <= 0:
        raise ValueError(f"`box` width and height must be positive; got (x, y, w, h) = {values}.")
    height, width = shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"`box` {values} does not overlap the image of size (H, W) = ({height}, {width}); "
            "nothing is left after clipping.")
    return x0, y0, x1 - x0, y1 - y0


def normalize_scale(image: np.ndarray, box=None, *, size: int = 48) -> np.ndarray:
    """Crop ``box`` out of ``image`` and resize it to ``size`` x ``size`` by bilinear interpolation.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray (H, W) or BGR (H, W, 3). Not modified.
    box : tuple of 4 int, or ``FaceBox``, optional
        (x, y, w, h) in pixels; the part outside the image is clipped away. ``None``
        uses the whole image.
    size : int
        Side of the output square, >= 1.

    Returns
    -------
    numpy.ndarray
        New uint8 array (size, size) or (size, size, 3).

    Raises
    ------
    TypeError
        If ``image`` is not uint8, or ``box`` / ``size`` are not ints.
    ValueError
        If ``image`` has the wrong shape, ``size`` < 1, or the box is empty after clipping.

    Notes
    -----
    Resizing uses ``cv2.resize`` with ``cv2.INTER_LINEAR`` both to shrink and to enlarge, as
    the paper specifies bilinear interpolation; the aspect ratio of the box is not kept.

    Examples
    --------
    >>> normalize_scale(np.full((100, 80), 7, np.uint8), (10, 10, 50, 60), size=48).shape
    (48, 48)
    """
    check_image(image, ndim=(2, 3), channels=(3,))
    size = check_int(size, "size", minimum=1)
    x, y, w, h = (0, 0, image.shape[1], image.shape[0]) if box is None else clip_box(box, image.shape)
    crop = np.ascontiguousarray(image[y:y + h, x:x + w])
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
