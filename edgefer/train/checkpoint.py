"""Checkpoints, as training sees them: :mod:`edgefer.checkpoint` (reading and writing, shared with
recognition) and the atomic writers of :mod:`edgefer.io`, under their old import path."""
from edgefer.checkpoint import FORMAT, load_checkpoint, model_from_checkpoint, save_checkpoint
from edgefer.io import atomic_write_bytes, atomic_write_text

__all__ = ["FORMAT", "atomic_write_bytes", "atomic_write_text", "load_checkpoint",
           "model_from_checkpoint", "save_checkpoint"]
