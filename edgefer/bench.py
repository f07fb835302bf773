"""Speed benchmarks: train and inference time per batch of 48, fusion overhead, crops/s, frames/s.

Numbers depend on the machine and on what else runs on it; every result records both.
"""
from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edgefer.models import create_model, list_models

log = logging.getLogger(__name__)


def _median_time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _train_and_infer(name: str, *, batch: int = 48, precision: str = "fp32",
                     input_size: int | None = None, **kwargs):
    """A model on random channels_last data, and two closures: one SGD train step, one inference."""
    torch.manual_seed(0)
    model = create_model(name, **({"input_size": input_size} if input_size else {}), **kwargs)
    size = getattr(model, "input_size", 48)
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 1, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 7, (batch,))
    target = F.one_hot(y, 7).float()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    bf16 = precision == "bf16"

    def train_step():
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if hasattr(model, "training_loss"):
                loss, _ = model.training_loss(x, target, lambda z, t: F.cross_entropy(z.float(), t))
            else:
                loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer():
        model.eval()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(x)

    return size, train_step, infer


def model_speed(name: str, *, batch: int = 48, repeats: int = 5, precision: str = "fp32",
                input_size: int | None = None, **kwargs) -> dict:
    """Median train-step (forward, backward, SGD update) and inference time of a batch."""
    size, train_step, infer = _train_and_infer(name, batch=batch, precision=precision,
                                               input_size=input_size, **kwargs)
    tt = _median_time(train_step, repeats)
    ti = _median_time(infer, repeats)
    return {"input_size": size, "precision": precision, "batch": batch,
            "train_ms_per_batch": round(tt * 1000, 2), "infer_ms_per_batch": round(ti * 1000, 2),
            "train_img_per_s": round(batch / tt, 1), "infer_img_per_s": round(batch / ti, 1)}


def kirsch_overhead(*, steps: int = 31, warmup: int = 3, precision: str = "fp32",
                    input_size: int = 48) -> dict:
    """Train-step time of ``edgecnn48`` with feature fusion over the same net without, minus 1.

    Both nets are built once with the same weights and warmed up; then single train steps of
    the two alternate (fused first on even steps, plain first on odd ones), so that drifts in
    the machine's speed and load from other processes hit both alike, and the medians of
    ``steps`` steps each are compared. Timing whole repeated blocks of one net, then of the
    other, gave overheads from +1 % to +23 % on one quiet VM within minutes.
    """
    kw = {"precision": precision, "input_size": input_size}
    _, fused_step, _ = _train_and_infer("edgecnn48", fusion="feature", **kw)
    _, plain_step, _ = _train_and_infer("edgecnn48", fusion="none", **kw)
    for _ in range(warmup):
        fused_step()
        plain_step()
    fused, plain = [], []

    def timed(step, into):
        t = time.perf_counter()
        step()
        into.append(time.perf_counter() - t)

    for i in range(steps):
        first, second = ((fused_step, fused), (plain_step, plain))[:: 1 if i % 2 == 0 else -1]
        timed(*first)
        timed(*second)
    f, p = statistics.median(fused) * 1000, statistics.median(plain) * 1000
    return {"overhead": round(f / p - 1, 4), "fused_ms": round(f, 2), "plain_ms": round(p, 2),
            "input_size": input_size, "precision": precision, "steps": steps}


def recognizer_speed(recognizer, *, batch: int = 256, repeats: int = 5, frames: int = 90) -> dict:
    """Shipped-model crops/s (batched) and end-to-end frames/s on a synthetic 640x480 video.

    The video is the bundled astronaut face pasted on a gray 640x480 frame, moving a few pixels
    each frame; the end-to-end path is :class:`edgefer.video.VideoRecognizer` when present.
    """
    size = recognizer.spec.input_size
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (batch, size, size), dtype=np.uint8)
    t = _median_time(lambda: recognizer.probabilities(pixels), repeats)
    out = {"crops_per_s": round(batch / t, 1), "crops_batch": batch}
    frames_list = synthetic_video(frames)
    try:
        from edgefer.video import VideoRecognizer
        vr = VideoRecognizer(recognizer)
        run = lambda: [vr.process(f) for f in frames_list]  # noqa: E731
    except ImportError:
        run = lambda: [recognizer.predict(f) for f in frames_list]  # noqa: E731
    run()
    t0 = time.perf_counter()
    results = run()
    dt = time.perf_counter() - t0
    out.update(e2e_fps=round(len(frames_list) / dt, 1), e2e_frames=len(frames_list),
               e2e_frames_with_face=int(sum(1 for r in results if r)))
    return out


BENCH_FACE = Path(__file__).resolve().parent / "examples" / "astronaut-face.webp"
"""The face the video benchmark moves about: rows 20-219, columns 130-329 of scikit-image's
astronaut photo (NASA, public domain; ``examples/README.md``), stored losslessly (WebP), so the
package needs no scikit-image to time it."""


def synthetic_video(n: int = 90) -> list[np.ndarray]:
    """n BGR 640x480 frames with one real face (:data:`BENCH_FACE`) drifting."""
    import cv2
    face = cv2.imread(str(BENCH_FACE), cv2.IMREAD_COLOR)
    if face is None:
        raise FileNotFoundError(f"{BENCH_FACE}: the benchmark's face image is missing or unreadable")
    frames = []
    for i in range(n):
        f = np.full((480, 640, 3), 110, np.uint8)
        x, y = 200 + (i % 30), 120 + (i % 20)
        f[y:y + face.shape[0], x:x + face.shape[1]] = face
        frames.append(f)
    return frames


def run_bench(models: list[str] | None = None, *, precision: str = "fp32", repeats: int = 5,
              recognizer=None, shipped: dict | None = None) -> dict:
    """All benchmark numbers in one object (see ``edgefer bench --help``).

    ``recognizer`` is the default model, whose numbers are also ``crops_per_s`` and ``e2e_fps``
    at the top level; ``shipped`` maps other model names to their Recognizers, timed the same way
    under ``shipped_models``.
    """
    names = list_models() if models is None else models
    res = {"models": {n: model_speed(n, precision=precision, repeats=repeats) for n in names}}
    k = kirsch_overhead(precision=precision)
    res["kirsch_overhead"] = k["overhead"]
    res["kirsch_overhead_detail"] = k
    if recognizer is not None:
        res["shipped"] = {"model": recognizer.name, **recognizer_speed(recognizer)}
        res["crops_per_s"] = res["shipped"]["crops_per_s"]
        res["e2e_fps"] = res["shipped"]["e2e_fps"]
    if shipped:
        res["shipped_models"] = {name: recognizer_speed(r) for name, r in shipped.items()}
    return res
