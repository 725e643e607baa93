"""End to end: the capture page in a real headless Chromium against a real uvicorn server."""

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from annotation.capture import create_app
from annotation.synth import SynthConfig, render_sample

CHROMIUM = Path("/usr/bin/chromium")
DATA = Path(__file__).parent / "data"
TIMEOUT_MS = 60_000  # generous: CI and shared machines can be slow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    shutil.copy(DATA / "receipt_lidl.jpg", tmp_path / "a_receipt.jpg")  # a real scan, 300 x 362
    s = render_sample(5, SynthConfig(width=320, height=240))
    (tmp_path / "b_synth.jpg").write_bytes(s.jpeg)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(tmp_path), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", tmp_path
    srv.should_exit = True
    thread.join(timeout=10)


def _manifest(folder: Path) -> list[dict]:
    path = folder / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_manifest(folder: Path, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _manifest(folder)
        if predicate(rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"manifest did not reach the expected state in {timeout} s: {_manifest(folder)}")


def _click_image_point(page, x: float, y: float) -> None:
    cx, cy = page.evaluate("([x, y]) => window.capture.toCanvas(x, y)", [x, y])
    box = page.locator("#canvas").bounding_box(timeout=TIMEOUT_MS)
    assert 0 <= cx < box["width"] and 0 <= cy < box["height"], "point off screen"
    page.mouse.click(box["x"] + cx, box["y"] + cy)


def test_click_four_corners_zoomed_then_resume(server):
    from playwright.sync_api import sync_playwright

    url, folder = server
    targets = [[40.0, 60.0], [250.5, 58.0], [255.0, 300.25], [38.0, 305.0]]  # TL TR BR BL on the receipt
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            timeout=30_000,
        )
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url, timeout=TIMEOUT_MS)
            page.wait_for_function("window.capture && window.capture.ready && window.capture.img", timeout=TIMEOUT_MS)
            assert page.text_content("#progress") == "0 of 2 annotated"
            assert "a_receipt.jpg" in page.text_content("#name")
            # zoom in with the wheel around the image centre, then pan by dragging
            zoom0 = page.evaluate("window.capture.view.zoom")
            box = page.locator("#canvas").bounding_box()
            cx, cy = page.evaluate("window.capture.toCanvas(150, 180)")
            page.mouse.move(box["x"] + cx, box["y"] + cy)
            page.mouse.wheel(0, -150)
            page.wait_for_function(f"window.capture.view.zoom > {zoom0 * 1.2}", timeout=TIMEOUT_MS)
            zoom = page.evaluate("window.capture.view.zoom")
            assert zoom > 1.2 * zoom0
            pan0 = page.evaluate("[window.capture.view.panX, window.capture.view.panY]")
            page.mouse.move(box["x"] + 100, box["y"] + 100)
            page.mouse.down()
            page.mouse.move(box["x"] + 130, box["y"] + 80, steps=5)
            page.mouse.up()
            pan1 = page.evaluate("[window.capture.view.panX, window.capture.view.panY]")
            assert pan1 == pytest.approx([pan0[0] + 30, pan0[1] - 20])
            assert page.evaluate("window.capture.corners.length") == 0  # a drag is not a click
            page.fill("#label", "receipt")
            # TL, TR, a wrong click that is undone, then BR, BL
            for x, y in targets[:2]:
                _click_image_point(page, x, y)
            _click_image_point(page, 200.0, 200.0)
            page.keyboard.press("z")  # undo the wrong click
            assert page.evaluate("window.capture.corners.length") == 2
            for x, y in targets[2:]:
                _click_image_point(page, x, y)
            rows = _wait_manifest(folder, lambda rows: len(rows) == 1)
            rec = rows[0]
            assert rec["image"] == "a_receipt.jpg" and rec["label"] == "receipt"
            assert (rec["width"], rec["height"]) == (300, 362)
            for got, want in zip(rec["corners"], targets, strict=True):
                assert abs(got[0] - want[0]) <= 1.0 and abs(got[1] - want[1]) <= 1.0, (got, want)
            page.wait_for_function("document.querySelector('#progress').textContent === '1 of 2 annotated'")
            # rotate the corner order by 90 degrees: TL becomes the old BL, saved at once
            page.keyboard.press("r")
            _wait_manifest(folder, lambda rows: abs(rows[0]["corners"][0][0] - targets[3][0]) <= 1.0)
            page.keyboard.press("r")
            page.keyboard.press("r")
            page.keyboard.press("r")
            rows = _wait_manifest(folder, lambda rows: abs(rows[0]["corners"][0][0] - targets[0][0]) <= 1.0)
            # reload: it resumes at the first image without corners, with the progress shown
            page.reload(timeout=TIMEOUT_MS)
            page.wait_for_function("window.capture && window.capture.ready && window.capture.img", timeout=TIMEOUT_MS)
            assert page.evaluate("window.capture.index") == 1
            assert "b_synth.jpg" in page.text_content("#name")
            assert page.text_content("#progress") == "1 of 2 annotated"
            # previous image shows its saved corners; a drag adjusts a corner and saves
            page.keyboard.press("ArrowLeft")
            page.wait_for_function("window.capture.ready && window.capture.corners.length === 4")
            cx, cy = page.evaluate("window.capture.toCanvas(40, 60)")
            box = page.locator("#canvas").bounding_box()
            page.mouse.move(box["x"] + cx, box["y"] + cy)
            page.mouse.down()
            zoom = page.evaluate("window.capture.view.zoom")
            page.mouse.move(box["x"] + cx + 10 * zoom, box["y"] + cy + 5 * zoom, steps=4)
            page.mouse.up()
            rows = _wait_manifest(folder, lambda rows: abs(rows[0]["corners"][0][0] - 50.0) <= 1.0)
            assert abs(rows[0]["corners"][0][1] - 65.0) <= 1.0
        finally:
            browser.close()
