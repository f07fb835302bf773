"""Plots written beside metrics: confusion matrix and training curves (PNG, no display needed)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgefer.labels import CLASSES


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_confusion(confusion, path: str | os.PathLike, *, title: str = "") -> Path:
    """Row-normalized confusion matrix with counts, saved as PNG."""
    plt = _plt()
    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title or "confusion (row-normalized recall)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_confusions(scored: dict[str, dict], out: str | os.PathLike, prefix: str, what: str) -> dict[str, str]:
    """``<prefix>_confusion_<model>.png`` in ``out`` for each model's scoring (a dict with its
    ``confusion`` and ``accuracy``), titled "<model> on <what>: accuracy ..."; ``{model: file name}``."""
    paths = {}
    for m, r in scored.items():
        paths[m] = f"{prefix}_confusion_{m}.png"
        plot_confusion(r["confusion"], Path(out) / paths[m], title=f"{m} on {what}: accuracy {r['accuracy']:.3f}")
    return paths


def plot_curves(series: dict[str, tuple], path: str | os.PathLike, *, xlabel: str, ylabel: str,
                title: str = "") -> Path:
    """Line plot of ``{label: (x, y)}``, saved as PNG."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
