"""What a model costs per face, in *passes*: its multiply-adds over those of the plain FERNet.

The unit of the speed budgets that choose the shipped models (``scripts/choose_models.py``): a
pass is one face through ``fernet`` at widths 32-64-128-256 without edge fusion. Counted by
PyTorch's ``FlopCounterMode`` on the meta device (shapes only: nothing is allocated or
computed). An edge-fused model counts 2 passes more: its float Kirsch op makes it about three
times slower than its multiply-adds say.
"""
from __future__ import annotations

FUSED_EXTRA = 2.0
"""Passes added for a model with Kirsch edge fusion (its float Kirsch op's real cost)."""


def _flops(name: str, kwargs: dict) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from edgefer.models import create_model

    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    size = kwargs.get("input_size", 48)
    with torch.device("meta"):
        model = create_model(name, **kwargs).eval()
        x = torch.empty(1, 1, size, size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def relative_flops(model_name: str, kwargs: dict) -> float:
    """Multiply-adds of ``model_name(**kwargs)`` for one face, over those of the plain FERNet."""
    return _flops(model_name, kwargs) / _flops("fernet", {"fusion": "none"})


def passes(model_name: str, kwargs: dict) -> float:
    """What one view of one face costs through ``model_name(**kwargs)``, in passes (see the
    module's doc), rounded to 2 decimals."""
    fused = kwargs.get("fusion", "feature") != "none"  # fernet's default is feature fusion
    return round(relative_flops(model_name, kwargs) + (FUSED_EXTRA if fused else 0), 2)
