"""Histogram equalization of gray images, as the paper defines it."""
from __future__ import annotations

import numpy as np

from edgefer.preprocess._checks import check_image


def equalize_hist(image: np.ndarray) -> np.ndarray:
    """Equalize the histogram of a uint8 gray image with the paper's CDF mapping.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray image (H, W), values 0..255. Not modified.

    Returns
    -------
    numpy.ndarray
        New uint8 array (H, W).

    Raises
    ------
    TypeError
        If ``image`` is not a uint8 NumPy array.
    ValueError
        If it is not 2-D or has no pixels.

    Notes
    -----
    With N pixels and n_k pixels of level k, p(k) = n_k / N and s_k = sum_{j<=k} p(j).
    Level k becomes ``floor(255 * s_k + 0.5)``: halves round up, not to even as
    ``numpy.round`` would (255 * 3/10 = 76.5 gives 77, where ``numpy.round`` gives 76).
    The LUT is computed in exact integer arithmetic, ``(510 * c_k + N) // (2 * N)`` with
    c_k the cumulative count, so no floating-point error can move a half.

    Relation to ``cv2.equalizeHist``: OpenCV subtracts the count of the darkest present
    level, ``round((c_k - c_min) / (N - c_min) * 255)``, so the darkest level always
    becomes 0. Here the darkest level becomes ``round(255 * c_min / N)``, above 0 whenever
    it is present; both send the brightest present level to 255. For
    ``[[50, 50], [100, 200]]`` OpenCV gives ``[[0, 0], [128, 255]]`` and this function
    ``[[128, 128], [191, 255]]``.

    A constant image (one level only) has nothing to spread: it is returned as an
    unchanged copy, as ``cv2.equalizeHist`` does. The formula alone would turn it all 255.

    References
    ----------
    R. C. Gonzalez and R. E. Woods, *Digital Image Processing*, section "Histogram
    equalization" (the s_k = sum p(j) mapping).

    Examples
    --------
    >>> equalize_hist(np.array([[50, 50], [100, 200]], dtype=np.uint8))
    array([[128, 128],
           [191, 255]], dtype=uint8)
    """
    check_image(image)
    counts = np.bincount(image.ravel(), minlength=256)
    if np.count_nonzero(counts) == 1:
        return image.copy()
    n = np.int64(image.size)
    cdf = np.cumsum(counts, dtype=np.int64)
    lut = ((510 * cdf + n) // (2 * n)).astype(np.uint8)
    return lut[image]
