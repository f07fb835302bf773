"""The model's preprocessing, carried in every checkpoint: the one way pixels become input."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PreprocessSpec:
    """How an image (and optionally a face box) becomes the model's input tensor.

    Attributes
    ----------
    input_size : side of the square gray input, in pixels.
    equalize : apply histogram equalization after the crop is scaled.
    mean, std : intensity normalization of pixels scaled to [0, 1]: ``(p / 255 - mean) / std``.
    """

    input_size: int = 48
    equalize: bool = True
    mean: float = 0.5
    std: float = 0.25

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessSpec":
        return cls(**{k: d[k] for k in ("input_size", "equalize", "mean", "std") if k in d})

    def crop(self, image: np.ndarray, box=None) -> np.ndarray:
        """uint8 (S, S) model pixels from a gray/BGR image and a box (x, y, w, h) or None."""
        from edgefer.preprocess.pipeline import preprocess
        return preprocess(image, box=box, size=self.input_size, equalize=self.equalize)

    def crops(self, images) -> np.ndarray:
        """uint8 (N, S, S) model pixels from a sequence of face crops (gray uint8)."""
        n = len(images)
        out = np.empty((n, self.input_size, self.input_size), np.uint8)
        for i in range(n):
            out[i] = self.crop(images[i])
        return out

    def _batch(self, a):
        """``a`` (an array or tensor) as (N, S, S): one image (S, S) gets a batch axis; other shapes raise."""
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[-1] != self.input_size or a.shape[-2] != self.input_size:
            raise ValueError(f"`pixels` must be (N, {self.input_size}, {self.input_size}); "
                             f"got shape {tuple(a.shape)}")
        return a

    def to_array(self, pixels: np.ndarray) -> np.ndarray:
        """float32 (N, 1, S, S) normalized input from uint8 model pixels (N, S, S), in NumPy.

        The same values as :meth:`to_tensor`, without torch: ONNX Runtime's threads then do
        not compete with torch's spinning OpenMP workers.
        """
        x = self._batch(np.asarray(pixels)).astype(np.float32) / np.float32(255.0)
        return ((x - np.float32(self.mean)) / np.float32(self.std))[:, None]

    def to_tensor(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """float32 (N, 1, S, S) normalized input from uint8 model pixels (N, S, S)."""
        t = self._batch(torch.as_tensor(pixels))
        return ((t.float() / 255.0 - self.mean) / self.std).unsqueeze(1)
