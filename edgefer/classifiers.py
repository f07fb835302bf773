"""Classifiers: what turns model pixels (uint8 (N, S, S)) into class probabilities (N, 7).

Three kinds of model file, one interface (``spec``, ``name``, ``info``, ``probabilities``):

* ``.pt``: a checkpoint written by ``edgefer train`` (:class:`TorchClassifier`; loaded with
  ``weights_only=True``).
* ``.onnx``: a graph written by ``edgefer export`` (:class:`~edgefer.runtime.OnnxClassifier`,
  float or int8).
* ``.json``: an *ensemble manifest* (:class:`EnsembleClassifier`): member files beside it whose
  probabilities are averaged, optionally over test-time views of the face (:data:`TTA_VIEWS`:
  mirrored, zoomed in or out, or both).
  A manifest is plain data, never code::

      {"format": "edgefer-ensemble", "version": 1, "name": "ferplus-ensemble",
       "members": ["fernet-int8.onnx", "fernet-fusion-int8.onnx"], "tta": ["identity", "hflip"],
       "scores": {...}, "description": "..."}

  Members are ``.pt`` or ``.onnx`` files named relative to the manifest's folder, and all must
  share one preprocessing spec. Each must resolve (symbolic links followed) inside the
  manifest's own folder or the package's weights folder: a manifest of shipped members is
  placed in ``edgefer/weights`` or beside copies of them; ``"version"`` must be 1.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from edgefer.labels import CLASSES
from edgefer.preprocess.spec import PreprocessSpec

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
"""The package's shipped models (and the only folder besides its own that a manifest may name members in)."""

MODEL_SUFFIXES = (".json", ".onnx", ".pt")
"""Model file kinds, in the order a shipped model's name is looked up."""

ENSEMBLE_FORMAT = "edgefer-ensemble"
ENSEMBLE_VERSIONS = (1,)
"""Manifest versions this edgefer reads; a manifest without one, or of another, is refused."""
TTA_VIEWS = ("identity", "hflip", "zoom_in", "zoom_out", "zoom_in_hflip", "zoom_out_hflip")
"""Test-time views of a face: as is, mirrored left to right, zoomed in or out about its centre
(:data:`ZOOMS`), and zoomed then mirrored."""

ZOOMS = {"zoom_in": 1.08, "zoom_out": 0.93}
"""Scale of each zoomed view: the face drawn 8 % larger (its edges cut off) or 7 % smaller (the
border pixels repeated); training augments scale within 0.9-1.1."""


def view(pixels: np.ndarray, name: str) -> np.ndarray:
    """Model pixels (N, S, S) as test-time view ``name`` (one of :data:`TTA_VIEWS`) shows them."""
    if name not in TTA_VIEWS:
        raise ValueError(f"unknown test-time view {name!r}; known: {', '.join(TTA_VIEWS)}")
    zoom = name.removesuffix("_hflip")
    if zoom in ZOOMS:
        pixels = _zoom(pixels, ZOOMS[zoom])
    return np.ascontiguousarray(pixels[..., ::-1]) if name.endswith("hflip") else pixels


def _zoom(pixels: np.ndarray, scale: float) -> np.ndarray:
    """Each (S, S) plane scaled by ``scale`` about its centre (bilinear; border pixels repeated)."""
    import cv2

    pixels = np.asarray(pixels)
    h, w = pixels.shape[-2:]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    m = np.array([[scale, 0, (1 - scale) * cx], [0, scale, (1 - scale) * cy]], np.float32)
    out = np.empty_like(pixels)
    for i, plane in enumerate(pixels.reshape(-1, h, w)):
        out.reshape(-1, h, w)[i] = cv2.warpAffine(plane, m, (w, h), flags=cv2.INTER_LINEAR,
                                                  borderMode=cv2.BORDER_REPLICATE)
    return out


class TorchClassifier:
    """A checkpoint's model in PyTorch.

    Parameters
    ----------
    path : a ``.pt`` checkpoint written by ``edgefer train``.
    device : torch device.
    batch_size : faces per forward pass.
    eager_fusion : compute feature fusion in plain torch ops rather than the numba kernel
        (:func:`~edgefer.models.set_eager_fusion`): as fast for a few faces at a time, with no
        kernel to compile; the kernel is faster for large batches. Models without feature
        fusion ignore it.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", batch_size: int = 256,
                 eager_fusion: bool = False):
        from edgefer.checkpoint import load_checkpoint, model_from_checkpoint
        from edgefer.models import set_eager_fusion
        self.path = Path(path)
        self.checkpoint = load_checkpoint(self.path)
        model = set_eager_fusion(model_from_checkpoint(self.checkpoint), eager_fusion)
        self.model = model.to(device).eval()
        self.eager_fusion = bool(eager_fusion)
        self.spec = PreprocessSpec.from_dict(self.checkpoint["preprocess"])
        self.name = self.checkpoint["model_name"]
        self.device = device
        self.batch_size = batch_size

    @property
    def info(self) -> dict:
        return _torch_info(self.path, self.checkpoint)

    @torch.no_grad()
    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """float (N, 7) class probabilities for uint8 model pixels (N, S, S)."""
        out = []
        for i in range(0, len(pixels), self.batch_size):
            x = self.spec.to_tensor(pixels[i:i + self.batch_size]).to(self.device)
            out.append(self.model(x).float().softmax(1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def read_manifest(path: str | os.PathLike) -> dict:
    """The validated content of an ensemble manifest, with ``members`` as absolute paths.

    Raises
    ------
    ValueError
        Not JSON, not an edgefer ensemble, or a member that is missing, nested or of another kind.
    """
    path = Path(path)
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON model manifest ({exc})") from None
    if not isinstance(m, dict) or m.get("format") != ENSEMBLE_FORMAT:
        raise ValueError(f"{path}: not an edgefer model manifest (\"format\" must be {ENSEMBLE_FORMAT!r})")
    if "version" not in m:
        raise ValueError(f"{path}: manifest has no \"version\"; this edgefer reads version "
                         f"{', '.join(map(str, ENSEMBLE_VERSIONS))}")
    if isinstance(m["version"], bool) or m["version"] not in ENSEMBLE_VERSIONS:
        raise ValueError(f"{path}: unknown manifest version {m['version']!r}; this edgefer reads version "
                         f"{', '.join(map(str, ENSEMBLE_VERSIONS))}")
    members = m.get("members")
    if not isinstance(members, list) or not members or not all(isinstance(x, str) for x in members):
        raise ValueError(f"{path}: \"members\" must be a non-empty list of model file names")
    tta = m.get("tta", ["identity"])
    if not isinstance(tta, list) or not tta or any(v not in TTA_VIEWS for v in tta):
        raise ValueError(f"{path}: \"tta\" must be a non-empty list of {', '.join(TTA_VIEWS)}; got {tta!r}")
    resolved = []
    allowed = _member_folders(path)
    for name in members:
        p = (path.parent / name).resolve()
        if Path(name).is_absolute() or not any(p.is_relative_to(folder) for folder in allowed):
            raise ValueError(f"{path}: member {name!r} resolves to {p}, outside the manifest's folder "
                             f"{allowed[0]} and the shipped weights; place the manifest beside its members")
        if p.suffix not in (".pt", ".onnx"):
            raise ValueError(f"{path}: member {name!r} must be a .pt or .onnx file")
        if not p.is_file():
            raise ValueError(f"{path}: member {name!r} not found at {p}")
        resolved.append(p)
    return {**m, "members": resolved, "tta": tta}


def _member_folders(manifest: Path) -> list[Path]:
    """Where a manifest's members may live (links resolved): its own folder and the package's
    weights folder; a manifest is plain data and must not reach elsewhere on the disk."""
    return [manifest.resolve().parent, WEIGHTS_DIR.resolve()]


class EnsembleClassifier:
    """The mean probabilities of several models over test-time views (see the module's doc).

    Parameters
    ----------
    path : an ensemble manifest (``.json``).
    device, batch_size, threads, eager_fusion : passed to the members.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", batch_size: int = 256,
                 threads: int | None = None, eager_fusion: bool = False):
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.members = [_load_single(p, device=device, batch_size=batch_size, threads=threads,
                                     eager_fusion=eager_fusion)
                        for p in self.manifest["members"]]
        _check_one_preprocessing(self.path, [m.spec.to_dict() for m in self.members])
        self.spec = self.members[0].spec
        self.tta = tuple(self.manifest["tta"])
        self.name = str(self.manifest.get("name", self.path.stem))

    @property
    def info(self) -> dict:
        return _ensemble_info(self.path, self.manifest, [x.info for x in self.members])

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """float (N, 7) mean class probabilities over members and views.

        Each member sees all views of all faces in one call (a batch of views x N): for one face
        in a video frame, two ONNX Runtime calls instead of six. On a quiet 2-core machine a
        frame's classification took about 8 ms either way; the fewer calls help when the cores
        are shared.
        """
        pixels = np.asarray(pixels)
        x = np.concatenate([view(pixels, name) for name in self.tta])
        total = sum(m.probabilities(x) for m in self.members)
        total = total.reshape(len(self.tta), len(pixels), total.shape[-1]).sum(0)
        return (total / (len(self.tta) * len(self.members))).astype(np.float32)


def _torch_info(path: Path, checkpoint: dict) -> dict:
    c = checkpoint
    return {"name": c["model_name"], "path": str(path), "kind": "torch",
            "preprocess": PreprocessSpec.from_dict(c["preprocess"]).to_dict(),
            "trained_on": c.get("trained_on", {}), "scores": c.get("scores", {}), "classes": list(CLASSES)}


def _check_one_preprocessing(path: Path, specs: list[dict]) -> None:
    """Refuse an ensemble whose members' preprocessing specs (as dicts) differ."""
    if len({json.dumps(x, sort_keys=True) for x in specs}) > 1:
        raise ValueError(f"{path}: members use different preprocessing; an ensemble needs one")


def _ensemble_info(path: Path, manifest: dict, members: list[dict]) -> dict:
    m = manifest
    return {"name": str(m.get("name", path.stem)), "path": str(path), "kind": "ensemble",
            "members": members, "tta": list(m["tta"]), "preprocess": members[0]["preprocess"],
            "description": m.get("description", ""), "trained_on": m.get("trained_on", {}),
            "scores": m.get("scores", {}), "classes": list(CLASSES)}


def describe(path: str | os.PathLike) -> dict:
    """What ``load_classifier(path).info`` says, read from the file(s) without building a model
    or starting an ONNX Runtime session (``edgefer models`` lists every shipped model this way).

    Raises
    ------
    ValueError
        A file that is not a model edgefer can read, as :func:`load_classifier` would say.
    """
    path = Path(path)
    if path.suffix == ".json":
        manifest = read_manifest(path)
        members = [describe(p) for p in manifest["members"]]
        _check_one_preprocessing(path, [x["preprocess"] for x in members])
        return _ensemble_info(path, manifest, members)
    if path.suffix == ".onnx":
        from edgefer.runtime import onnx_info
        return onnx_info(path)
    from edgefer.checkpoint import load_checkpoint
    return _torch_info(path, load_checkpoint(path))


def _load_single(path: Path, *, device: str, batch_size: int, threads: int | None, eager_fusion: bool):
    if path.suffix == ".onnx":
        from edgefer.runtime import OnnxClassifier
        return OnnxClassifier(path, batch_size=batch_size, threads=threads)
    return TorchClassifier(path, device=device, batch_size=batch_size, eager_fusion=eager_fusion)


def load_classifier(path: str | os.PathLike, *, device: str = "cpu", batch_size: int = 256,
                    threads: int | None = None, eager_fusion: bool = False):
    """The classifier of a model file, by its suffix: ``.json`` manifest, ``.onnx`` or ``.pt``.

    ``eager_fusion`` goes to the torch models (:class:`TorchClassifier`); ONNX models have their
    fusion in the graph.
    """
    path = Path(path)
    if path.suffix == ".json":
        return EnsembleClassifier(path, device=device, batch_size=batch_size, threads=threads,
                                  eager_fusion=eager_fusion)
    return _load_single(path, device=device, batch_size=batch_size, threads=threads,
                        eager_fusion=eager_fusion)
