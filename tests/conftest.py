"""Fixtures shared across the test tree."""
import os

import numpy as np
import pytest

try:  # the fuzz tests (tests/hardening) draw the same examples every run, so that a test run
    # passes or fails by the code alone; EDGEFER_FUZZ=random draws new ones (to look for bugs)
    from hypothesis import settings

    settings.register_profile("fixed", derandomize=True)
    if os.environ.get("EDGEFER_FUZZ") != "random":
        settings.load_profile("fixed")
except ImportError:
    pass


@pytest.fixture(scope="session", autouse=True)
def own_heavy_lock(tmp_path_factory):
    """Tests take a lock file of their own, so they never wait for a long job holding the real one."""
    before = os.environ.get("EDGEFER_LOCK")
    os.environ["EDGEFER_LOCK"] = str(tmp_path_factory.mktemp("lock") / "heavy.lock")
    yield
    if before is None:
        os.environ.pop("EDGEFER_LOCK", None)
    else:
        os.environ["EDGEFER_LOCK"] = before


@pytest.fixture(scope="module")
def one_thread():
    """Run the module's tests with one torch thread, restoring the count afterwards.

    Inference on a few crops is several times faster on one thread when the 2 cores are busy,
    and ``edgefer predict`` sets one thread itself.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomize_batch_norms(model, mean=0.3):
    """Give ``model``'s batch norms non-trivial running statistics and scales (none left at zero,
    as a residual block's last one starts), so that folding them into convolutions is tested."""
    import torch
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-mean, mean)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="session")
def randomize_batch_norms():
    """``randomize_batch_norms(model, mean=0.3)``, for tests that export or reload models."""
    return _randomize_batch_norms


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A fernet_small checkpoint (no edge fusion) trained for 3 steps on random 48x48 faces."""
    import torch

    from edgefer.train.config import TrainConfig
    from edgefer.train.loop import fit

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8)
    labels = np.arange(48) % 7
    out = tmp_path_factory.mktemp("tiny_model")
    cfg = TrainConfig(model="fernet_small", model_kwargs={"fusion": "none"}, epochs=1,
                      batch_size=16, max_steps=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is several times faster on a busy machine
    try:
        fit(cfg, pixels, labels, out_dir=out)
    finally:
        torch.set_num_threads(threads)
    return out / "best.pt"


@pytest.fixture(scope="session")
def api_client(tiny_checkpoint):
    """FastAPI's TestClient on the web app serving the tiny checkpoint (tests/web and tests/hardening)."""
    pytest.importorskip("fastapi", reason="the web demo needs fastapi (pip install 'edgefer[web]')")
    try:  # Starlette's TestClient runs on httpx2 (or, deprecated, httpx)
        import httpx2  # noqa: F401
    except ImportError:
        pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx2 (or httpx)")
    from fastapi.testclient import TestClient

    from edgefer.recognize import Recognizer
    from edgefer.web import create_app
    with TestClient(create_app(Recognizer(tiny_checkpoint))) as c:
        yield c


ASTRONAUT_PATCH = (130, 20, 190, 200)
"""(x, y, w, h) of the region of skimage's astronaut photo pasted into test videos; its face is
at (47, 46, 95, 95) inside the patch."""


def write_face_video(path, n_frames=7, size=(320, 240), step=6):
    """Write an MJPG video of ``n_frames`` gray-noise frames with the astronaut's face drifting right.

    Returns the face box (x, y, w, h) of every frame, as the Haar cascade finds it in the photo.
    """
    import cv2
    import skimage.data

    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    px, py, pw, ph = ASTRONAUT_PATCH
    patch = photo[py:py + ph, px:px + pw]
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    boxes = []
    for i in range(n_frames):
        frame = rng.integers(80, 120, (size[1], size[0], 3), dtype=np.uint8)
        x, y = 20 + step * i, 20
        frame[y:y + ph, x:x + pw] = patch
        writer.write(frame)
        boxes.append((x + 47, y + 46, 95, 95))
    writer.release()
    return boxes


@pytest.fixture(scope="session")
def face_video(tmp_path_factory):
    """(path, true boxes) of a 7-frame 320x240 MJPG .avi with the astronaut's face drifting right."""
    path = tmp_path_factory.mktemp("video") / "face.avi"
    return path, write_face_video(path)


@pytest.fixture(scope="session")
def tiny_fer(tmp_path_factory):
    """A FER-2013-layout folder: happy = bright top half, sad = bright bottom half (flip-safe)."""
    import cv2
    root = tmp_path_factory.mktemp("fer")
    rng = np.random.default_rng(0)
    for folder, prefix, n in (("train", "Training", 64), ("test", "PublicTest", 24), ("test", "PrivateTest", 24)):
        for i in range(n):
            cls = ("happy", "sad")[i % 2]
            img = rng.integers(0, 60, (48, 48)).astype(np.uint8)
            if cls == "happy":
                img[:24] += 150
            else:
                img[24:] += 150
            d = root / folder / cls
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{prefix}_{i:05d}.png"), img)
    return root
