"""Draw recognized faces (box, label, confidence) on a copy of an image."""
from __future__ import annotations

import cv2
import numpy as np


COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (160, 60, 160),
    "happy": (0, 200, 255), "sad": (200, 120, 40), "surprise": (0, 140, 255),
    "neutral": (180, 180, 180),
}
"""BGR box colour of each class."""


def annotate(image: np.ndarray, faces, *, thickness: int | None = None) -> np.ndarray:
    """A BGR copy of ``image`` with each face's box and "label 0.93" drawn on it ("#2 label 0.93"
    for a face of track 2 in video, its label and confidence the smoothed ones).

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4). Not modified.
    faces : sequence of Face
        Anything with ``box`` (x, y, w, h), ``label`` and ``confidence``.
    thickness : int, optional
        Line thickness in pixels; default grows with the image (2 px at 640x480).

    Returns
    -------
    numpy.ndarray
        New uint8 BGR array (H, W, 3).

    Raises
    ------
    TypeError, ValueError
        For an image of the wrong dtype or shape.

    Examples
    --------
    >>> annotate(np.zeros((20, 30), np.uint8), []).shape
    (20, 30, 3)
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"`image` must be a uint8 NumPy array; got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"`image` must be a uint8 NumPy array; got dtype {image.dtype}")
    if image.ndim == 2:
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 3:
        out = image.copy()
    elif image.ndim == 3 and image.shape[2] == 4:
        out = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    else:
        raise ValueError(f"`image` must be (H, W), (H, W, 3) or (H, W, 4); got shape {image.shape}")
    height, width = out.shape[:2]
    t = thickness or max(1, round(max(height, width) / 320))
    font_scale = max(0.4, max(height, width) / 1200)
    for face in faces:
        x, y, w, h = (int(v) for v in face.box)
        color = COLORS.get(face.label, (0, 255, 0))
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), color, t, cv2.LINE_AA)
        track = getattr(face, "track", None)
        text = f"{'' if track is None else f'#{track} '}{face.label} {face.confidence:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, t // 2))
        # Label above the box, or inside its top edge when the box touches the image's top.
        ty = y - t - 2 if y - th - base - t - 2 >= 0 else y + th + t + 2
        tx = min(max(0, x), max(0, width - tw))
        cv2.rectangle(out, (tx, ty - th - 2), (tx + tw, ty + base), color, cv2.FILLED)
        ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
        cv2.putText(out, text, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink,
                    max(1, t // 2), cv2.LINE_AA)
    return out

