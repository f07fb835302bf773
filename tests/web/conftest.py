"""Fixtures for the web demo: a tiny trained checkpoint, one shared Recognizer, images."""
import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web demo needs fastapi (pip install 'edgefer[web]')")
try:  # Starlette's TestClient runs on httpx2 (or, deprecated, httpx)
    import httpx2  # noqa: F401
except ImportError:
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx2 (or httpx)")

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="session")
def web_checkpoint(tmp_path_factory):
    """A fernet_small checkpoint (no edge fusion) trained for 3 steps on random 48x48 faces."""
    import torch

    from edgefer.train.config import TrainConfig
    from edgefer.train.loop import fit

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8)
    labels = np.arange(48) % 7
    out = tmp_path_factory.mktemp("web_model")
    cfg = TrainConfig(model="fernet_small", model_kwargs={"fusion": "none"}, epochs=1,
                      batch_size=16, max_steps=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches on a busy machine: one thread is fastest
    try:
        fit(cfg, pixels, labels, out_dir=out)
    finally:
        torch.set_num_threads(threads)
    return out / "best.pt"


@pytest.fixture(scope="session")
def recognizer(web_checkpoint):
    """One Recognizer for the whole session (loading it is the slow part of create_app)."""
    from edgefer.recognize import Recognizer
    return Recognizer(web_checkpoint)


@pytest.fixture(scope="session")
def astronaut_bytes():
    """The demo photo (one face at about (177, 66, 95, 95))."""
    return ASTRONAUT.read_bytes()


@pytest.fixture(scope="session")
def noise_png():
    """A 200x160 PNG of uniform noise, in which there is no face."""
    from PIL import Image
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (160, 200), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
