"""Checkpoints: written atomically, loaded safely (``weights_only=True``), rebuilt by name.

Training writes them and recognition reads them, so this module sits below both: it needs the
model registry and :mod:`edgefer.io`, nothing from ``edgefer/train``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from edgefer.errors import CheckpointError
from edgefer.io import atomic_write_bytes, log_warnings, missing_reason, recorded_warnings
from edgefer.labels import CLASSES

FORMAT = "edgefer-checkpoint"


def save_checkpoint(path: str | os.PathLike, *, model_name: str, model_kwargs: dict,
                    state_dict: dict, preprocess: dict, **extra) -> Path:
    """Save a checkpoint that carries everything needed to rebuild and use the model."""
    payload = {"format": FORMAT, "version": 1, "model_name": model_name,
               "model_kwargs": _plain(model_kwargs), "state_dict": state_dict,
               "preprocess": dict(preprocess), "classes": list(CLASSES), **extra}
    return atomic_write_bytes(path, lambda f: torch.save(payload, f))


def _plain(d: dict) -> dict:
    # weights_only loading accepts lists, not tuples of arbitrary origin: keep kwargs plain.
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint dict safely; nothing in the file is executed.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    CheckpointError
        When the path is not a regular file, or the file is corrupt, holds pickled code (refused
        by ``weights_only=True``) or is not an edgefer checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise CheckpointError(f"{path}: is a directory, expected a checkpoint file")
        if path.exists():  # as read_image says it
            raise CheckpointError(f"{path}: not a regular file (a device, pipe or socket), expected a checkpoint file")
        raise FileNotFoundError(f"{path}: {missing_reason(path, 'checkpoint file')}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint")
    caught: list = []  # torch's warnings, e.g. about a raw pickle's protocol: the error says enough
    try:
        with recorded_warnings(caught):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path}: refused: the file holds pickled objects other than tensors and plain "
                f"data, which could run code when loaded ({msg})") from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {msg})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an edgefer checkpoint (no '{FORMAT}' header)")
    if list(ckpt.get("classes", [])) != list(CLASSES):
        raise CheckpointError(f"{path}: class order {ckpt.get('classes')} differs from {list(CLASSES)}")
    log_warnings(path, caught)  # a checkpoint that loads: its warnings, if any, as one log line each
    return ckpt


def model_from_checkpoint(ckpt: dict):
    """Rebuild the model of a loaded checkpoint through the registry, weights loaded, in eval mode."""
    from edgefer.models import create_model
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["model_kwargs"].items()}
    model = create_model(ckpt["model_name"], **kwargs)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()
