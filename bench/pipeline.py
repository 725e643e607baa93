"""In-process pipeline per image: decode + predict + warp + encode, ours vs the bare library calls, by stage.

Ours is ``Engine.rectify`` (Pillow header checks + decode with EXIF, resize + the net through the micro-batcher,
full-resolution warp, encode). The floor is the sum of the bare calls on the same images in the same run:
``cv2.imdecode``, ``cv2.resize`` + the bare forward (torch, or the --backend's session), ``cv2.warpPerspective``
to the same matrix and size, ``cv2.imencode`` (Pillow's WebP encoder for webp) with the same settings. Both run
interleaved, image by image, so that a shared machine's load hits both alike. Prints per-stage medians (ms), the
overhead (target < 15%) and the encoders' cost by format.

    PYTHONPATH=. python bench/pipeline.py [--model DIR] [--images 6] [--repeats 5] [--format jpeg]
        [--size 2016x1512] [--backend torch] [--threads 0]

Without a trained model (no --model and no models/default) it measures an untrained model of the default
architecture (ModelConfig(): DocNet at 256x256, projective): the same computation as a trained one.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from annotation.synth import SynthConfig, render_sample
from stn.checkpoint import DEFAULT_MODEL_DIR, load_checkpoint, save_checkpoint
from stn.export import make_backend
from stn.imageio import PNG_PARAMS, WEBP_METHOD, encode_image
from stn.inference import Engine
from stn.model import DocSTN, ModelConfig

STAGES = ("decode", "predict", "warp", "encode")
CV_EXT = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


def load_model(directory: str | None) -> tuple[DocSTN, str]:
    """The named checkpoint, the default model, or (when there is none) an untrained default architecture."""
    d = Path(directory) if directory else DEFAULT_MODEL_DIR
    if (d / "config.json").is_file():
        return load_checkpoint(d)[0].eval(), str(d)
    if directory:
        raise SystemExit(f"no checkpoint at {d}")
    tmp = Path(tempfile.mkdtemp()) / "untrained"
    save_checkpoint(tmp, DocSTN(ModelConfig()))
    return load_checkpoint(tmp)[0].eval(), "untrained DocSTN(ModelConfig())"


def synthetic_photos(n: int, width: int, height: int) -> list[bytes]:
    """``n`` synthetic document photos as JPEG bytes (quality 90, as a phone would send)."""
    cfg = SynthConfig(width=width, height=height, jpeg=False)
    out = []
    for seed in range(n):
        bgr = cv2.cvtColor(render_sample(seed, cfg).image, cv2.COLOR_RGB2BGR)
        out.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out


def bare_encode(crop_bgr: np.ndarray, fmt: str, quality: int) -> bytes:
    """The library call ``stn.imageio.encode_image`` makes, with the same settings, and nothing around it."""
    if fmt == "webp":  # libwebp through Pillow, as the engine (OpenCV cannot choose the method)
        buf = io.BytesIO()
        Image.fromarray(crop_bgr).save(buf, format="WEBP", quality=quality, method=WEBP_METHOD)
        return buf.getvalue()
    params = PNG_PARAMS if fmt == "png" else [cv2.IMWRITE_JPEG_QUALITY, quality]
    return cv2.imencode(CV_EXT[fmt], crop_bgr, params)[1]


def bare_pipeline(data: bytes, model: DocSTN, net, matrix_px: np.ndarray, crop_hw: tuple[int, int], fmt: str, q: int):
    """The floor: bare library calls, timed by stage (ms); ``net`` is None (the bare torch forward) or another
    backend's bare call (``onnxruntime.InferenceSession.run``, a TorchScript module)."""
    t = {}
    t0 = time.perf_counter()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # BGR; channel order does not matter here
    t1 = time.perf_counter()
    h, w = model.config.input_size
    small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    x = small.transpose(2, 0, 1)[None].astype(np.float32) / 255  # (1, 3, h, w)
    if net is None:
        with torch.inference_mode():
            model.predict(torch.from_numpy(x))
    else:
        net(x)
    t2 = time.perf_counter()
    crop = cv2.warpPerspective(img, matrix_px, crop_hw[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    t3 = time.perf_counter()
    bare_encode(crop, fmt, q)
    t4 = time.perf_counter()
    t["decode"], t["predict"], t["warp"] = (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3
    t["encode"], t["total"] = (t4 - t3) * 1e3, (t4 - t0) * 1e3
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint folder [default: models/default, else untrained]")
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--format", default="jpeg", choices=list(CV_EXT))
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--size", default="2016x1512", help="photo WIDTHxHEIGHT (3 MP by default)")
    ap.add_argument("--backend", default="torch", help="engine backend; the floor calls the same backend bare")
    ap.add_argument("--threads", type=int, default=0, help="torch, OpenCV and onnxruntime threads (0: defaults)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))

    model, model_name = load_model(args.model)
    photos = synthetic_photos(args.images, width, height)
    engine = Engine(model, name="bench", backend=args.backend, quality=args.quality, threads=args.threads)
    net = None if engine.backend == "torch" else make_backend(engine.backend, model, threads=args.threads)
    ours: list[dict] = []
    bare: list[dict] = []
    crops = []
    try:
        for data in photos:  # warm-up, and the crop geometry the floor reuses
            r = engine.rectify(data, fmt=args.format)
            crops.append((np.array(r.matrix_px), (r.height, r.width)))
            bare_pipeline(data, model, net, crops[-1][0], crops[-1][1], args.format, args.quality)
        for _ in range(args.repeats):
            for data, (m, hw) in zip(photos, crops, strict=True):
                t0 = time.perf_counter()
                r = engine.rectify(data, fmt=args.format)
                ours.append({**r.timings_ms, "total": (time.perf_counter() - t0) * 1e3})
                bare.append(bare_pipeline(data, model, net, m, hw, args.format, args.quality))
        sample_crop = cv2.cvtColor(
            cv2.warpPerspective(cv2.imdecode(np.frombuffer(photos[0], np.uint8), cv2.IMREAD_COLOR), crops[0][0],
                                crops[0][1][::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP),
            cv2.COLOR_BGR2RGB,
        )  # fmt: skip
    finally:
        engine.close()

    print(
        f"{len(photos)} synthetic photos {width}x{height} JPEG (mean {np.mean([len(p) for p in photos]) / 1e3:.0f} kB),"
        f" "
        f"model {model_name} (input {model.config.input_size[1]}x{model.config.input_size[0]}), backend "
        f"{engine.backend}, crop {args.format} q{args.quality}, mean crop {np.mean([w for _, (_, w) in crops]):.0f}x"
        f"{np.mean([h for _, (h, _) in crops]):.0f}; torch threads {torch.get_num_threads()}, OpenCV threads "
        f"{cv2.getNumThreads()}; {args.repeats} repeats, medians"
    )
    print(f"{'stage':10s} {'ours ms':>9s} {'bare ms':>9s} {'ours/bare':>10s}")
    for stage in (*STAGES, "total"):
        o = statistics.median(t[stage] for t in ours)
        b = statistics.median(t[stage] for t in bare)
        print(f"{stage:10s} {o:9.2f} {b:9.2f} {o / b:10.2f}")
    o_tot = statistics.median(t["total"] for t in ours)
    b_tot = statistics.median(t["total"] for t in bare)
    print(f"overhead vs the sum of bare calls: {100 * (o_tot / b_tot - 1):+.1f}% (target < 15%); "
          f"{1000 / o_tot:.1f} images/s in-process, one caller")  # fmt: skip

    print(f"\nencoders on a {sample_crop.shape[1]}x{sample_crop.shape[0]} crop (engine settings, ms and kB):")
    for fmt in CV_EXT:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            buf = encode_image(sample_crop, fmt, quality=args.quality)
            times.append((time.perf_counter() - t0) * 1e3)
        print(f"  {fmt:5s} {statistics.median(times):8.1f} ms {len(buf) / 1e3:8.0f} kB")


if __name__ == "__main__":
    main()
