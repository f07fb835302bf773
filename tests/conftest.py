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


def lfw_faces(n=2, patch=150):
    """``n`` LFW photos of different people, each a central (patch, patch) BGR cut with one Haar face.

    The first photos in name order whose cut has exactly one face of side >= 80 pixels; skips the
    test when LFW is not at hand ($EDGEFER_DATASETS).
    """
    import cv2

    from edgefer.data.load import dataset_root
    from edgefer.preprocess.detect import HaarFaceDetector

    root = dataset_root() / "lfw" / "lfw-deepfunneled"
    if not root.is_dir():
        pytest.skip(f"LFW not found at {root} (set EDGEFER_DATASETS)")
    haar, cuts = HaarFaceDetector(), []
    for person in sorted(root.iterdir()):
        photo = next(iter(sorted(person.glob("*.jpg"))), None)
        image = cv2.imread(str(photo)) if photo else None
        if image is None:
            continue
        o = (image.shape[0] - patch) // 2
        cut = np.ascontiguousarray(image[o:o + patch, o:o + patch])
        faces = haar.detect(cut)
        if len(faces) == 1 and faces[0].w >= 80:
            cuts.append(cut)
            if len(cuts) == n:
                return cuts
    pytest.skip("too few LFW photos with one clear face")


def write_two_face_clip(path, kind, *, fps=25.0, seconds=4.0, size=(640, 480)):
    """A 640x480 MJPG clip of two LFW faces moving in opposite directions; returns their true centres.

    ``kind="gap"``: face 0 crosses the top half left to right, face 1 the bottom half right to
    left and is hidden (covered by a flat patch) from 1.6 s to 2.2 s (0.6 s).
    ``kind="cross"``: the two pass each other in the middle, their cuts 130 pixels apart
    vertically (the faces about 30 pixels apart at the closest).
    Returns ``centres[frame] = [(x, y) or None for each face]`` (None while hidden).
    """
    import cv2

    cuts = lfw_faces(2)
    p = cuts[0].shape[0]
    n = round(fps * seconds)
    ys = (40, 290) if kind == "gap" else (110, 240)
    hidden = range(round(1.6 * fps), round(2.2 * fps)) if kind == "gap" else range(0)
    rng = np.random.default_rng(1)
    background = rng.integers(90, 130, (size[1], size[0], 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    centres = []
    for i in range(n):
        frame = background.copy()
        t = i / (n - 1)
        xs = (round(40 + t * 420), round(460 - t * 420))
        row = []
        for k, (x, y) in enumerate(zip(xs, ys)):
            if k == 1 and i in hidden:
                frame[y:y + p, x:x + p] = 110
                row.append(None)
            else:
                frame[y:y + p, x:x + p] = cuts[k]
                row.append((x + p / 2, y + p / 2))
        writer.write(frame)
        centres.append(row)
    writer.release()
    return centres


@pytest.fixture(scope="session")
def gap_clip(tmp_path_factory):
    """(path, true centres) of the 4-second two-face clip where face 1 is hidden for 0.6 s."""
    path = tmp_path_factory.mktemp("clips") / "gap.avi"
    return path, write_two_face_clip(path, "gap")


@pytest.fixture(scope="session")
def cross_clip(tmp_path_factory):
    """(path, true centres) of the 4-second two-face clip where the faces pass close."""
    path = tmp_path_factory.mktemp("clips") / "cross.avi"
    return path, write_two_face_clip(path, "cross")


@pytest.fixture
def restore_torch_threads():
    """`edgefer predict` sets one torch thread for its process; put the count back after the test
    (modules that run predict in-process use it for every test, through ``pytestmark``)."""
    import torch
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
