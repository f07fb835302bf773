"""The demo page end to end in headless Chromium: upload the photo, see the face boxed and its bars."""
import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from edgefer.labels import CLASSES

CHROMIUM = os.environ.get("EDGEFER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("EDGEFER_CHROMEDRIVER", "/usr/bin/chromedriver")
ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


@contextmanager
def _serve(app):
    """Run ``app`` under uvicorn on a free loopback port in a thread; yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium driven by chromedriver, with a fresh profile and a fake camera (a test
    pattern, allowed without asking); skipped if either program is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            pytest.skip(f"needs {path} (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-extensions", "--window-size=1280,900", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_upload_shows_face_and_bars(browser, recognizer, tmp_path):
    """Uploading the photo shows one labelled face with seven bars and a box drawn on the canvas."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from edgefer.web import create_app

    with _serve(create_app(recognizer)) as url:
        browser.get(url + "/")
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "model").text == "fernet_small")
        browser.find_element(By.ID, "file").send_keys(str(ASTRONAUT))
        WebDriverWait(browser, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#faces .face .label")
            or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        status = browser.find_element(By.ID, "status").text
        faces = browser.find_elements(By.CSS_SELECTOR, "#faces .face")
        assert len(faces) == 1, status
        label = faces[0].find_element(By.CSS_SELECTOR, ".label").text
        assert label in CLASSES
        bars = faces[0].find_elements(By.CSS_SELECTOR, ".bar")
        assert [b.get_attribute("aria-label") for b in bars] == list(CLASSES)
        assert sum(float(b.get_attribute("aria-valuenow")) for b in bars) == pytest.approx(100, abs=0.5)
        assert "1 face" in status and "512\u00d7512" in status
        # The box's left edge, halfway down, is painted in the label's colour.
        box_pixel = browser.execute_script("""
            const c = document.getElementById('canvas');
            return [c.hidden, c.width, c.height,
                    Array.from(c.getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data)];
        """, 178, 66 + 47)
        hidden, width, height, rgba = box_pixel
        assert not hidden and (width, height) == (512, 512)
        swatch = faces[0].find_element(By.CSS_SELECTOR, ".swatch").value_of_css_property("background-color")
        expected = [int(v) for v in swatch[swatch.index("(") + 1:swatch.index(")")].split(",")[:3]]
        assert max(abs(a - b) for a, b in zip(rgba[:3], expected)) <= 3, (rgba, swatch)
        shot = tmp_path / "web_demo.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors


def test_page_webcam_snapshot_is_sent(browser, recognizer):
    """A snapshot of the (fake) camera is uploaded and answered: its status names snapshot.jpg."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from edgefer.web import create_app

    with _serve(create_app(recognizer)) as url:
        browser.get(url + "/")
        start = browser.find_element(By.ID, "cam-start")
        assert start.is_displayed()
        start.click()
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.getElementById('video').videoWidth") > 0)
        browser.find_element(By.ID, "cam-snap").click()
        WebDriverWait(browser, 60).until(lambda d: "snapshot.jpg:" in d.find_element(By.ID, "status").text
                                         or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        status = browser.find_element(By.ID, "status")
        assert "error" not in status.get_attribute("class"), status.text
        assert not browser.find_element(By.ID, "canvas").get_attribute("hidden")
        browser.find_element(By.ID, "cam-stop").click()
        assert browser.find_element(By.ID, "cam-start").is_displayed()


@pytest.fixture
def offline_browser(tmp_path):
    """Headless Chromium that can reach 127.0.0.1 only: every other host name fails to resolve."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            pytest.skip(f"needs {path} (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-extensions", "--window-size=1280,900", f"--user-data-dir={tmp_path / 'profile'}",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_docs_offline_lists_operations(offline_browser, recognizer):
    """/docs, with no network beyond the server, shows Swagger UI listing the API's operations,
    and the browser reports no error (no blocked asset, no CSP violation)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from edgefer.web import create_app

    with _serve(create_app(recognizer)) as url:
        offline_browser.get(url + "/docs")
        WebDriverWait(offline_browser, 60).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")) >= 4)
        paths = {e.get_attribute("data-path") or e.text
                 for e in offline_browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert {"/api/predict", "/api/health", "/api/models", "/api/classes"} <= paths, paths
        errors = [e for e in offline_browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors


def _crowd_photo(path: Path, n: int = 4) -> None:
    """An n x n grid of the astronaut's face, each cell 128 px: n*n small faces in one photo."""
    from PIL import Image
    face = Image.open(ASTRONAUT).crop((150, 40, 300, 190)).resize((128, 128))
    grid = Image.new("RGB", (128 * n, 128 * n))
    for i in range(n * n):
        grid.paste(face, ((i % n) * 128, (i // n) * 128))
    grid.save(path, quality=95)


def test_page_crowd_labels_readable(browser, recognizer, tmp_path):
    """On a photo of 16 small faces, every label is drawn at least 12 screen pixels high and no two overlap;
    the role selector offers default, fast and small."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from edgefer.web import create_app

    crowd = tmp_path / "crowd.jpg"
    _crowd_photo(crowd)
    with _serve(create_app(recognizer)) as url:
        browser.get(url + "/")
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "model").text == "fernet_small")
        values = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#role option")]
        assert values == ["", "default", "fast", "small"], values
        browser.find_element(By.ID, "file").send_keys(str(crowd))
        WebDriverWait(browser, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#faces .face .label")
            or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        n = len(browser.find_elements(By.CSS_SELECTOR, "#faces .face"))
        assert n >= 8, browser.find_element(By.ID, "status").text
        canvas = browser.find_element(By.ID, "canvas")
        import json
        labels = json.loads(canvas.get_attribute("data-labels"))
        assert len(labels) == n
        assert float(canvas.get_attribute("data-font-size")) >= 12 - 1e-6
        for i, (x, y, w, h, _) in enumerate(labels):
            assert 0 <= x and 0 <= y and x + w <= 512 + 1 and y + h <= 512 + 1
            for (x2, y2, w2, h2, _) in labels[i + 1:]:
                assert not (x < x2 + w2 and x2 < x + w and y < y2 + h2 and y2 < y + h), (labels[i], (x2, y2, w2, h2))


def test_page_role_small_used(browser, recognizer):
    """Picking the 'small' role sends it: the answer names the shipped small model."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from edgefer.recognize import ROLES
    from edgefer.web import create_app

    with _serve(create_app(recognizer)) as url:
        browser.get(url + "/")
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "model").text == "fernet_small")
        Select(browser.find_element(By.ID, "role")).select_by_value("small")
        browser.find_element(By.ID, "file").send_keys(str(ASTRONAUT))
        WebDriverWait(browser, 60).until(lambda d: "astronaut.jpg:" in d.find_element(By.ID, "status").text
                                         or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        assert f"model {ROLES['small']}" in browser.find_element(By.ID, "status").text
