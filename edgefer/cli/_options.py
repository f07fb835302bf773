"""Parsing shared by several commands: model arguments, data loading with clear errors."""
from __future__ import annotations

import ast
from pathlib import Path

from edgefer.cli._common import fail


def parse_model_args(items: list[str] | None) -> dict:
    """``["fusion=none", "widths=(16,32)"]`` -> ``{"fusion": "none", "widths": (16, 32)}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            fail(f"--arg must look like KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def load_split(path: Path, split: str | None, fmt: str | None):
    """A data set split, or a clean exit naming the problem."""
    from edgefer.data.load import load_dataset
    from edgefer.errors import DataError
    try:
        return load_dataset(path, split=split, format=fmt)
    except (FileNotFoundError, DataError, ValueError) as exc:
        fail(str(exc))


def check_out_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to write into a folder that already holds results, unless asked to."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (resume or overwrite):
        fail(f"--out {out}: already holds files; pass --resume to continue that run or "
             f"--overwrite to replace it")
