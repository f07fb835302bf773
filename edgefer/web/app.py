"""The web demo: a FastAPI app over the recognition path of :class:`~edgefer.recognize.Recognizer`.

Routes
------
``GET /``
    The demo page (``static/index.html``, ``app.js``, ``style.css``; nothing fetched from
    elsewhere): choose, drop, paste or snapshot (webcam) a photo and a model role; each face is
    boxed and labelled on a canvas, with seven probability bars per face.
``POST /api/predict``
    Multipart field ``file`` (and optionally ``model``: ``default``, ``fast`` or ``small``) ->
    ``{"faces": [Face.to_dict()], "width", "height", "model", "elapsed_ms"}``. Boxes are
    (x, y, w, h) in the pixels of the upright (EXIF-rotated) image.
``GET /api/health``, ``GET /api/models``, ``GET /api/classes``
    Liveness with the model's name, the roles and the limits; the loaded model's details (by
    name: no server paths) and the shipped models; the classes with their colours.
``GET /docs``
    Swagger UI 5 from the ``swagger-ui-bundle-v2`` package, served by this server (works offline).

Bad input is answered with a 4xx status and ``{"detail": "..."}`` naming the problem: 413 for a
body over ``max_upload_bytes`` (refused by its Content-Length before reading, or as soon as the
streamed bytes pass the limit) and for an image whose header declares more than ``max_pixels``
(refused before decoding), 415 for data that is not an image, 400 for a corrupt or truncated one.
503 with ``Retry-After`` when the server is full: more than ``max_pending`` uploads in flight, or
an image that found no room in the pixel budget within ``queue_timeout_s``.

Under load (see :mod:`edgefer.web.service` and docs/web.md): decoding and detection run in a pool
of worker threads, off the event loop; the faces of concurrent requests are batched into one
model call; the pixels decoded at once are bounded by ``pixel_budget``.
"""
from __future__ import annotations

import asyncio
import importlib.metadata
import os
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from pydantic import BaseModel, Field

import edgefer
from edgefer.errors import ImageReadError, ImageTooLargeError, NotAnImageError
from edgefer.io import MAX_PIXELS, open_image
from edgefer.labels import CLASSES
from edgefer.recognize import (
    DEFAULT_MODEL,
    ROLES,
    Recognizer,
    face_from,
    resolve_model,
    shipped_models,
)
from edgefer.web.service import (
    Batcher,
    Busy,
    Locator,
    PixelBudget,
    default_pixel_budget,
    default_workers,
)

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest accepted image file (10 MiB)."""

MULTIPART_SLACK = 16 * 1024
"""Bytes a request body may carry beyond the file itself: multipart boundaries and part headers."""

DEFAULT_MAX_PENDING = 32
"""Uploads in flight (being received, waiting or processed) beyond which new ones get 503: with
the 10 MiB upload limit, at most 320 MiB of request bodies held at once."""

DEFAULT_QUEUE_TIMEOUT_S = 10.0
"""Longest wait for room in the pixel budget before a 503."""

STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "X-Frame-Options": "DENY"}
"""On every response."""

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""For JSON and every other response that is not a page: nothing may load or run."""

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")
"""The demo page: its own script and style files, the photo as a blob, the webcam, this server."""

DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")
"""Swagger UI: its bundle and ours from this server, the inline styles and data: icons it
draws with, and this server's schema and API (its "Try it out")."""

DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")


class FaceOut(BaseModel):
    box: list[int] = Field(description="x, y, width, height in pixels of the upright image")
    label: str = Field(description=f"most probable class, one of {', '.join(CLASSES)}")
    confidence: float = Field(description="probability of the label")
    probabilities: dict[str, float] = Field(description="probability of each of the seven classes")


class PredictOut(BaseModel):
    faces: list[FaceOut] = Field(description="every face found, largest first; empty when none")
    width: int
    height: int
    model: str
    elapsed_ms: float = Field(description="server time for the image: check, wait, decode, detect, model")


class ErrorOut(BaseModel):
    detail: str


_ERRORS = {400: {"model": ErrorOut, "description": "corrupt or truncated image, an empty file, or an unknown model role"},
           413: {"model": ErrorOut, "description": "file over the size limit, or image over the pixel limit"},
           415: {"model": ErrorOut, "description": "not an image in a format edgefer reads"},
           503: {"model": ErrorOut, "description": "the server is full; try again after Retry-After seconds"}}


class _Model:
    """A loaded model as the service uses it: its name, preprocessing and batching thread."""

    def __init__(self, recognizer: Recognizer, window_s: float):
        self.name = recognizer.name
        self.spec = recognizer.spec
        self.recognizer = recognizer
        self.batcher = Batcher(recognizer.probabilities, window_s=window_s)


def create_app(model: str | os.PathLike | Recognizer | None = None, *,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS,
               workers: int | None = None, pixel_budget: int | None = None,
               max_pending: int = DEFAULT_MAX_PENDING, queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S,
               batch_window_ms: float = 3.0, roles: bool = True) -> FastAPI:
    """The demo app, with the model loaded once and shared by all requests.

    Parameters
    ----------
    model : None (the shipped default), a role or shipped model's name, a model file, or a
        ready :class:`Recognizer` (its detector is copied into each worker thread).
    max_upload_bytes : largest accepted image file in bytes.
    max_pixels : images whose header declares more pixels are refused (413) before decoding.
    workers : threads that decode and detect (default: one per CPU).
    pixel_budget : declared pixels that may be decoded at once (default
        :func:`~edgefer.web.service.default_pixel_budget`); at least ``max_pixels``.
    max_pending : uploads in flight beyond which new ones are answered 503.
    queue_timeout_s : longest wait for room in the pixel budget before a 503.
    batch_window_ms : how long the model thread gathers faces after the first before its call.
    roles : let a request pick a role (``default``, ``fast``, ``small``), loaded when first asked.

    Raises
    ------
    FileNotFoundError, ValueError, CheckpointError
        From loading the model; ``ValueError`` also for a limit that is not a positive number.
    """
    workers = default_workers() if workers is None else workers
    pixel_budget = default_pixel_budget(max_pixels) if pixel_budget is None else pixel_budget
    for name, value in (("max_upload_bytes", max_upload_bytes), ("max_pixels", max_pixels),
                        ("workers", workers), ("pixel_budget", pixel_budget), ("max_pending", max_pending)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {value!r}")
    if pixel_budget < max_pixels:
        raise ValueError(f"`pixel_budget` ({pixel_budget:,}) must be at least `max_pixels` ({max_pixels:,}), "
                         "or the largest images allowed could never be decoded")
    for name, value in (("queue_timeout_s", queue_timeout_s), ("batch_window_ms", batch_window_ms)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 3600:
            raise ValueError(f"`{name}` must be a number of seconds (ms) in 0..3600; got {value!r}")
    recognizer = model if isinstance(model, Recognizer) else Recognizer(model, threads=1)
    service = _Service(recognizer, max_upload_bytes=max_upload_bytes, max_pixels=max_pixels,
                       workers=workers, pixel_budget=pixel_budget, queue_timeout_s=queue_timeout_s,
                       batch_window_s=batch_window_ms / 1000, roles=roles)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        await asyncio.get_running_loop().run_in_executor(None, service.close)

    app = FastAPI(title="edgefer", version=edgefer.__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Facial expression recognition: find faces in a photo and say which of "
                              f"seven expressions ({', '.join(CLASSES)}) each shows.")
    app.add_middleware(_BodyLimit, limit=max_upload_bytes + MULTIPART_SLACK)
    app.add_middleware(_Pending, limit=max_pending)
    app.add_middleware(_SecurityHeaders)
    app.state.recognizer = recognizer
    app.state.service = service

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in ("app.js", "style.css", "docs.js", "docs.css"):
            raise HTTPException(404, "Not Found")
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> Response:
        return FileResponse(STATIC / "docs.html", media_type="text/html",
                            headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"})

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name == "LICENSE":
            return PlainTextResponse(_swagger_license())
        if name not in DOCS_ASSETS:
            raise HTTPException(404, "Not Found")
        return FileResponse(_swagger_ui_path() / name, headers={"Cache-Control": "max-age=86400"})

    @app.post("/api/predict", response_model=PredictOut, responses=_ERRORS)
    async def predict(file: UploadFile = File(description="the photo: JPEG, PNG, BMP, TIFF, WebP, GIF or PPM/PGM"),
                      model: str = Form("", description="model role: default, fast or small "
                                                        "(empty: the model the server was started with)")):
        """Find the faces in an uploaded photo and the expression each shows."""
        try:
            data = await file.read(max_upload_bytes + 1)
        finally:
            await file.close()
        try:
            return await service.predict(data, file.filename, file.content_type, model)
        except Busy as exc:
            return JSONResponse({"detail": str(exc)}, 503, headers={"Retry-After": str(exc.retry_after)})

    @app.get("/api/health")
    def health() -> dict:
        """Liveness, the loaded model's name, the roles a request may pick, and the limits."""
        return {"status": "ok", "model": recognizer.name, "roles": dict(ROLES) if roles else {},
                "limits": {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels,
                           "pixel_budget": pixel_budget, "max_pending": max_pending, "workers": workers}}

    @app.get("/api/models")
    def models() -> dict:
        """The loaded model (preprocessing, training data, scores), the roles and the shipped models."""
        return {"loaded": _public_info(recognizer.info), "roles": dict(ROLES), "shipped": shipped_models(),
                "default": DEFAULT_MODEL}

    @app.get("/api/classes")
    def classes() -> dict:
        """The seven classes in the model's order, with the colour each is drawn in and legible ink on it."""
        colors, ink = _css_colors()
        return {"classes": list(CLASSES), "colors": colors, "ink": ink}

    return app


def _public_info(info: dict) -> dict:
    """A model's info with every file named by its name alone: the server's folders are no
    business of clients."""
    out = {}
    for k, v in info.items():
        if k == "path":
            out["file"] = Path(str(v)).name
        elif k == "members" and isinstance(v, list):
            out[k] = [_public_info(m) if isinstance(m, dict) else m for m in v]
        elif isinstance(v, dict):
            out[k] = _public_info(v) if k != "probabilities" else v
        elif isinstance(v, str) and os.sep in v and os.path.isabs(v):
            out[k] = Path(v).name
        else:
            out[k] = v
    return out


def _swagger_ui_path() -> Path:
    from swagger_ui_bundle import swagger_ui_path
    return Path(str(swagger_ui_path))


def _swagger_license() -> str:
    """Swagger UI's licence, as its package ships it."""
    try:
        dist = importlib.metadata.distribution("swagger-ui-bundle-v2")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    text = dist and (dist.read_text("licenses/LICENSE") or dist.read_text("LICENSE"))
    return text or "Swagger UI (swagger-api/swagger-ui) and swagger-ui-bundle-v2: Apache License 2.0\n"


class _Service:
    """Answers one upload: checks, waits for room, decodes and detects in a worker thread, and
    has the faces classified in the model's batches (see :mod:`edgefer.web.service`)."""

    def __init__(self, recognizer: Recognizer, *, max_upload_bytes: int, max_pixels: int, workers: int,
                 pixel_budget: int, queue_timeout_s: float, batch_window_s: float, roles: bool):
        self.max_upload_bytes = max_upload_bytes
        self.max_pixels = max_pixels
        self.queue_timeout_s = queue_timeout_s
        self.batch_window_s = batch_window_s
        self.roles = roles
        self.served = _Model(recognizer, batch_window_s)
        self.locator = Locator(recognizer.detector, workers)
        self.budget = PixelBudget(pixel_budget)
        self._models: dict[str, _Model] = {}
        self._models_lock = threading.Lock()

    def close(self) -> None:
        self.locator.close()
        for m in [self.served, *self._models.values()]:
            m.batcher.close()

    def _model(self, role: str) -> _Model:
        """The served model for '', else the role's model, loaded once (in a worker thread)."""
        if not role:
            return self.served
        with self._models_lock:
            if role not in self._models:
                if resolve_model(role).resolve() == self.served.recognizer.path.resolve():
                    self._models[role] = self.served
                else:
                    rec = Recognizer(role, detector=self.served.recognizer.detector, threads=1)
                    self._models[role] = _Model(rec, self.batch_window_s)
            return self._models[role]

    async def predict(self, data: bytes, filename: str | None, content_type: str | None, role: str) -> dict:
        start = time.perf_counter()
        if len(data) > self.max_upload_bytes:  # only the first limit + 1 bytes were read
            raise HTTPException(413, f"{_describe(filename, content_type)} is over the upload limit "
                                     f"of {self.max_upload_bytes:,} bytes")
        role = (role or "").strip()
        if role and (not self.roles or role not in ROLES):
            known = ", ".join(ROLES) if self.roles else "none on this server"
            raise HTTPException(400, f"unknown model role {role[:40]!r}; known: {known}")
        what = _describe(filename, content_type, len(data))
        if not data:
            raise HTTPException(400, f"{what} is empty")
        # The header alone, on the event loop (microseconds): bytes that are not an image, or
        # an image over the pixel limit, are refused without queueing.
        try:
            im = open_image(data, name=what, max_pixels=self.max_pixels)
        except ImageReadError as exc:
            raise _http_error(exc) from None
        pixels = im.size[0] * im.size[1]
        loop = asyncio.get_running_loop()
        try:
            if not await self.budget.acquire(pixels, self.queue_timeout_s):
                raise Busy(f"{what}: the server is decoding as many pixels as it may "
                           f"({self.budget.total:,}); try again shortly", retry_after=2)
            try:
                model = self.served if not role else await loop.run_in_executor(self.locator.pool(), self._model, role)
                located = await loop.run_in_executor(self.locator.pool(), self.locator.locate, im, model.spec, what)
            except ImageReadError as exc:
                raise _http_error(exc) from None
            finally:
                await self.budget.release(pixels)
        finally:
            im.close()
        faces = []
        if located.boxes:
            probs = await asyncio.wrap_future(model.batcher.submit(located.pixels))
            faces = [face_from(b, p).to_dict() for b, p in zip(located.boxes, probs)]
        return {"faces": faces, "width": located.width, "height": located.height, "model": model.name,
                "elapsed_ms": round((time.perf_counter() - start) * 1000, 2)}


def _http_error(exc: ImageReadError) -> HTTPException:
    status = 413 if isinstance(exc, ImageTooLargeError) else 415 if isinstance(exc, NotAnImageError) else 400
    if status == 415:
        name = str(exc).split(": not an image", 1)[0]
        return HTTPException(415, f"{name} is not an image edgefer reads; send JPEG, PNG, BMP, TIFF, "
                                  "WebP, GIF or PPM/PGM")
    return HTTPException(status, str(exc))


def _describe(filename: str | None, content_type: str | None, size: int | None = None) -> str:
    """``'photo.jpg' (image/jpeg, 68,052 bytes)`` for error messages; the name shortened."""
    name = (filename or "upload")[:80]
    facts = [f for f in (content_type, None if size is None else f"{size:,} bytes") if f]
    return f"{name!r} ({', '.join(facts)})" if facts else repr(name)


def _css_colors() -> tuple[dict[str, str], dict[str, str]]:
    """The class colours of :mod:`edgefer.annotate` (BGR) as CSS, and a legible text colour on each."""
    from edgefer.annotate import COLORS
    colors = {name: f"rgb({r}, {g}, {b})" for name, (b, g, r) in COLORS.items()}
    ink = {name: "#000" if sum(bgr) > 380 else "#fff" for name, bgr in COLORS.items()}
    return colors, ink


class _SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every response, and :data:`API_CSP`
    to those that set no Content-Security-Policy of their own (JSON, errors, assets)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for k, v in SECURITY_HEADERS.items():
                    if k.lower().encode() not in present:
                        headers.append((k.lower().encode(), v.encode()))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", API_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Pending:
    """ASGI middleware answering 503 (``Retry-After``) to uploads beyond ``limit`` in flight, before
    their bodies are read: request bodies held in memory stay bounded however many clients come."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit
        self.pending = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if self.pending >= self.limit:
            detail = f"the server has {self.pending} uploads in flight, its limit; try again shortly"
            await JSONResponse({"detail": detail}, 503, headers={"Retry-After": "1"})(scope, receive, send)
            return
        self.pending += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.pending -= 1


class _TooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body is over the limit of {limit:,} bytes "
                              "(the image file plus a little for the form)")


class _BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes: by their Content-Length
    before reading anything, and by counting the bytes as they arrive (chunked uploads, or a
    Content-Length that lies), so no request is read without bound."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await JSONResponse({"detail": f"invalid Content-Length {declared[:40]!r}"}, 400)(scope, receive, send)
                return
            if int(declared) > self.limit:
                detail = (f"request body of {int(declared):,} bytes is over the limit of {self.limit:,} "
                          "bytes (the image file plus a little for the form)")
                await JSONResponse({"detail": detail}, 413, headers={"Connection": "close"})(scope, receive, send)
                return
        received = 0
        limit = self.limit

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and is
                    # answered as JSON by its exception handler.
                    raise _TooLarge(limit)
            return message

        await self.app(scope, counted_receive, send)
