"""POST /v1/rectify through the real app: the shared/DESIGN.md §5 contract, the Accept variant, every guard."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from stn.imageio import decode_image
from tests.support import encode, photo

PNG = encode(photo(200, 150), "PNG")


def post(client, data=PNG, name="page.png", headers=None, **form):
    return client.post("/v1/rectify", files={"file": (name, data, "image/png")}, data=form, headers=headers or {})


def test_json_contract(client):
    r = post(client)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = {"transform", "theta", "matrix_px", "corners", "angle_deg", "confidence", "crop", "model", "timings_ms"}
    assert expected <= set(body)
    assert body["transform"] == "projective" and np.array(body["theta"]).shape == (3, 3)
    assert np.array(body["matrix_px"]).shape == (3, 3) and np.array(body["corners"]).shape == (4, 2)
    assert -180 < body["angle_deg"] <= 180 and 0 <= body["confidence"] <= 1
    assert body["model"] == {"name": "tilted", "version": "test", "transform": "projective", "input_size": [32, 32]}
    assert set(body["timings_ms"]) == {"decode", "predict", "warp", "encode", "total"}
    crop = body["crop"]
    img = decode_image(base64.b64decode(crop["data_base64"]))
    assert crop["media_type"] == "image/png" and img.shape == (crop["height"], crop["width"], 3)
    assert r.headers["x-request-id"]


def test_crop_size_format_and_no_crop(client):
    body = post(client, width="120", height="80", format="jpeg").json()
    assert (body["crop"]["width"], body["crop"]["height"], body["crop"]["media_type"]) == (120, 80, "image/jpeg")
    assert base64.b64decode(body["crop"]["data_base64"])[:2] == b"\xff\xd8"
    body = post(client, include_crop="false").json()
    assert "crop" not in body and len(body["corners"]) == 4


@pytest.mark.parametrize(
    ("accept", "magic"), [("image/png", b"\x89PNG"), ("image/jpeg", b"\xff\xd8"), ("image/webp", b"RIFF")]
)
def test_accept_image_returns_crop_bytes_with_geometry_headers(client, accept, magic):
    as_json = post(client).json()
    r = post(client, headers={"Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"] == accept and r.content.startswith(magic)
    assert json.loads(r.headers["x-docstn-corners"]) == as_json["corners"]
    assert json.loads(r.headers["x-docstn-theta"]) == as_json["theta"]
    assert json.loads(r.headers["x-docstn-matrix-px"]) == as_json["matrix_px"]
    assert float(r.headers["x-docstn-angle-deg"]) == as_json["angle_deg"]


def err(r):
    return r.status_code, r.json()["error"]["code"]


def test_bad_inputs_get_their_status_and_error_body(make_client):
    c = make_client(max_upload_bytes=200_000, max_pixels=100_000)
    big = encode(np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8), "PNG")  # > 200 kB
    assert len(big) > 200_000
    assert err(post(c, big)) == (413, "payload_too_large")
    assert err(post(c, encode(np.full((300, 400, 3), 200, np.uint8), "PNG"))) == (413, "too_many_pixels")
    assert err(post(c, b"%PDF-1.4 not a photo")) == (415, "unsupported_media_type")
    assert err(post(c, encode(photo(40, 30), "GIF"))) == (415, "unsupported_media_type")
    assert err(post(c, PNG[:400])) == (422, "corrupt_image")
    assert err(c.post("/v1/rectify", data={"width": "10"})) == (422, "invalid_request")
    assert err(post(c, width="0")) == (422, "invalid_request")
    assert err(post(c, format="tiff")) == (422, "invalid_request")
    assert err(post(c, format="png", headers={"Accept": "image/jpeg"})) == (400, "format_conflict")
    r = post(c, PNG[:400])
    assert set(r.json()) == {"error"} and set(r.json()["error"]) == {"code", "message"}
    assert r.headers["content-type"] == "application/json"


def test_upload_limit_without_content_length(make_client):
    c = make_client(max_upload_bytes=10_000)
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n' + b"x" * 200_000

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    r = c.post("/v1/rectify", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert err(r) == (413, "payload_too_large")


def test_api_keys(make_client):
    c = make_client(api_keys="k1, k2")
    assert err(post(c)) == (401, "unauthorized")
    assert err(post(c, headers={"X-API-Key": "nope"})) == (401, "unauthorized")
    assert post(c, headers={"X-API-Key": "k2"}).status_code == 200
    assert post(c, headers={"Authorization": "Bearer k1"}).status_code == 200
    assert c.get("/healthz").status_code == 200  # health stays open


def test_rate_limit_per_key(make_client):
    c = make_client(api_keys="a,b", rate_limit_per_minute=2)
    a, b = {"X-API-Key": "a"}, {"X-API-Key": "b"}
    assert [post(c, headers=a).status_code for _ in range(2)] == [200, 200]
    r = post(c, headers=a)
    assert err(r) == (429, "rate_limited") and 1 <= int(r.headers["retry-after"]) <= 60
    assert post(c, headers=b).status_code == 200  # another key has its own budget


def test_no_model_is_not_ready_and_503(make_client, tmp_path):
    c = make_client(model_dir=tmp_path / "missing")
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["model"]["ok"] is False
    assert "no model at" in r.json()["error"]["message"]
    assert err(post(c)) == (503, "model_unavailable")
    assert c.get("/healthz").status_code == 200


def test_health_metrics_docs_and_request_ids(client, capfd):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    r = post(client, headers={"X-Request-ID": "req-123"})
    assert r.headers["x-request-id"] == "req-123"
    text = client.get("/metrics").text
    series = 'docstn_http_request_duration_seconds_count{method="POST",route="/v1/rectify",status="200"}'
    assert series in text
    assert 'docstn_inference_seconds_count{stage="predict"}' in text and "docstn_queue_depth 0.0" in text
    assert "/v1/rectify" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    r404 = client.get("/nowhere")
    assert err(r404) == (404, "not_found")
    logs = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    line = next(x for x in logs if x.get("request_id") == "req-123" and x["msg"] == "request")
    assert line["status"] == 200 and line["route"] == "/v1/rectify" and line["duration_ms"] > 0


def test_annotation_page_is_mounted(make_client, tmp_path):
    folder = tmp_path / "to-label"
    folder.mkdir()
    (folder / "page.png").write_bytes(PNG)
    c = make_client(annotate_dir=folder)
    page = c.get("/annotate/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    names = [it["name"] for it in c.get("/annotate/api/state").json()["images"]]
    assert names == ["page.png"]
    assert c.get("/annotate/api/image", params={"name": "page.png"}).content == PNG
    locked = make_client(annotate_dir=folder, api_keys="secret")
    assert err(locked.get("/annotate/api/state")) == (401, "unauthorized")
