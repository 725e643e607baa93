"""Full-resolution warp: our path vs bare cv2.warpPerspective (the floor) vs grid_sample on the full image.

A 12-megapixel photo (4000x3000) warped to a 1240x1754 crop by a projective θ, all three in one run.
Prints milliseconds per warp (median of repeats) and the ratios to the floor.

    python bench/warp.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
import torch

from stn import transforms, warp, warp_image


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="OpenCV and torch threads (0: library default)")
    args = ap.parse_args()
    if args.threads:
        cv2.setNumThreads(args.threads)
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    photo = cv2.resize(small, (4000, 3000), interpolation=cv2.INTER_CUBIC)  # 12 MP, uint8 HWC
    out_size = (1754, 1240)  # (H, W): A4 at 150 dpi
    t = transforms.get("projective")
    corners = torch.tensor([[[-0.62, -0.81], [0.58, -0.74], [0.66, 0.83], [-0.7, 0.77]]], dtype=torch.float64)
    theta = t.from_corners(corners)
    m = t.matrix_px(theta, photo.shape[:2], out_size)[0].numpy()

    def floor():
        return cv2.warpPerspective(photo, m, out_size[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)

    def ours():
        return warp_image(photo, theta, t, out_size)

    u = torch.from_numpy(photo).permute(2, 0, 1)[None].float()  # the conversion is not timed

    def grid_sample():
        return warp(u, theta.float(), t, out_size)

    assert np.array_equal(ours(), floor()), "our path must produce the floor's pixels"
    rows = [("cv2.warpPerspective (floor)", median_ms(floor, args.repeats))]
    rows.append(("docstn warp_image", median_ms(ours, args.repeats)))
    rows.append(("torch grid_sample, full image", median_ms(grid_sample, max(3, args.repeats // 3))))
    base = rows[0][1]
    print(
        f"12 MP (4000x3000) -> 1240x1754, projective, bilinear; torch threads {torch.get_num_threads()}, "
        f"OpenCV threads {cv2.getNumThreads()}"
    )
    print(f"{'path':34s} {'ms':>9s} {'x floor':>8s}")
    for name, ms in rows:
        print(f"{name:34s} {ms:9.2f} {ms / base:8.2f}")


if __name__ == "__main__":
    main()
