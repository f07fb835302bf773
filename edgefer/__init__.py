"""edgefer: facial expression recognition with Haar detection and Kirsch edge-fused CNNs."""
from edgefer.labels import CLASSES, NUM_CLASSES

__version__ = "0.1.0"
__all__ = ["CLASSES", "NUM_CLASSES", "__version__"]
