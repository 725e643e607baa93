"""`docstn warp` from the command line."""

import subprocess
import sys

import cv2
import numpy as np


def run(*args):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, timeout=120)


def test_warp_rotates_and_resizes(tmp_path):
    img = np.zeros((60, 80, 3), np.uint8)
    img[:10, 35:45] = 255  # a bar at the top-middle
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), img)
    out = tmp_path / "out.png"
    r = run("warp", str(src), "--transform", "rotation", "--theta", "1.5707963", "--size", "60x60", "--out", str(out))
    assert r.returncode == 0, r.stderr
    res = cv2.imread(str(out))
    assert res.shape == (60, 60, 3)
    ys, xs = np.nonzero(res[..., 0] > 128)
    assert xs.mean() > 45 and abs(ys.mean() - 30) < 6  # the top bar is now on the right


def test_warp_reports_bad_theta_without_traceback(tmp_path):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.zeros((8, 8), np.uint8))
    r = run("warp", str(src), "--transform", "affine", "--theta", "1,0,0", "--out", str(tmp_path / "o.png"))
    assert r.returncode != 0
    assert "expected 6 numbers" in r.stderr and "Traceback" not in r.stderr
