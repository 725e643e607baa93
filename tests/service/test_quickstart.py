"""deploy/quickstart.sh end to end (setup skipped: this environment is already set up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stn.imageio import decode_image
from tests.support import make_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_writes_theta_corners_and_crop(tmp_path):
    ckpt = make_checkpoint(tmp_path / "model")
    out = tmp_path / "out"
    env = {**os.environ, "DOCSTN_SKIP_SETUP": "1", "VENV": sys.prefix, "DOCSTN_MODEL_DIR": str(ckpt),
           "OUT": str(out), "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("DOCSTN_REDIS_URL", None)
    proc = subprocess.run(["bash", "deploy/quickstart.sh"], cwd=ROOT, env=env, capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert b"corners" in proc.stdout and b"angle_deg" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["corners"] == [[-0.5, -0.5], [1023.5, -0.5], [1023.5, 767.5], [-0.5, 767.5]]  # identity model
    assert result["angle_deg"] == 0.0 and len(result["theta"]) == 3
    assert decode_image((out / "crop.png").read_bytes()).shape == (768, 1024, 3)
    assert proc.stdout.decode().count("\n") >= 5
