"""Name-to-builder registry: ``create_model(name, **kwargs)`` and ``list_models(pattern)``."""
from __future__ import annotations

import fnmatch
from typing import Callable

import torch.nn as nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator recording ``fn.__name__ -> fn``; a duplicate name is refused."""
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"model name {name!r} is already registered")
    _MODELS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of registered models matching the shell-style ``pattern``."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs`` overriding its defaults.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the available ones.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _MODELS[name](**kwargs)
