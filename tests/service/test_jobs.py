"""/v1/jobs with embedded (in-process) workers: progress, results, crops, deletion, TTL, webhook, resume."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from stn.imageio import decode_image
from tests.support import encode, photo
from workers.jobstore import JobStore


def wait_for(fn, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


def submit(client, images, **form):
    files = [("files", (f"p{i}.png", data, "image/png")) for i, data in enumerate(images)]
    return client.post("/v1/jobs", files=files, data=form)


def wait_done(client, job_id, timeout=30.0):
    return wait_for(lambda: (j := client.get(f"/v1/jobs/{job_id}").json()).get("state") == "done" and j, timeout)


@pytest.fixture
def webhook_server():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    thread.join(5)


def test_job_lifecycle(client, webhook_server):
    url, received = webhook_server
    images = [encode(photo(160 + 10 * i, 120, seed=i)) for i in range(3)] + [b"not an image"]
    r = submit(client, images, format="webp", width="64", webhook=url)
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["total"] == 4 and created["status_url"] == f"/v1/jobs/{created['id']}"
    assert r.headers["location"] == created["status_url"]
    job = wait_done(client, created["id"])
    assert job["progress"] == {"done": 3, "failed": 1, "total": 4}
    assert [it["state"] for it in job["items"]] == ["done", "done", "done", "failed"]
    assert job["items"][3]["error"]["code"] == "unsupported_media_type"
    single = client.post("/v1/rectify", files={"file": ("p0.png", images[0], "image/png")}, data={"width": "64"})
    first = job["items"][0]
    assert first["corners"] == single.json()["corners"] and first["theta"] == single.json()["theta"]
    assert first["filename"] == "p0.png" and "data_base64" not in json.dumps(first)
    crop = client.get(first["crop_url"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/webp"
    assert decode_image(crop.content).shape[1] == 64
    assert job["expires_at"] > job["finished"] >= job["created"]
    wait_for(lambda: received, timeout=10)
    assert received == [{"id": created["id"], "state": "done", "progress": {"done": 3, "failed": 1, "total": 4}}]
    assert client.delete(f"/v1/jobs/{created['id']}").status_code == 204
    for path in (created["status_url"], first["crop_url"]):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.delete(f"/v1/jobs/{created['id']}").status_code == 404


def test_pagination_and_pending_items(client):
    job_id = submit(client, [encode(photo(seed=i)) for i in range(5)]).json()["id"]
    page = client.get(f"/v1/jobs/{job_id}", params={"offset": 3, "limit": 10}).json()
    assert [it["index"] for it in page["items"]] == [3, 4] and page["progress"]["total"] == 5
    assert wait_done(client, job_id)["progress"]["done"] == 5


def test_job_errors(make_client):
    c = make_client(max_job_files=2)
    assert c.get("/v1/jobs/0123").json()["error"]["code"] == "not_found"
    assert c.get("/v1/jobs/" + "a" * 32).status_code == 404
    assert c.get("/v1/jobs/../../etc").status_code == 404
    r = submit(c, [encode(photo())] * 3)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "too_many_files")
    r = submit(c, [encode(photo())], webhook="file:///etc/passwd")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    r = submit(c, [encode(photo())], webhook="http:///no-host")
    assert r.status_code == 422 and "with a host" in r.json()["error"]["message"]
    r = c.post("/v1/jobs", data={"format": "png"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")


def test_webhook_hosts_are_restricted_when_configured(make_client):
    c = make_client(webhook_hosts="hooks.example.com,*.corp.test")
    r = submit(c, [encode(photo())], webhook="http://169.254.169.254/latest/meta-data")
    assert r.status_code == 422 and "'169.254.169.254' is not in DOCSTN_WEBHOOK_HOSTS" in r.json()["error"]["message"]
    assert submit(c, [encode(photo())], webhook="https://ci.corp.test/done").status_code == 202


def test_finished_jobs_expire_after_the_ttl(make_client):
    c = make_client(job_ttl_s=1, sweep_interval_s=0.2)
    job_id = submit(c, [encode(photo())]).json()["id"]
    wait_done(c, job_id)
    wait_for(lambda: c.get(f"/v1/jobs/{job_id}").status_code == 404, timeout=10)


def test_embedded_runner_resumes_unfinished_jobs_at_start(make_client, tmp_path):
    store = JobStore(tmp_path / "jobs")  # the store make_client's app uses
    meta = store.create([("a.png", encode(photo())), ("b.png", encode(photo(seed=2)))], options={"format": "png"})
    c = make_client()
    assert wait_done(c, meta["id"])["progress"] == {"done": 2, "failed": 0, "total": 2}
