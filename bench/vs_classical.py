"""DocSTN vs the classical way, on the same synthetic test photos, in one run.

- Localisation: our default model vs a contour-based OpenCV detector (bench/classical.py): SmartDoc Jaccard
  index (mean, median) and images/s (decoded RGB in, corners out; one image at a time for both).
- Orientation: our model vs Tesseract's orientation detection (``tesseract --psm 0``) applied to the crop the
  classical detector found, and vs the classical detector alone (which assumes upright).
- The same on photos of REAL scanned pages (``--pages``, default data_files/pages/test: receipts and book
  pages with real text, which Tesseract needs), composited by annotation's own functions at 1600x1200 with
  ±180° rotation, perspective, background and lighting. The default model was fine-tuned on composites of
  data_files/pages/train only: it never saw these pages.

    python bench/vs_classical.py [--n 500] [--seed 424242] [--tesseract-n 100] [--model DIR] [--pages DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from annotation import functional as AF
from annotation.synth import list_scans, render_sample
from bench.classical import detect_quad, geometric_order, tesseract_rotation
from stn.checkpoint import load_checkpoint
from stn.coords import norm_to_px
from stn.inference import crop_size
from stn.metrics import jaccard, orientation_correct


def ours_predict(model, image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> (4, 2) corners in pixels, reading order."""
    h, w = model.config.input_size
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
    corners = model.predict(x).corners[0].double()
    return norm_to_px(corners, image.shape[:2]).numpy()


def rectify(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The crop inside ``quad`` (geometric order) at the quad's own resolution, for Tesseract."""
    h, w = crop_size(quad, None, None, max_side=4096)
    dst = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_LINEAR)


def real_page_photos(folder: Path, per_page: int, seed: int, size=(1200, 1600)):
    """Photos of real scans: [(image RGB, corners (4, 2), name)], composited like annotation.synth does."""
    rng = np.random.default_rng(seed)
    h, w = size
    out = []
    for path in map(Path, list_scans(str(folder))):
        page = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if page is None:
            continue
        page = cv2.cvtColor(page, cv2.COLOR_BGR2RGB)
        for _ in range(per_page):
            quad = AF.place_quad(page.shape[1] / page.shape[0], w, h, rng, area_range=(0.35, 0.6))
            photo, _ = AF.composite_page(page, quad, AF.random_background(w, h, rng))
            photo = AF.apply_photometric(photo, rng, shadow=True, lighting=True)
            out.append((photo, quad, path.name))
    return out


def orientation_table(title: str, items, model, found_quads, ours_orient, limit: int) -> None:
    """Orientation of ours vs classical quad + Tesseract OSD vs classical alone on ``items[:limit]``."""
    m = min(limit, len(items))
    tess, found = [], 0
    t0 = time.perf_counter()
    for (image, corners, _), c in zip(items[:m], found_quads[:m], strict=True):
        if c is None:
            tess.append(False)
            continue
        rot = tesseract_rotation(rectify(image, geometric_order(c)))
        found += rot is not None
        # "Rotate: R" is the clockwise rotation that makes the crop upright (checked on a real scan): content
        # turned 90° clockwise reports 270, and its TL is then the crop's TR (geometric index 1)
        k = {0: 0, 90: 3, 180: 2, 270: 1}.get(rot or 0, 0)
        tess.append(orientation_correct(np.roll(geometric_order(c), -k, axis=0), corners))
    dt = time.perf_counter() - t0
    alone = [c is not None and orientation_correct(c, it[1]) for it, c in zip(items[:m], found_quads[:m], strict=True)]
    print(f"\norientation, {title} (first {m}):")
    print(f"  DocSTN default model:                          {np.mean(ours_orient[:m]):.3f}")
    print(f"  classical quad + Tesseract OSD (--psm 0):      {np.mean(tess):.3f}", end="")
    print(f"  ({found}/{m} with an answer, {m / dt:.1f} images/s)")
    print(f"  classical quad alone (assumes upright):        {np.mean(alone):.3f}")


def compare(title: str, items, model) -> tuple[list, list]:
    """Jaccard, orientation and images/s of ours vs classical on [(image, corners, name)]; print a table."""
    res = {"ours": {"jac": [], "orient": [], "t": 0.0}, "classical": {"jac": [], "orient": [], "t": 0.0}}
    found_quads = []
    ours_predict(model, items[0][0])  # warm-up
    for image, corners, _ in items:
        t0 = time.perf_counter()
        q = ours_predict(model, image)
        res["ours"]["t"] += time.perf_counter() - t0
        res["ours"]["jac"].append(jaccard(q, corners))
        res["ours"]["orient"].append(orientation_correct(q, corners))
        t0 = time.perf_counter()
        c = detect_quad(image)
        res["classical"]["t"] += time.perf_counter() - t0
        found_quads.append(c)
        res["classical"]["jac"].append(0.0 if c is None else jaccard(c, corners))
    n = len(items)
    print(f"\n{title}, one image at a time")
    print(f"{'method':34s} {'Jaccard mean':>12s} {'median':>8s} {'orient.':>8s} {'images/s':>9s}")
    for name, label in (("ours", "DocSTN default model"), ("classical", "OpenCV contours + approxPolyDP")):
        r = res[name]
        orient = f"{np.mean(r['orient']):8.3f}" if r["orient"] else f"{'-':>8s}"
        print(f"{label:34s} {np.mean(r['jac']):12.4f} {np.median(r['jac']):8.4f} {orient} {n / r['t']:9.1f}")
    print(f"speed ratio ours / classical: {res['classical']['t'] / res['ours']['t']:.2f}x")
    return found_quads, res["ours"]["orient"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=424242, help="first seed of the test photos (unused in training)")
    ap.add_argument("--tesseract-n", type=int, default=100, help="photos for the (slow) Tesseract comparison")
    ap.add_argument("--model", default=None, help="checkpoint folder (default: models/default)")
    default_pages = Path(__file__).resolve().parents[1] / "data_files" / "pages" / "test"
    ap.add_argument("--pages", default=str(default_pages), help="folder of real scans ('' to skip)")
    ap.add_argument("--per-page", type=int, default=4, help="photos per real scan")
    args = ap.parse_args()
    model, _ = load_checkpoint(args.model)
    samples = [render_sample(args.seed + i) for i in range(args.n)]
    synth = [(smp.image, smp.corners, smp.label) for smp in samples]
    title = f"{args.n} synthetic photos 640x480 (seeds {args.seed}..{args.seed + args.n - 1})"
    found, ours_orient = compare(title, synth, model)
    orientation_table("synthetic photos", synth, model, found, ours_orient, args.tesseract_n)
    if args.pages and Path(args.pages).is_dir():
        real = real_page_photos(Path(args.pages), args.per_page, args.seed)
        found, ours_orient = compare(f"{len(real)} photos of real scanned pages, 1600x1200", real, model)
        orientation_table("real scanned pages", real, model, found, ours_orient, len(real))


if __name__ == "__main__":
    main()
