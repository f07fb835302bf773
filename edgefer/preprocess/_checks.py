"""Shared input validation for the preprocessing operators.

Every public operator calls these first, so all of them word their errors the same way:
"`image` must be a 2-D uint8 array (H, W); got shape (48, 48, 3), dtype float64."
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

_LAYOUTS = {2: "(H, W)", 3: "(H, W, {c})"}


def _describe(ndim: Sequence[int], dtypes: Sequence[type], channels: Sequence[int] | None) -> str:
    """The expected-array phrase, e.g. "2-D uint8 array (H, W)"."""
    dims = " or ".join(f"{n}-D" for n in ndim)
    names = [np.dtype(d).name for d in dtypes]
    kinds = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    layouts = []
    for n in ndim:
        if n == 3 and channels:
            layouts += [_LAYOUTS[3].format(c=c) for c in channels]
        else:
            layouts.append(_LAYOUTS.get(n, f"with {n} axes"))
    return f"{dims} {kinds} array {' or '.join(layouts)}"


def check_image(
    image,
    name: str = "image",
    *,
    ndim: Sequence[int] = (2,),
    dtypes: Sequence[type] = (np.uint8,),
    channels: Sequence[int] | None = None,
) -> np.ndarray:
    """Validate an image array and return it unchanged.

    Parameters
    ----------
    image : object
        The value to check.
    name : str
        Argument name used in the messages.
    ndim : sequence of int
        Allowed numbers of axes (2 for (H, W), 3 for (H, W, C)).
    dtypes : sequence of numpy dtypes
        Allowed element types.
    channels : sequence of int, optional
        Allowed sizes of the last axis of a 3-D image; ``None`` allows any.

    Returns
    -------
    numpy.ndarray
        ``image`` itself (no copy).

    Raises
    ------
    TypeError
        If ``image`` is not a NumPy array or has a dtype outside ``dtypes``.
    ValueError
        If it has the wrong number of axes or channels, or no pixels.

    Examples
    --------
    >>> check_image(np.zeros((2, 3, 3)), ndim=(2,))
    Traceback (most recent call last):
    ...
    TypeError: `image` must be a 2-D uint8 array (H, W); got shape (2, 3, 3), dtype float64.
    """
    expected = _describe(ndim, dtypes, channels)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"`{name}` must be a {expected}; got {type(image).__name__}.")
    got = f"got shape {image.shape}, dtype {image.dtype}."
    if not any(image.dtype == np.dtype(d) for d in dtypes):
        raise TypeError(f"`{name}` must be a {expected}; {got}")
    if image.ndim not in ndim or (image.ndim == 3 and channels and image.shape[2] not in channels):
        raise ValueError(f"`{name}` must be a {expected}; {got}")
    if image.size == 0:
        raise ValueError(f"`{name}` must have at least one pixel; got shape {image.shape}.")
    return image


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """Validate an integer option (bool refused) and return it as a Python ``int``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it is below ``minimum``.

    Examples
    --------
    >>> check_int(48, "size", minimum=1)
    48
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int; got {type(value).__name__} {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    return int(value)
