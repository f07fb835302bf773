"""Video: read frames, recognize expressions at live speed, write annotated video.

:class:`VideoRecognizer` keeps 640x480 video above 30 frames per second on two CPU cores by
doing the expensive step, the full-frame Haar scan, rarely and small:

1. **Downscaled detection.** Full-frame detection runs on a copy shrunk to ``detect_side``
   pixels on its longer side (320 by default: a 640x480 frame is scanned at 320x240, a quarter
   of the pixels). Faces smaller than about ``48 * longer_side / detect_side`` pixels (48 at
   640x480) are then missed.
2. **Detection every K frames, tracking between.** The full scan runs on the first frame and
   then every ``detect_every`` frames (5 by default). On the frames between, each face found
   last time is looked for again only in a window around its last box (twice the box's size),
   shrunk so the face is about ``TRACK_FACE_SIDE`` pixels wide: a scan of roughly 100x100
   pixels that costs about a millisecond. The box moves to the centre of the window's face
   that overlaps the last box most, keeping the size found by the last full scan; when the
   window has no such face, the last box is kept. Faces that appear, and boxes
   kept for a face that left, are corrected at the next full scan, at most K-1 frames later.
3. **One batch per frame.** All faces of a frame are classified in one forward pass. Edge
   fusion runs as plain torch ops when the recognizer was built with ``eager_fusion=True``, as
   the one :class:`VideoRecognizer` builds from a model name is (and ``edgefer predict``'s):
   for a few crops it is as fast as the numba kernel, and it leaves torch's thread count alone
   (numba's OpenMP layer resets it). For small batches one torch thread is fastest on a busy 2-core
   machine (``torch.set_num_threads(1)``; ``edgefer predict`` does this).

4. **Tracks.** Boxes followed from one frame to the next keep their track id; boxes from a
   full scan are matched to the live tracks (:mod:`edgefer.tracking`), and each track's
   probabilities are smoothed over time.

``detect_every=1`` scans every frame in full (no box following; tracks still match by position).
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from edgefer.errors import DataError
from edgefer.io import to_gray
from edgefer.labels import CLASSES
from edgefer.preprocess.detect import HaarFaceDetector
from edgefer.recognize import Face

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v")
"""Video files edgefer reads (through OpenCV's FFmpeg backend)."""

FOURCC = {".avi": "MJPG", ".mkv": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v"}
"""Codec written for each output container: Motion-JPEG in AVI/MKV, MPEG-4 Part 2 in MP4/MOV
(both encoders ship with OpenCV's wheels; H.264 does not)."""

TRACK_FACE_SIDE = 48
"""Side (pixels) a tracked face is shrunk to before its window is scanned."""

VIDEO_MIN_FACE = 48
"""Smallest face side (frame pixels) the MTCNN full scan of video looks for."""

DEFAULT_SMOOTH_S = 0.5
"""Default time constant (seconds) of the smoothing of each track's probabilities: a change of
expression shows in the smoothed label within about half a second, while a one-frame flicker
(a blink, motion blur) moves it by under a tenth at 25 frames/s."""

TRACK_MARGIN = 0.5
"""Window around a tracked box: the box grown by this fraction of its size on every side."""


def is_video_file(path: str | os.PathLike) -> bool:
    """True when the file name has a video extension edgefer reads."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What a video file declares: frames per second, frame size and frame count (0 if unknown)."""

    fps: float
    width: int
    height: int
    frame_count: int


def _capture(source: str | int, cannot_open: str, no_frames: str) -> tuple[cv2.VideoCapture, np.ndarray]:
    """An open capture of a file or camera and its first frame; DataError with the message given otherwise."""
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        cap.release()
        raise DataError(cannot_open)
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise DataError(no_frames)
    return cap, first


def _open(path: str | os.PathLike) -> tuple[cv2.VideoCapture, np.ndarray, VideoInfo]:
    """An open capture, its first frame and its info; raises naming the file otherwise."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a video file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: empty file (0 bytes)")
    cap, first = _capture(str(p), f"{p}: cannot open as a video (not a video, corrupt, or an unsupported codec)",
                          f"{p}: video has no readable frames (corrupt or truncated?)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(fps=float(fps) if fps and np.isfinite(fps) and fps > 0 else 25.0,
                     width=first.shape[1], height=first.shape[0],
                     frame_count=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)))
    return cap, first, info


def video_info(path: str | os.PathLike) -> VideoInfo:
    """The :class:`VideoInfo` of a video file (opens it and reads one frame to make sure).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    DataError
        Naming the file, when it cannot be opened as a video or has no frames.
    """
    cap, _, info = _open(path)
    cap.release()
    return info


def iter_frames(path: str | os.PathLike, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR uint8 frame (H, W, 3)) for frames 0, every, 2*every, ... of a video file.

    The file is opened, and its first frame read, when this is called, so a bad file raises
    here rather than at the first ``next()``. Skipped frames are grabbed but not converted.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    DataError
        Naming the file, when it cannot be opened as a video or has no frames.
    ValueError
        When ``every`` is not a positive int.
    """
    every = _check_every(every)
    cap, first, _ = _open(path)
    return _frames(cap, first, every)


def _check_every(every) -> int:
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"`every` must be an int >= 1; got {every!r}")
    return int(every)


def _frames(cap: cv2.VideoCapture, first: np.ndarray, every: int):
    try:
        yield 0, first
        index = 1
        while True:
            if index % every:
                if not cap.grab():
                    return
            else:
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
                yield index, frame
            index += 1
    finally:
        cap.release()


def iter_camera(index: int | str = 0, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR frame) from camera ``index`` until it stops delivering frames.

    ``index`` may also be a stream URL or a video file, read the same way (live).

    Raises
    ------
    DataError
        When the camera cannot be opened or gives no first frame.
    """
    every = _check_every(every)
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        source, name = int(index), f"camera {index}"
    elif isinstance(index, (str, os.PathLike)):
        source, name = str(index), str(index)
    else:
        raise TypeError(f"`index` must be a camera number, a URL or a path; got {type(index).__name__}")
    cap, first = _capture(source, f"{name}: cannot be opened (no such camera, or it is in use)",
                          f"{name}: opened but gives no frames")
    return _frames(cap, first, every)


class VideoWriter:
    """Write BGR frames to a video file atomically: a temporary file renamed into place on close.

    Use as a context manager; when the block raises, the partial file is removed and ``path``
    is left as it was. The codec follows the extension (see :data:`FOURCC`).
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise ValueError(f"`path` must end in one of {', '.join(FOURCC)}; got {self.path.name!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=suffix, dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*FOURCC[suffix]),
                                       float(fps), self.size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise DataError(f"{self.path}: cannot write video ({FOURCC[suffix]} codec unavailable)")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame of the writer's size."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ValueError(f"`frame` must be {self.size[0]}x{self.size[1]}; got shape {frame.shape}")
        self._writer.write(frame)
        self.frames += 1

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._writer.release()
        if exc_type is None:
            os.chmod(self._tmp, _new_file_mode())  # mkstemp makes 0600; use the usual umask
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def _new_file_mode() -> int:
    """Permissions a new file gets under the process's umask (0644 usually)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


class VideoRecognizer:
    """Recognize expressions in consecutive video frames quickly, following each face (see the module's notes).

    Every face gets a ``track`` id that stays with it while it is in view and through gaps of
    up to ``max_gap_s`` seconds, and probabilities smoothed over ``smooth_s`` seconds along its
    track (:class:`~edgefer.tracking.FaceTracker`); ``raw_probabilities`` keeps each frame's own.

    Parameters
    ----------
    classifier : a :class:`~edgefer.recognize.Recognizer`, an
        :class:`~edgefer.runtime.OnnxClassifier` (anything with ``spec`` and ``probabilities``),
        used as it was built, or what :class:`Recognizer` accepts as ``model`` (None, a name or
        a checkpoint path), loaded with ``eager_fusion=True``.
    detector : face detector for the full scans: a name (``haar``, ``mtcnn``) or an object with
        ``detect``; None takes the kind the classifier's Recognizer uses (else ``haar``).
    detect_every : run the full-frame scan on every K-th frame given to :meth:`process`;
        follow boxes on the frames between. 1 scans every frame.
    detect_side : longer side, in pixels, of the copy a named detector scans.
    track : follow faces between full scans (else keep the last boxes unchanged).
    max_gap_s : seconds a face may go unseen and keep its track id.
    smooth_s : time constant of the probability smoothing in seconds (0: off).
    fps : frames per second of the frames given to :meth:`process`, for their times when
        no ``time_s`` is passed; None: the wall clock (a live camera).

    Examples
    --------
    >>> vr = VideoRecognizer()                             # doctest: +SKIP
    >>> for index, frame, faces in vr.run("clip.mp4"):     # doctest: +SKIP
    ...     print(index, [(f.track, f.label) for f in faces])
    """

    def __init__(self, classifier=None, *, detector=None, detect_every: int = 5, detect_side: int = 320,
                 track: bool = True, max_gap_s: float = 1.0, smooth_s: float = DEFAULT_SMOOTH_S,
                 fps: float | None = None):
        from edgefer.preprocess.detectors import make_detector
        from edgefer.tracking import FaceTracker
        if classifier is None or isinstance(classifier, (str, os.PathLike)):
            from edgefer.recognize import Recognizer
            classifier = Recognizer(classifier, eager_fusion=True)
        if not (hasattr(classifier, "spec") and hasattr(classifier, "probabilities")):
            raise TypeError(f"`classifier` must have `spec` and `probabilities` (a Recognizer or "
                            f"OnnxClassifier); got {type(classifier).__name__}")
        self.classifier = classifier
        self.detect_every = _check_every(detect_every)
        if detector is None:
            detector = getattr(getattr(classifier, "detector", None), "name", "haar")
        if isinstance(detector, str):
            # MTCNN's pyramid starts at its smallest face: searching from VIDEO_MIN_FACE pixels, as
            # Haar's 24-pixel window does at detect_side 320 on 640x480 frames, costs a quarter.
            extra = {"min_size": VIDEO_MIN_FACE} if detector.lower() == "mtcnn" else {}
            detector = make_detector(detector, max_side=detect_side, **extra)
        self.detector = detector
        self._window = HaarFaceDetector(min_size=(TRACK_FACE_SIDE * 2 // 3,) * 2, min_neighbors=3)
        self.track = bool(track)
        self.tracks = FaceTracker(max_gap_s=max_gap_s, smooth_s=smooth_s)
        if fps is not None and not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
            raise ValueError(f"`fps` must be a positive number or None; got {fps!r}")
        self.fps = fps
        self.reset()

    def reset(self) -> None:
        """Forget the boxes and tracks: the next frame gets a full scan and ids start at 1 (call between videos)."""
        self._boxes: list[tuple[int, int, int, int]] = []
        self._ids: list[int] = []
        self._count = 0
        self._start = time.monotonic()
        self.tracks.reset()

    def process(self, frame: np.ndarray, *, index: int | None = None, time_s: float | None = None) -> list[Face]:
        """Faces in the next frame (BGR or gray uint8), largest first at full scans; [] if none.

        ``index`` is the frame's number in its video (default: how many frames came before);
        ``time_s`` its time in seconds (default: from ``fps``, else the wall clock).
        """
        gray = to_gray(frame)
        index = self._count if index is None else int(index)
        if time_s is None:
            time_s = index / self.fps if self.fps else time.monotonic() - self._start
        links = None
        if self._count % self.detect_every == 0:
            source = gray if isinstance(self.detector, HaarFaceDetector) else frame
            self._boxes = [f.as_tuple() for f in self.detector.detect(source)]
        else:
            if self.track:
                self._boxes = [self._follow(gray, b) for b in self._boxes]
            links = self._ids
        self._count += 1
        if not self._boxes:
            self._ids = []
            return []
        spec = self.classifier.spec
        pixels = np.stack([spec.crop(gray, b) for b in self._boxes])
        probs = self.classifier.probabilities(pixels)
        tracked = self.tracks.update(self._boxes, probs, time_s, links=links)
        self._ids = [tid for tid, _ in tracked]
        return [_face(b, smooth, raw, index=index, time_s=time_s, track=tid)
                for b, raw, (tid, smooth) in zip(self._boxes, probs, tracked)]

    def _follow(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """The box of the same face in this frame, searched near ``box``; ``box`` if not found."""
        x, y, w, h = box
        height, width = gray.shape
        mx, my = round(w * TRACK_MARGIN), round(h * TRACK_MARGIN)
        x0, y0 = max(0, x - mx), max(0, y - my)
        x1, y1 = min(width, x + w + mx), min(height, y + h + my)
        window = gray[y0:y1, x0:x1]
        scale = min(1.0, TRACK_FACE_SIDE / max(w, h))
        if scale < 1.0:
            window = cv2.resize(window, (max(1, round(window.shape[1] * scale)),
                                         max(1, round(window.shape[0] * scale))),
                                interpolation=cv2.INTER_AREA)
        found = self._window.detect(window)
        if not found:
            return box
        sx, sy = (x1 - x0) / window.shape[1], (y1 - y0) / window.shape[0]
        candidates = [(x0 + round(f.x * sx), y0 + round(f.y * sy), round(f.w * sx), round(f.h * sy))
                      for f in found]
        best = max(candidates, key=lambda c: _iou(c, box))
        if _iou(best, box) <= 0.2:
            return box
        # Move to the found face's centre but keep the size of the last full scan: boxes found
        # in the shrunk window are coarse in size (one scale step is 10%), centres are not.
        cx, cy = best[0] + best[2] / 2, best[1] + best[3] / 2
        nx = min(max(0, round(cx - w / 2)), max(0, width - w))
        ny = min(max(0, round(cy - h / 2)), max(0, height - h))
        return nx, ny, w, h

    def run(self, path: str | os.PathLike, every: int = 1) -> Iterator[tuple[int, np.ndarray, list[Face]]]:
        """(index, frame, faces) for frames 0, every, 2*every, ... of a video file.

        Frame times come from the container's frame rate. Opens the file when called (so bad
        files raise here; see :func:`iter_frames`).
        """
        info = video_info(path)
        frames = iter_frames(path, every)
        self.reset()
        return ((i, frame, self.process(frame, index=i, time_s=i / info.fps)) for i, frame in frames)


def _face(box, probs, raw, *, index: int, time_s: float, track: int) -> Face:
    k = int(np.argmax(probs))
    return Face(box=tuple(int(v) for v in box), label=CLASSES[k],
                probabilities={c: float(p) for c, p in zip(CLASSES, probs)},
                frame=index, time_s=float(time_s), track=int(track),
                raw_probabilities={c: float(p) for c, p in zip(CLASSES, raw)})
