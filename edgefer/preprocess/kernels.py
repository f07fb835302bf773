"""Kernel constants for the edge operators.

The Kirsch compass masks, from R. A. Kirsch, "Computer determination of the constituent
structure of biological images", Computers and Biomedical Research 4(3):315-328, 1971.
"""
from __future__ import annotations

import numpy as np

RING_OFFSETS: tuple[tuple[int, int], ...] = (
    (-1, -1),  # n0 top-left
    (-1, 0),   # n1 top
    (-1, 1),   # n2 top-right
    (0, 1),    # n3 right
    (1, 1),    # n4 bottom-right
    (1, 0),    # n5 bottom
    (1, -1),   # n6 bottom-left
    (0, -1),   # n7 left
)
"""(dy, dx) of the 8 neighbours of a pixel, clockwise from the top-left."""

KIRSCH_DIRECTIONS: tuple[str, ...] = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
"""Compass name of each mask in :data:`KIRSCH_KERNELS`; the index is the direction code."""

# Kirsch (1971): a 3x3 mask with 5 on three consecutive neighbours, -3 on the other five
# and 0 at the centre. Mask i has its 5s on neighbours n_i, n_(i+1), n_(i+2) of
# RING_OFFSETS, so each mask is the previous one rotated 45 degrees clockwise.
KIRSCH_KERNELS: np.ndarray = np.array(
    [
        [[5, 5, 5], [-3, 0, -3], [-3, -3, -3]],    # 0 N
        [[-3, 5, 5], [-3, 0, 5], [-3, -3, -3]],    # 1 NE
        [[-3, -3, 5], [-3, 0, 5], [-3, -3, 5]],    # 2 E
        [[-3, -3, -3], [-3, 0, 5], [-3, 5, 5]],    # 3 SE
        [[-3, -3, -3], [-3, 0, -3], [5, 5, 5]],    # 4 S
        [[-3, -3, -3], [5, 0, -3], [5, 5, -3]],    # 5 SW
        [[5, -3, -3], [5, 0, -3], [5, -3, -3]],    # 6 W
        [[5, 5, -3], [5, 0, -3], [-3, -3, -3]],    # 7 NW
    ],
    dtype=np.int32,
)
"""The 8 Kirsch compass masks, shape (8, 3, 3), int32, read-only; index = direction code."""
KIRSCH_KERNELS.setflags(write=False)
