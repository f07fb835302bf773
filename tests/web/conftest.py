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
def web_checkpoint(tiny_checkpoint):
    """The suite's tiny fernet_small checkpoint (tests/conftest.py)."""
    return tiny_checkpoint


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
