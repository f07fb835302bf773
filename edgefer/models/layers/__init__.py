"""Network layers: the Kirsch compass edge op on tensors and the edge fusion ``x + weight * kirsch(x)``
(:mod:`edgefer.models.layers.kirsch`, over the numba kernels of ``_kirsch_kernels``)."""
from edgefer.models.layers.kirsch import Kirsch, KirschFusion, kirsch, kirsch_conv, kirsch_fuse

__all__ = ["Kirsch", "KirschFusion", "kirsch", "kirsch_conv", "kirsch_fuse"]
