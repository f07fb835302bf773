"""What answers ``/api/predict`` under load, with bounded memory.

A request walks: header check (on the event loop, microseconds) -> a share of the pixel budget
(waiting at most ``queue_timeout_s``, else 503) -> decoding, detection and crops in a pool of
worker threads (each with its own Haar detector, as OpenCV's cascade keeps per-call buffers;
MTCNN, which only reads its networks, is shared and runs in parallel) -> the model, in one
thread that gathers the faces of every request waiting within a short window into one batch
and runs one model call for them.

Nothing here holds a lock while decoding or detecting: the only serialised step is the model
call, which runs on one thread and gets the batches.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from edgefer.io import image_array, log_warnings

log = logging.getLogger(__name__)

BYTES_PER_PIXEL = 10
"""Peak bytes per declared pixel while one image is decoded for detection: PIL's RGB(X) image
(4), its gray conversion (1), our gray copy (1), and room for a transposition (4)."""

LARGE_IMAGE_PIXELS = 4_000_000
"""After an image this large, freed heap is handed back to the system (glibc's ``malloc_trim``):
otherwise the big buffers stay in the worker threads' malloc arenas and the server keeps them."""


def default_workers() -> int:
    """Threads that decode and detect: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_pixel_budget(max_pixels: int) -> int:
    """Pixels that may be decoded at once: a quarter of the memory available now, at
    :data:`BYTES_PER_PIXEL`, at most two images of ``max_pixels`` and at least one."""
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        avail = 4 << 30
    return int(max(max_pixels, min(2 * max_pixels, avail // 4 // BYTES_PER_PIXEL)))


def release_freed_memory() -> None:
    """Give freed heap memory back to the system (glibc only; elsewhere nothing happens)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM = []


def _malloc_trim():
    if not _TRIM:
        fn = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            fn = libc.malloc_trim
            fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):
            fn = None
        _TRIM.append(fn)
    return _TRIM[0]


class Busy(Exception):
    """The server cannot take this image now; ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class PixelBudget:
    """Pixels of images being decoded or processed at once, bounded; waiters queue in order."""

    def __init__(self, total: int):
        self.total = int(total)
        self.used = 0
        self._cond: asyncio.Condition | None = None
        self._loop = None

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._cond, self._loop = asyncio.Condition(), loop
        return self._cond

    async def acquire(self, pixels: int, timeout: float) -> bool:
        """Take ``pixels`` (at most the whole budget) within ``timeout`` seconds; False if not."""
        pixels = min(int(pixels), self.total)
        cond = self._condition()
        async with cond:
            if self.used + pixels > self.total:
                try:
                    await asyncio.wait_for(cond.wait_for(lambda: self.used + pixels <= self.total), timeout)
                except TimeoutError:
                    return False
            self.used += pixels
            return True

    async def release(self, pixels: int) -> None:
        pixels = min(int(pixels), self.total)
        cond = self._condition()
        async with cond:
            self.used -= pixels
            cond.notify_all()


@dataclass
class Located:
    """What a worker thread makes of an image: its upright size, face boxes and model pixels."""

    width: int
    height: int
    boxes: list[tuple[int, int, int, int]]
    pixels: np.ndarray | None


class Locator:
    """Decode an opened image as gray and find and crop its faces, in a pool of threads: a Haar
    detector is copied per thread (``detectMultiScale`` is not thread-safe), a detector whose
    ``thread_safe`` is true (MTCNN) is shared and called in parallel, any other is called by one
    thread at a time."""

    def __init__(self, detector, workers: int):
        self.detector = detector
        self.workers = int(workers)
        self._local = threading.local()
        self._shared_lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="edgefer-locate")
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def _detect(self, gray: np.ndarray):
        from edgefer.preprocess.detect import HaarFaceDetector
        d = self.detector
        if type(d) is HaarFaceDetector:
            mine = getattr(self._local, "detector", None)
            if mine is None:
                mine = self._local.detector = HaarFaceDetector(
                    d.cascade_path, scale_factor=d.scale_factor, min_neighbors=d.min_neighbors,
                    min_size=d.min_size, max_side=d.max_side)
            return mine.detect(gray)
        if getattr(d, "thread_safe", False):  # MTCNN: one shared detector, calls in parallel
            return d.detect(gray)
        with self._shared_lock:  # a detector of unknown thread safety: one call at a time
            return d.detect(gray)

    def locate(self, im, spec, name: str) -> Located:
        """Runs in a worker thread: decode ``im`` (from :func:`edgefer.io.open_image`), detect, crop."""
        pixels_declared = im.size[0] * im.size[1]
        caught: list = []
        try:
            gray = image_array(im, gray=True, name=name, caught=caught)
            log_warnings(name, caught)
            im.close()
            boxes = [f.as_tuple() for f in self._detect(gray)]
            crops = np.stack([spec.crop(gray, b) for b in boxes]) if boxes else None
            return Located(int(gray.shape[1]), int(gray.shape[0]), boxes, crops)
        finally:
            im.close()
            gray = None  # dropped before the heap is trimmed
            if pixels_declared >= LARGE_IMAGE_PIXELS:
                release_freed_memory()


class Batcher:
    """One thread that runs the model: it takes the faces of every request that arrives within
    ``window_s`` of the first (up to ``max_faces``), makes one model call, and answers each."""

    def __init__(self, probabilities, *, window_s: float = 0.003, max_faces: int = 64):
        self.probabilities = probabilities
        self.window_s = float(window_s)
        self.max_faces = int(max_faces)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.calls = 0
        self.faces = 0

    def submit(self, pixels: np.ndarray) -> concurrent.futures.Future:
        """Probabilities (N, 7) of model pixels (N, S, S), as a future."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="edgefer-model", daemon=True)
                self._thread.start()
            self._queue.put((pixels, future))
        return future

    def close(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(None)
                self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch, n = [item], len(item[0])
            deadline = time.monotonic() + self.window_s
            stop = False
            while n < self.max_faces:
                left = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                n += len(nxt[0])
            self._answer(batch)
            if stop:
                return

    def _answer(self, batch) -> None:
        batch = [(p, f) for p, f in batch if f.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            probs = self.probabilities(np.concatenate([p for p, _ in batch]))
        except BaseException as exc:  # noqa: BLE001 - handed to each waiting request
            for _, f in batch:
                f.set_exception(exc)
            return
        self.calls += 1
        self.faces += len(probs)
        i = 0
        for p, f in batch:
            f.set_result(probs[i:i + len(p)])
            i += len(p)
