"""The web demo: a FastAPI app over :class:`~edgefer.recognize.Recognizer`.

Routes
------
``GET /``
    One self-contained page (inline CSS and JS, nothing fetched from elsewhere): choose, drop,
    paste or snapshot (webcam) a photo; each face is boxed and labelled on a canvas, with seven
    probability bars per face.
``POST /api/predict``
    Multipart field ``file`` -> ``{"faces": [{"box", "label", "confidence", "probabilities"}],
    "width", "height", "model", "elapsed_ms"}``. Boxes are (x, y, w, h) in the pixels of the
    upright (EXIF-rotated) image.
``GET /api/health``, ``GET /api/models``
    Liveness with the model's name and the upload limits; the loaded model's details and the
    shipped models.
``GET /docs``
    FastAPI's OpenAPI page (its script comes from a CDN; the demo page does not need it).

Bad input is answered with a 4xx status and ``{"detail": "..."}`` naming the problem: 413 for a
body over ``max_upload_bytes`` (refused by its Content-Length before reading, or as soon as the
streamed bytes pass the limit) and for an image whose header declares more than ``max_pixels``
(refused before decoding), 415 for data that is not an image, 400 for a corrupt or truncated one.
Uploads are decoded in memory; the multipart parser may spool a large upload to a temporary file.
The model is loaded once and used by one request at a time, which also bounds memory to one
decoded image.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, Field

import edgefer
from edgefer.io import IMAGE_FORMATS, MAX_PIXELS, _pil_to_array, pil_warnings_logged
from edgefer.labels import CLASSES
from edgefer.recognize import DEFAULT_MODEL, Recognizer, shipped_models

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest accepted image file (10 MiB)."""

MULTIPART_SLACK = 16 * 1024
"""Bytes a request body may carry beyond the file itself: multipart boundaries and part headers."""


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
    elapsed_ms: float = Field(description="server time for the image: check, wait for the model, decode, recognize")


class ErrorOut(BaseModel):
    detail: str


_ERRORS = {400: {"model": ErrorOut, "description": "corrupt or truncated image, or an empty file"},
           413: {"model": ErrorOut, "description": "file over the size limit, or image over the pixel limit"},
           415: {"model": ErrorOut, "description": "not an image in a format edgefer reads"}}


def create_app(model: str | os.PathLike | Recognizer | None = None, *,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS) -> FastAPI:
    """The demo app, with the model loaded once and shared by all requests.

    Parameters
    ----------
    model : None (the shipped model), a shipped model's name, a checkpoint path, or a
        ready :class:`Recognizer`.
    max_upload_bytes : largest accepted image file in bytes.
    max_pixels : images whose header declares more pixels are refused before decoding.

    Raises
    ------
    FileNotFoundError, ValueError, CheckpointError
        From loading the model; ``ValueError`` also for a limit that is not a positive integer.
    """
    for name, value in (("max_upload_bytes", max_upload_bytes), ("max_pixels", max_pixels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {value!r}")
    recognizer = model if isinstance(model, Recognizer) else Recognizer(model)
    service = _Service(recognizer, max_upload_bytes=max_upload_bytes, max_pixels=max_pixels)

    app = FastAPI(title="edgefer", version=edgefer.__version__,
                  description="Facial expression recognition: find faces in a photo and say which of "
                              f"seven expressions ({', '.join(CLASSES)}) each shows.")
    app.add_middleware(_BodyLimit, limit=max_upload_bytes + MULTIPART_SLACK)
    app.state.recognizer = recognizer

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(_PAGE, headers=_PAGE_HEADERS)

    @app.post("/api/predict", response_model=PredictOut, responses=_ERRORS)
    async def predict(file: UploadFile = File(description="the photo: JPEG, PNG, BMP, TIFF, WebP, GIF or PPM/PGM")):
        """Find the faces in an uploaded photo and the expression each shows."""
        try:
            data = await file.read(max_upload_bytes + 1)
        finally:
            await file.close()
        return await run_in_threadpool(service.predict, data, file.filename, file.content_type)

    @app.get("/api/health")
    def health() -> dict:
        """Liveness, the loaded model's name and the upload limits."""
        return {"status": "ok", "model": recognizer.name,
                "limits": {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels}}

    @app.get("/api/models")
    def models() -> dict:
        """The loaded model (preprocessing, training data, scores) and the shipped models."""
        info = dict(recognizer.info)
        info["path"] = Path(info["path"]).name  # the server's folders are no business of clients
        return {"loaded": info, "shipped": shipped_models(), "default": DEFAULT_MODEL}

    return app


class _Service:
    """The shared Recognizer, used by one request at a time (OpenCV's cascade and the model are
    not promised to be thread-safe, and one decoded image at a time bounds memory)."""

    def __init__(self, recognizer: Recognizer, *, max_upload_bytes: int, max_pixels: int):
        self.recognizer = recognizer
        self.max_upload_bytes = max_upload_bytes
        self.max_pixels = max_pixels
        self.lock = threading.Lock()

    def predict(self, data: bytes, filename: str | None, content_type: str | None) -> dict:
        if len(data) > self.max_upload_bytes:  # only the first limit + 1 bytes were read
            raise HTTPException(413, f"{_describe(filename, content_type)} is over the upload limit "
                                     f"of {self.max_upload_bytes:,} bytes")
        what = _describe(filename, content_type, len(data))
        if not data:
            raise HTTPException(400, f"{what} is empty")
        start = time.perf_counter()
        # Reading the header is cheap: files that are not images, or are too large, are refused
        # here without waiting for the requests ahead of them.
        im = open_image(data, max_pixels=self.max_pixels, what=what)
        try:
            with self.lock:
                image = _decode(im, what)
                faces = self.recognizer.predict(image)
        finally:
            im.close()
        elapsed = time.perf_counter() - start
        return {"faces": [f.to_dict() for f in faces], "width": int(image.shape[1]),
                "height": int(image.shape[0]), "model": self.recognizer.name,
                "elapsed_ms": round(elapsed * 1000, 2)}


def open_image(data: bytes, *, max_pixels: int = MAX_PIXELS, what: str = "upload") -> Image.Image:
    """The PIL image of an image file's bytes, its header read and checked but nothing decoded.

    Raises
    ------
    HTTPException
        413 when the header declares more than ``max_pixels`` pixels, 415 when the bytes are not
        an image in :data:`IMAGE_FORMATS`, 400 when the header is corrupt.
    """
    try:  # PIL's warnings (corrupt EXIF, say) are logged as one line naming the upload
        with pil_warnings_logged(what):
            im = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise HTTPException(413, f"{what}: image too large, refused before decoding ({exc})") from None
    except UnidentifiedImageError:
        raise HTTPException(415, f"{what} is not an image edgefer reads; send JPEG, PNG, BMP, TIFF, "
                                 "WebP, GIF or PPM/PGM") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure on untrusted bytes is the bytes' fault
        raise HTTPException(400, f"{what}: corrupt image header ({type(exc).__name__}: {exc})") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise HTTPException(413, f"{what}: image declares {w}x{h} = {w * h:,} pixels, "
                                 f"over the limit of {max_pixels:,}; refused before decoding")
    if w < 1 or h < 1:
        im.close()
        raise HTTPException(400, f"{what}: image has no pixels ({w}x{h})")
    return im


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, what: str = "upload") -> np.ndarray:
    """uint8 BGR (H, W, 3) of an image file's bytes, upright per its EXIF orientation.

    Raises
    ------
    HTTPException
        As :func:`open_image`, and 400 when the image data is corrupt or truncated.
    """
    with open_image(data, max_pixels=max_pixels, what=what) as im:
        return _decode(im, what)


def _decode(im: Image.Image, what: str) -> np.ndarray:
    try:
        with pil_warnings_logged(what):
            return _pil_to_array(ImageOps.exif_transpose(im), gray=False)
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted bytes is the bytes' fault
        raise HTTPException(400, f"{what}: corrupt or truncated image "
                                 f"({type(exc).__name__}: {exc})") from None


def _describe(filename: str | None, content_type: str | None, size: int | None = None) -> str:
    """``'photo.jpg' (image/jpeg, 68,052 bytes)`` for error messages; the name shortened."""
    name = (filename or "upload")[:80]
    facts = [f for f in (content_type, None if size is None else f"{size:,} bytes") if f]
    return f"{name!r} ({', '.join(facts)})" if facts else repr(name)


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


_CSS = """
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6570; --bg: #f6f7f9; --card: #fff;
  --line: #d5dae0; --accent: #2563eb; --err: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --muted: #9aa4af; --bg: #111418;
  --card: #1b1f24; --line: #333a42; --accent: #60a5fa; --err: #f97066; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { margin: 0; font-size: 20px; } header p { margin: 2px 0 0; color: var(--muted); }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(260px, 2fr); gap: 20px;
  padding: 20px 24px; max-width: 1200px; margin: 0 auto; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px; }
#drop { border: 2px dashed var(--line); border-radius: 10px; padding: 18px; text-align: center;
  color: var(--muted); transition: border-color .15s, background .15s; }
#drop.over { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 8%, transparent); }
#drop label { color: var(--accent); cursor: pointer; font-weight: 600; }
#file { position: absolute; width: 1px; height: 1px; opacity: 0; }
.buttons { display: flex; gap: 8px; justify-content: center; margin-top: 10px; flex-wrap: wrap; }
button { font: inherit; padding: 6px 14px; border-radius: 7px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
[hidden] { display: none !important; }
#camera { margin-top: 12px; text-align: center; }
#video { max-width: 100%; border-radius: 8px; background: #000; }
#status { min-height: 1.5em; margin: 12px 2px 8px; color: var(--muted); }
#status.error { color: var(--err); font-weight: 600; }
#canvas { display: block; max-width: 100%; height: auto; margin: 0 auto; border-radius: 6px; }
#faces h2 { margin: 0 0 10px; font-size: 16px; }
.face { border-top: 1px solid var(--line); padding: 10px 0 6px; }
.face:first-of-type { border-top: 0; padding-top: 0; }
.face h3 { margin: 0 0 6px; font-size: 15px; display: flex; align-items: center; gap: 8px; }
.swatch { width: 12px; height: 12px; border-radius: 3px; display: inline-block; }
.row { display: grid; grid-template-columns: 72px 1fr 48px; align-items: center; gap: 8px;
  font-size: 13px; margin: 3px 0; }
.row.top { font-weight: 700; }
.bar { height: 10px; border-radius: 5px; background: color-mix(in srgb, var(--line) 60%, transparent);
  overflow: hidden; }
.fill { height: 100%; border-radius: 5px; }
.pct { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 8px 0 20px; }
"""

_JS = """
"use strict";
const CLASSES = __CLASSES__;
const COLORS = __COLORS__;
const INK = __INK__;
const $ = (id) => document.getElementById(id);
let limits = null;

fetch("api/health").then((r) => r.json()).then((h) => {
  $("model").textContent = h.model;
  limits = h.limits;
}).catch(() => {});

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!error);
}

function detailText(detail) {
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return typeof detail === "string" ? detail : "";
}

async function bitmap(blob) {
  try { return await createImageBitmap(blob); } catch (e) { return null; }
}

async function send(blob, name) {
  $("faces").replaceChildren();
  $("canvas").hidden = true;
  if (limits && blob.size > limits.max_upload_bytes) {
    setStatus(`${name} is ${blob.size.toLocaleString()} bytes, over the limit of ` +
              `${limits.max_upload_bytes.toLocaleString()} bytes.`, true);
    return;
  }
  setStatus(`Recognizing ${name}\u2026`);
  const image = bitmap(blob);
  const form = new FormData();
  form.append("file", blob, name);
  let response, body;
  try {
    response = await fetch("api/predict", { method: "POST", body: form });
    body = await response.json().catch(() => ({}));
  } catch (e) {
    setStatus(`Could not reach the server: ${e.message}`, true);
    return;
  }
  if (!response.ok) {
    setStatus(`${response.status} ${response.statusText}: ${detailText(body.detail)}`, true);
    return;
  }
  draw(await image, body);
  list(body);
  const n = body.faces.length;
  setStatus(`${name}: ${n === 0 ? "no face" : n === 1 ? "1 face" : n + " faces"} ` +
            `(${body.width}\u00d7${body.height}, ${body.elapsed_ms} ms, model ${body.model})`);
}

function draw(image, result) {
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  canvas.width = result.width;
  canvas.height = result.height;
  if (image) {
    ctx.drawImage(image, 0, 0, result.width, result.height);
  } else {
    ctx.fillStyle = "#888";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#fff";
    ctx.font = `${Math.max(14, result.width / 30)}px sans-serif`;
    ctx.fillText("(this browser cannot show the image)", 10, Math.max(24, result.width / 20));
  }
  const side = Math.max(result.width, result.height);
  const line = Math.max(2, Math.round(side / 250));
  const size = Math.max(12, Math.round(side / 32));
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  result.faces.forEach((face, i) => {
    const [x, y, w, h] = face.box;
    const color = COLORS[face.label] || "#0f0";
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x + line / 2, y + line / 2, w - line, h - line);
    const text = `${result.faces.length > 1 ? "#" + (i + 1) + " " : ""}${face.label} ${Math.round(face.confidence * 100)}%`;
    const tw = ctx.measureText(text).width + size * 0.6, th = size * 1.35;
    const tx = Math.min(Math.max(0, x), Math.max(0, result.width - tw));
    const ty = y - th >= 0 ? y - th : y + line;
    ctx.fillStyle = color;
    ctx.fillRect(tx, ty, tw, th);
    ctx.fillStyle = INK[face.label] || "#000";
    ctx.fillText(text, tx + size * 0.3, ty + size * 0.18);
  });
  canvas.hidden = false;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function list(result) {
  const box = $("faces");
  box.replaceChildren(el("h2", "", "Faces"));
  if (result.faces.length === 0) {
    box.append(el("p", "empty", "No face found. The detector looks for upright, frontal, well-lit faces."));
    return;
  }
  result.faces.forEach((face, i) => {
    const card = el("section", "face");
    card.dataset.label = face.label;
    const title = el("h3");
    const swatch = el("span", "swatch");
    swatch.style.background = COLORS[face.label] || "#0f0";
    title.append(swatch, `Face ${i + 1}: `, el("span", "label", face.label),
                 ` ${Math.round(face.confidence * 100)}%`);
    card.append(title);
    for (const name of CLASSES) {
      const p = face.probabilities[name] || 0;
      const row = el("div", name === face.label ? "row top" : "row");
      const bar = el("div", "bar");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", name);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", (p * 100).toFixed(1));
      const fill = el("div", "fill");
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.background = COLORS[name] || "#888";
      bar.append(fill);
      row.append(el("span", "name", name), bar, el("span", "pct", `${(p * 100).toFixed(1)}%`));
      card.append(row);
    }
    box.append(card);
  });
}

$("file").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (f) send(f, f.name);
  e.target.value = "";
});

const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault(); drop.classList.add("over");
}));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault(); drop.classList.remove("over");
}));
drop.addEventListener("drop", (e) => {
  const f = e.dataTransfer.files[0];
  if (f) send(f, f.name);
});
document.addEventListener("paste", (e) => {
  const f = [...(e.clipboardData ? e.clipboardData.files : [])][0];
  if (f) send(f, f.name || "pasted image");
});

let stream = null;
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  $("cam-start").hidden = false;
  $("cam-start").addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      setStatus(`Camera not available: ${e.message}`, true);
      return;
    }
    $("video").srcObject = stream;
    $("camera").hidden = false;
    $("cam-start").hidden = true;
  });
  $("cam-stop").addEventListener("click", () => {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
    $("cam-start").hidden = false;
  });
  $("cam-snap").addEventListener("click", () => {
    const v = $("video");
    if (!v.videoWidth) return;
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext("2d").drawImage(v, 0, 0);
    c.toBlob((b) => b && send(b, "snapshot.jpg"), "image/jpeg", 0.92);
  });
}
"""

_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgefer: facial expression recognition</title>
<link rel="icon" href="data:,">
<style>__CSS__</style>
</head>
<body>
<header>
  <h1>edgefer</h1>
  <p>Facial expression recognition &middot; model <b id="model">&hellip;</b></p>
</header>
<main>
  <div>
    <div class="card">
      <div id="drop">
        <input type="file" id="file" accept="image/*">
        <label for="file">Choose a photo</label>, drop it here or paste it.
        <div class="buttons"><button type="button" id="cam-start" hidden>Use the webcam</button></div>
        <div id="camera" hidden>
          <video id="video" autoplay playsinline muted></video>
          <div class="buttons">
            <button type="button" class="primary" id="cam-snap">Take snapshot</button>
            <button type="button" id="cam-stop">Stop camera</button>
          </div>
        </div>
      </div>
      <div id="status" role="status" aria-live="polite">No photo yet.</div>
      <canvas id="canvas" hidden></canvas>
    </div>
  </div>
  <div class="card" id="faces" aria-live="polite">
    <h2>Faces</h2>
    <p class="empty">Each face found gets the probabilities of the seven expressions.</p>
  </div>
</main>
<footer>Photos are processed in memory and not kept. API: <code>POST /api/predict</code>,
  docs at <code>/docs</code>.</footer>
<script>__JS__</script>
</body>
</html>
"""


def _css_colors() -> tuple[dict[str, str], dict[str, str]]:
    """The class colours of :mod:`edgefer.annotate` (BGR) as CSS, and a legible text colour on each."""
    from edgefer.annotate import COLORS
    colors = {name: f"rgb({r}, {g}, {b})" for name, (b, g, r) in COLORS.items()}
    ink = {name: "#000" if sum(bgr) > 380 else "#fff" for name, bgr in COLORS.items()}
    return colors, ink


def _build_page() -> tuple[str, dict[str, str]]:
    colors, ink = _css_colors()
    js = (_JS.replace("__CLASSES__", json.dumps(list(CLASSES))).replace("__COLORS__", json.dumps(colors))
          .replace("__INK__", json.dumps(ink)))
    digest = base64.b64encode(hashlib.sha256(js.encode()).digest()).decode()
    # The page may run only its own script and talk only to this server.
    csp = ("default-src 'none'; "
           f"script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
           "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'none'")
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
    return _HTML.replace("__CSS__", _CSS).replace("__JS__", js), headers


_PAGE, _PAGE_HEADERS = _build_page()
