"""edgefer: facial expression recognition with Haar detection and Kirsch edge-fused CNNs.

The public API, imported on first use (``import edgefer`` alone loads neither torch nor ONNX
Runtime)::

    from edgefer import Recognizer, Face
    rec = Recognizer("fast")            # a role (default, fast, small), a shipped name or a file
"""
from edgefer.labels import CLASSES, NUM_CLASSES

__version__ = "0.1.0"
__all__ = ["CLASSES", "NUM_CLASSES", "Face", "ROLES", "Recognizer", "__version__"]

_LAZY = {"Recognizer": "edgefer.recognize", "Face": "edgefer.recognize", "ROLES": "edgefer.recognize"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgefer' has no attribute {name!r}")
