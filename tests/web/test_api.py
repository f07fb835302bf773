"""The web app's JSON API through FastAPI's TestClient: answers, limits and refusals."""
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from edgefer.labels import CLASSES
from edgefer.recognize import ROLES
from edgefer.web import create_app


def _post(api_client, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return api_client.post("/api/predict", files={"file": (name, data, content_type)})


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_predict_astronaut_one_face(api_client, astronaut_bytes):
    """The demo photo gives one face near (177, 66, 95, 95) with seven probabilities summing to 1."""
    r = _post(api_client, astronaut_bytes, "astronaut.jpg")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"faces", "width", "height", "model"}
    assert (body["width"], body["height"]) == (512, 512)
    assert body["model"] == "fernet_small"
    assert len(body["faces"]) == 1
    face = body["faces"][0]
    assert set(face) == {"box", "label", "confidence", "probabilities"}
    x, y, w, h = face["box"]
    assert abs(x - 177) < 20 and abs(y - 66) < 20 and 70 < w < 125 and 70 < h < 125
    assert list(face["probabilities"]) == list(CLASSES)
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["label"] in CLASSES
    assert face["confidence"] == pytest.approx(max(face["probabilities"].values()))


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP", "GIF"])
def test_predict_other_formats_accepted(api_client, astronaut_bytes, fmt):
    """The demo photo re-encoded as PNG, BMP, TIFF, WebP or GIF is read (200, 512x512)."""
    data = _encode(Image.open(io.BytesIO(astronaut_bytes)), fmt)
    r = _post(api_client, data, f"astronaut.{fmt.lower()}", f"image/{fmt.lower()}")
    assert r.status_code == 200, r.text
    assert (r.json()["width"], r.json()["height"]) == (512, 512)


def test_predict_exif_orientation_applied(api_client, astronaut_bytes):
    """A 300x200 JPEG tagged 'rotate 90' is answered in upright pixels: 200 wide, 300 high."""
    im = Image.open(io.BytesIO(astronaut_bytes)).crop((0, 0, 300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    r = _post(api_client, _encode(im, "JPEG", exif=exif.tobytes()))
    assert r.status_code == 200, r.text
    assert (r.json()["width"], r.json()["height"]) == (200, 300)


def test_predict_no_face_empty_list(api_client, noise_png):
    """A noise image is answered 200 with an empty face list, not an error."""
    r = _post(api_client, noise_png, "noise.png", "image/png")
    assert r.status_code == 200, r.text
    assert r.json()["faces"] == []
    assert (r.json()["width"], r.json()["height"]) == (200, 160)


def test_predict_corrupt_bytes_refused(api_client):
    """Random bytes named .jpg are refused with 415 and a detail naming the file."""
    data = np.random.default_rng(2).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    r = _post(api_client, data, "broken.jpg")
    assert r.status_code == 415
    assert "broken.jpg" in r.json()["detail"] and "not an image" in r.json()["detail"]


def test_predict_truncated_jpeg_refused(api_client, astronaut_bytes):
    """A JPEG cut after 3000 bytes is refused with 400 'corrupt or truncated'."""
    r = _post(api_client, astronaut_bytes[:3000], "cut.jpg")
    assert r.status_code == 400
    assert "corrupt or truncated" in r.json()["detail"]


def test_predict_text_file_refused(api_client):
    """A text file is refused with 415, naming its declared type."""
    r = _post(api_client, b"not a photo\n" * 10, "notes.txt", "text/plain")
    assert r.status_code == 415
    assert "notes.txt" in r.json()["detail"] and "text/plain" in r.json()["detail"]


def test_predict_eps_refused(api_client):
    """An EPS file (which PIL would hand to Ghostscript) is refused with 415."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    r = _post(api_client, eps, "x.eps", "application/postscript")
    assert r.status_code == 415


def test_predict_empty_file_refused(api_client):
    """An empty file is refused with 400 'is empty'."""
    r = _post(api_client, b"", "empty.jpg")
    assert r.status_code == 400
    assert "is empty" in r.json()["detail"]


def test_predict_missing_field_refused(api_client):
    """A form without the `file` field is refused with 422."""
    r = api_client.post("/api/predict", data={"other": "x"})
    assert r.status_code == 422


def test_predict_over_max_pixels_refused(recognizer, astronaut_bytes):
    """With max_pixels=100000, the 512x512 photo is refused with 413 naming its size."""
    with TestClient(create_app(recognizer, max_pixels=100_000)) as c:
        r = _post(c, astronaut_bytes)
    assert r.status_code == 413
    assert "512x512 = 262,144 pixels" in r.json()["detail"]


def test_predict_oversize_by_content_length(recognizer, astronaut_bytes):
    """With max_upload_bytes=1000, a 68 kB upload is refused with 413 by its Content-Length."""
    with TestClient(create_app(recognizer, max_upload_bytes=1000)) as c:
        r = _post(c, astronaut_bytes)
    assert r.status_code == 413
    assert "over the limit" in r.json()["detail"]


def test_predict_oversize_file_within_form_slack(recognizer):
    """A file over max_upload_bytes but inside the form's slack is refused 413 by its own size."""
    with TestClient(create_app(recognizer, max_upload_bytes=1000)) as c:
        r = _post(c, b"\xff" * 5000, "big.jpg")
    assert r.status_code == 413
    assert "upload limit of 1,000 bytes" in r.json()["detail"]


def test_predict_oversize_streamed_without_length(recognizer, astronaut_bytes):
    """A chunked upload without Content-Length is cut off with 413 once past the limit."""
    boundary = "edgeferboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        for i in range(0, len(astronaut_bytes), 4096):
            yield astronaut_bytes[i:i + 4096]
        yield tail

    with TestClient(create_app(recognizer, max_upload_bytes=1000)) as c:
        r = c.post("/api/predict", content=chunks(),
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    assert "request body is over the limit" in r.json()["detail"]


def test_health(api_client):
    """/api/health says ok, names the model and gives the upload limits."""
    r = api_client.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["model"] == "fernet_small"
    assert r.json()["limits"]["max_upload_bytes"] == 10 * 1024 * 1024


def test_models(api_client):
    """/api/models gives the loaded model's info (file name only), the roles and the shipped models."""
    r = api_client.get("/api/models")
    assert r.status_code == 200
    body = r.json()
    assert body["loaded"]["name"] == "fernet_small"
    assert body["loaded"]["classes"] == list(CLASSES)
    assert body["loaded"]["file"] == "best.pt"
    assert body["roles"] == dict(ROLES)
    assert isinstance(body["shipped"], list)
    assert "/" not in json.dumps(body["loaded"]).replace("\\/", "") or "/tmp" not in r.text
    assert str(Path.cwd()) not in r.text and "/tmp/" not in r.text


def test_models_ensemble_names_no_server_path(recognizer):
    """Serving the shipped ensemble, /api/models names its members by file name, no folder anywhere."""
    from edgefer.recognize import WEIGHTS_DIR
    with TestClient(create_app("default", roles=False)) as c:
        r = c.get("/api/models")
    assert r.status_code == 200
    loaded = r.json()["loaded"]
    assert loaded["kind"] == "ensemble" and loaded["file"] == "ferplus-ensemble.json"
    assert [m["file"] for m in loaded["members"]] == ["fernet16-ferplus-int8.onnx", "fernet32-ferplus-int8.onnx"]
    assert str(WEIGHTS_DIR) not in r.text and str(WEIGHTS_DIR.parent.parent) not in r.text


def test_page_served_from_static_files(api_client):
    """GET / is the static page: its script and style come from this server only, under a strict CSP."""
    from edgefer.web.app import STATIC
    r = api_client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html == (STATIC / "index.html").read_text()
    assert 'id="file"' in html and 'id="canvas"' in html and 'id="role"' in html
    assert "http://" not in html and "https://" not in html and "<script>" not in html
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        a = api_client.get(f"/static/{name}")
        assert a.status_code == 200 and kind in a.headers["content-type"], name
        assert a.headers["x-content-type-options"] == "nosniff"
    assert "getUserMedia" in api_client.get("/static/app.js").text
    assert api_client.get("/static/../app.py").status_code == 404
    assert api_client.get("/static/index.html").status_code == 404


@pytest.mark.parametrize("path", ["/api/health", "/api/models", "/api/classes", "/openapi.json",
                                  "/", "/docs", "/static/app.js", "/nowhere"])
def test_security_headers_everywhere(api_client, path):
    """Every answer carries nosniff, no-referrer, DENY framing and a CSP (JSON: nothing may load)."""
    r = api_client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    if path.startswith("/api") or path in ("/openapi.json", "/nowhere"):
        assert csp.startswith("default-src 'none'") and "script-src" not in csp


def test_security_headers_on_refusals(api_client):
    """A refused upload (415) carries the same headers as any answer."""
    r = _post(api_client, b"not a photo\n" * 10, "notes.txt", "text/plain")
    assert r.status_code == 415
    assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers


def test_docs_served_locally(api_client):
    """/docs names only this server's assets, which are served with Swagger UI's licence; no /redoc."""
    r = api_client.get("/docs")
    assert r.status_code == 200 and "swagger-ui" in r.text
    assert "http://" not in r.text and "https://" not in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    js = api_client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 500_000 and "javascript" in js.headers["content-type"]
    assert api_client.get("/docs/assets/swagger-ui.css").status_code == 200
    lic = api_client.get("/docs/assets/LICENSE")
    assert lic.status_code == 200 and "Apache License" in lic.text
    assert api_client.get("/docs/assets/index.html").status_code == 404
    assert api_client.get("/redoc").status_code == 404


def test_classes(api_client):
    """/api/classes lists the seven classes in order with a colour and an ink for each."""
    body = api_client.get("/api/classes").json()
    assert body["classes"] == list(CLASSES)
    assert set(body["colors"]) == set(body["ink"]) == set(CLASSES)


def test_predict_role_picks_model(api_client, astronaut_bytes):
    """model=small is answered by the shipped small model; an unknown role is 400 naming the roles."""
    r = api_client.post("/api/predict", files={"file": ("a.jpg", astronaut_bytes, "image/jpeg")},
                        data={"model": "small"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == ROLES["small"] and len(r.json()["faces"]) == 1
    r = api_client.post("/api/predict", files={"file": ("a.jpg", astronaut_bytes, "image/jpeg")},
                        data={"model": "../../etc/passwd"})
    assert r.status_code == 400 and "default, fast, small" in r.json()["detail"]


def test_predict_busy_is_503_with_retry_after(recognizer, astronaut_bytes):
    """With the pixel budget taken and no wait allowed, an upload is answered 503 with Retry-After."""
    app = create_app(recognizer, max_pixels=300_000, pixel_budget=300_000, queue_timeout_s=0)
    with TestClient(app) as c:
        app.state.service.budget.used = 300_000  # as if other images were being decoded
        r = _post(c, astronaut_bytes)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "try again" in r.json()["detail"]
        app.state.service.budget.used = 0
        assert _post(c, astronaut_bytes).status_code == 200


def test_openapi_lists_predict(api_client):
    """The OpenAPI schema documents /api/predict with its 413 and 415 answers."""
    spec = api_client.get("/openapi.json").json()
    answers = spec["paths"]["/api/predict"]["post"]["responses"]
    assert {"200", "400", "413", "415"} <= set(answers)


def test_predict_concurrent_requests(api_client, astronaut_bytes, noise_png):
    """Eight requests at once all succeed and the photo's answer is the same every time."""
    jobs = [(astronaut_bytes, "a.jpg") if i % 2 == 0 else (noise_png, "n.png") for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: _post(api_client, *job), jobs))
    assert [r.status_code for r in answers] == [200] * 8
    faces = [r.json()["faces"] for r in answers[::2]]
    assert all(f == faces[0] and len(f) == 1 for f in faces)
    assert all(r.json()["faces"] == [] for r in answers[1::2])


def test_create_app_rejects_bad_limits(recognizer):
    """A limit that is not a positive integer, or a pixel budget below max_pixels, raises ValueError naming it."""
    with pytest.raises(ValueError, match="max_upload_bytes"):
        create_app(recognizer, max_upload_bytes=0)
    with pytest.raises(ValueError, match="max_pixels"):
        create_app(recognizer, max_pixels=1.5)
    with pytest.raises(ValueError, match="pixel_budget"):
        create_app(recognizer, max_pixels=1000, pixel_budget=999)
    with pytest.raises(ValueError, match="workers"):
        create_app(recognizer, workers=0)
