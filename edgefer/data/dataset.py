"""The one in-memory form every reader returns."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edgefer.labels import CLASSES


@dataclass
class FaceDataset:
    """Images, labels and provenance, as every reader returns them.

    Attributes
    ----------
    images : list of uint8 ndarrays (H, W) gray, or one uint8 array (N, H, W) when all share a size.
    labels : int64 ndarray (N,), indices into :data:`edgefer.labels.CLASSES`.
    sources : list of str, where each item came from (``path`` or ``path:row``).
    split : name of the split (``train``, ``publictest``, ``privatetest``, ``all``, ...).
    needs_detection : True when items are whole photos (faces must be found first),
        False when they are ready face crops (FER-2013).
    skipped : reason -> count of items that were left out, never silently.
    soft_labels : optional float32 (N, 7) target distributions (e.g. FER+ votes).
    """

    images: np.ndarray | list
    labels: np.ndarray
    sources: list[str]
    split: str = "all"
    needs_detection: bool = False
    skipped: dict[str, int] = field(default_factory=dict)
    soft_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.labels)
        if len(self.images) != n or len(self.sources) != n:
            raise ValueError(
                f"FaceDataset needs as many images, labels and sources; got "
                f"{len(self.images)}, {n}, {len(self.sources)}")
        if self.soft_labels is not None and len(self.soft_labels) != n:
            raise ValueError(f"soft_labels has {len(self.soft_labels)} rows for {n} items")

    def __len__(self) -> int:
        return len(self.labels)

    def per_class(self) -> dict[str, int]:
        """Count of items per class name, in the fixed class order."""
        counts = Counter(self.labels.tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(CLASSES)}

    def subset(self, index) -> "FaceDataset":
        """A new dataset with the items at ``index`` (int array or boolean mask)."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if isinstance(self.images, np.ndarray):
            images = self.images[index]
        elif hasattr(self.images, "paths"):  # LazyImages: stay lazy, decode nothing
            images = type(self.images)([self.images.paths[i] for i in index])
        else:
            images = [self.images[i] for i in index]
        return FaceDataset(
            images=images, labels=self.labels[index],
            sources=[self.sources[i] for i in index], split=self.split,
            needs_detection=self.needs_detection, skipped=dict(self.skipped),
            soft_labels=None if self.soft_labels is None else self.soft_labels[index])
