#!/usr/bin/env bash
# The first command: set up, start `docstn serve` on embedded defaults (no Redis, jobs in-process, the default
# model in models/default/), send samples/page-photo.jpg through the real HTTP service and write
# out/result.json (θ, corners, angle, ...) and out/crop.png; then stop the server.
#   DOCSTN_SKIP_SETUP=1  use an existing environment (VENV, default .venv) instead of running deploy/setup.sh
#   DOCSTN_MODEL_DIR=... another checkpoint folder; PHOTO=... another photo
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PHOTO=${PHOTO:-samples/page-photo.jpg}
OUT=${OUT:-out}
if [ "${DOCSTN_SKIP_SETUP:-0}" != 1 ]; then DOCSTN_SKIP_BROWSER=${DOCSTN_SKIP_BROWSER:-1} bash deploy/setup.sh; fi
PY="$VENV/bin/python"
if [ -z "${DOCSTN_MODEL_DIR:-}" ] && [ ! -f models/default/config.json ]; then
  echo "quickstart: no default model in models/default/ yet: train one (docstn train, see README) or set DOCSTN_MODEL_DIR" >&2
  exit 1
fi
mkdir -p "$OUT"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DOCSTN_JOB_STORE=${DOCSTN_JOB_STORE:-$OUT/jobs}
unset DOCSTN_REDIS_URL
"$PY" -m service.cli serve --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
"$PY" - "$PORT" "$PHOTO" "$OUT" <<'PYEOF'
import base64, json, sys, time
import httpx

port, photo, out = sys.argv[1:4]
base = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 120
while True:
    try:
        r = httpx.get(base + "/readyz", timeout=2)
        if r.status_code == 200:
            break
        if r.status_code == 503 and time.monotonic() > deadline - 110:
            sys.exit(f"quickstart: service not ready: {r.json().get('error', {}).get('message')}")
    except httpx.HTTPError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"quickstart: no answer from {base}/readyz within 120 s (see {out}/server.log)")
    time.sleep(0.3)
with open(photo, "rb") as f:
    t0 = time.perf_counter()
    r = httpx.post(base + "/v1/rectify", files={"file": (photo, f, "image/jpeg")}, timeout=60)
    ms = (time.perf_counter() - t0) * 1000
if r.status_code != 200:
    sys.exit(f"quickstart: POST /v1/rectify answered {r.status_code}: {r.text}")
body = r.json()
crop = body.pop("crop")
with open(f"{out}/crop.png", "wb") as f:
    f.write(base64.b64decode(crop["data_base64"]))
body["crop"] = {k: v for k, v in crop.items() if k != "data_base64"} | {"path": f"{out}/crop.png"}
with open(f"{out}/result.json", "w") as f:
    json.dump(body, f, indent=2)
print(f"model      {body['model']['name']} ({body['model']['version']}, {body['transform']})")
print(f"theta      {json.dumps(body['theta'])}")
print(f"corners    {json.dumps(body['corners'])}  (TL, TR, BR, BL in photo pixels)")
print(f"angle_deg  {body['angle_deg']}")
print(f"crop       {crop['width']}x{crop['height']} -> {out}/crop.png; full result -> {out}/result.json")
print(f"latency    {ms:.0f} ms over HTTP ({body['timings_ms']['total']:.0f} ms in the engine)")
PYEOF
