import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from annotation.capture import create_app, list_images
from annotation.records import read_manifest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def folder(tmp_path):
    shutil.copy(DATA / "receipt_lidl.jpg", tmp_path / "a_receipt.jpg")
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "b.png"), np.zeros((40, 60, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.jpg").write_bytes(b"x")
    return tmp_path


def test_listing_state_save_and_resume(folder):
    assert list_images(folder) == ["a_receipt.jpg", "sub/b.png"]
    client = TestClient(create_app(folder))
    assert "capture" in client.get("/").text
    s = client.get("/api/state").json()
    assert (s["total"], s["done"], s["resume"]) == (2, 0, 0)
    corners = [[10.5, 12.25], [280.0, 11.0], [281.0, 350.0], [9.0, 351.0]]
    r = client.put("/api/records", json={"image": "a_receipt.jpg", "corners": corners, "label": " receipt "})
    assert r.status_code == 200, r.text
    assert r.json()["done"] == 1
    recs, errs = read_manifest(folder / "manifest.jsonl")
    assert errs == [] and len(recs) == 1
    assert (recs[0].width, recs[0].height, recs[0].label, recs[0].corners) == (300, 362, "receipt", corners)
    s = client.get("/api/state").json()
    assert (s["done"], s["resume"], s["labels"]) == (1, 1, ["receipt"])
    # saving again replaces the line instead of appending one; bad lines already there are kept
    with open(folder / "manifest.jsonl", "a") as f:
        f.write("{broken line\n")
    corners2 = [[1, 1], [50, 1], [50, 30], [1, 30]]
    assert client.put("/api/records", json={"image": "sub/b.png", "corners": corners2}).status_code == 200
    moved = [[11.0, 12.0], *corners[1:]]
    assert (
        client.put(
            "/api/records", json={"image": "a_receipt.jpg", "corners": moved, "label": "x"}
        ).status_code
        == 200
    )
    recs, errs = read_manifest(folder / "manifest.jsonl")
    assert [r.image for r in recs] == ["a_receipt.jpg", "sub/b.png"] and len(errs) == 1
    assert recs[0].corners[0] == [11.0, 12.0] and recs[0].label == "x"
    assert client.get("/api/state").json()["done"] == 2


def test_bad_requests(folder):
    client = TestClient(create_app(folder))
    three = {"image": "a_receipt.jpg", "corners": [[0, 0], [1, 0], [1, 1]]}
    r = client.put("/api/records", json=three)
    assert r.status_code == 422 and "expected 4 corners" in r.json()["detail"]
    bow = {"image": "a_receipt.jpg", "corners": [[0, 0], [100, 100], [100, 0], [0, 100]]}
    r = client.put("/api/records", json=bow)
    assert r.status_code == 422 and "self_intersecting" in r.json()["detail"]
    outside = {"image": "sub/b.png", "corners": [[-20, 0], [59, 0], [59, 39], [0, 39]]}
    r = client.put("/api/records", json=outside)
    assert r.status_code == 200 and r.json()["issues"] == ["corners_outside"]
    assert read_manifest(folder / "manifest.jsonl")[0][0].flags == ["corners_outside"]
    assert client.get("/api/image", params={"name": "../etc/passwd"}).status_code == 404
    assert client.get("/api/image", params={"name": ".hidden.jpg"}).status_code == 404
    assert client.get("/api/image", params={"name": "sub/b.png"}).status_code == 200
    r = client.put("/api/records", json={"image": "nope.jpg", "corners": outside["corners"]})
    assert r.status_code == 404
