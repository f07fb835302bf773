"""The two-face 640x480 test clip of tests/conftest.py, for benchmarks (imports tests/conftest.py)."""
from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def write_clip(path) -> None:
    from conftest import write_two_face_clip
    write_two_face_clip(path, "gap")
