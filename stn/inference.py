"""The inference engine: image bytes in, θ, corners and the rectified full-resolution crop out.

Convention:
    shared/DESIGN.md §2. The net sees the photo resized to ``input_size`` (cv2.INTER_AREA); θ maps the output
    (upright document) frame to the input in normalised coordinates, which do not depend on the image size,
    so the same θ applies to the full-resolution photo. ``corners`` are TL, TR, BR, BL in full-resolution
    input pixels, ``matrix_px`` maps crop pixels to photo pixels and ``angle_deg`` is the direction of TL->TR
    on screen, counter-clockwise positive, in (-180, 180].

One :class:`Engine` per process loads the checkpoint once; it is safe to share between threads. Prediction
goes through a :class:`MicroBatcher` so that concurrent callers are run through the net together.

Example:
    >>> import numpy as np
    >>> from stn.model import DocSTN, ModelConfig
    >>> engine = Engine(DocSTN(ModelConfig(net="paper", input_size=(32, 32))).eval(), name="untrained")
    >>> r = engine.rectify(np.zeros((30, 40, 3), np.uint8), fmt="png")
    >>> r.corners, r.angle_deg, (r.width, r.height)
    ([[-0.5, -0.5], [39.5, -0.5], [39.5, 29.5], [-0.5, 29.5]], 0.0, (40, 30))
    >>> engine.close()
"""

from __future__ import annotations

import hashlib
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .checkpoint import DEFAULT_MODEL_DIR, CheckpointError, load_checkpoint
from .coords import angle_deg, norm_to_px
from .export import make_backend, resolve_backend
from .fullres import warp_image
from .imageio import decode_image, encode_image, media_type
from .model import DocSTN

__all__ = [
    "Engine",
    "MicroBatcher",
    "ModelUnavailableError",
    "RectifyResult",
    "crop_size",
    "theta_rows",
]


#: Errors that fail one image of a batch (bad data, impossible geometry); anything else (a time limit, a
#: broken model) propagates.
_ITEM_ERRORS = (ValueError, cv2.error)


class ModelUnavailableError(RuntimeError):
    """No model could be loaded (the default model is missing, or the checkpoint is broken)."""


def crop_size(corners_px: np.ndarray, width: int | None, height: int | None, *, max_side: int) -> tuple[int, int]:
    """The crop's (H, W): as requested, or from the quad's mean side lengths (aspect kept), capped at ``max_side``.

    Example:
        >>> crop_size(np.array([[0, 0], [200, 0], [200, 100], [0, 100]]), None, None, max_side=100)
        (50, 100)
        >>> crop_size(np.array([[0, 0], [200, 0], [200, 100], [0, 100]]), 50, None, max_side=4096)
        (25, 50)
    """
    c = np.asarray(corners_px, np.float64)
    quad_w = (np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2
    quad_h = (np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / 2
    aspect = quad_h / quad_w if quad_w > 1e-6 and quad_h > 1e-6 and math.isfinite(quad_w / quad_h) else 1.0
    if width and height:
        w, h = float(width), float(height)
    elif width:
        w, h = float(width), width * aspect
    elif height:
        w, h = height / aspect, float(height)
    else:
        w, h = max(quad_w, 1.0), max(quad_h, 1.0)
        if not (math.isfinite(w) and math.isfinite(h)):
            w, h = float(max_side), float(max_side)
    scale = min(1.0, max_side / max(w, h))
    return max(1, round(h * scale)), max(1, round(w * scale))


def theta_rows(theta: np.ndarray, kind: str) -> list[list[float]]:
    """θ as JSON rows: affine 2x3, projective 3x3 (h33 = 1), other kinds one row of their P parameters.

    Example:
        >>> theta_rows(np.array([1, 0, 0, 0, 1, 0.0]), "affine")
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    t = [float(v) for v in np.asarray(theta, np.float64).reshape(-1)]
    if kind == "affine":
        return [t[0:3], t[3:6]]
    if kind == "projective":
        return [t[0:3], t[3:6], [*t[6:8], 1.0]]
    return [t]


@dataclass
class RectifyResult:
    """One image's result; ``crop`` holds the encoded bytes (None when not asked for)."""

    transform: str
    theta: list[list[float]]
    matrix_px: list[list[float]]
    corners: list[list[float]]
    angle_deg: float
    confidence: float
    label: str | None
    image_width: int
    image_height: int
    width: int  # crop width
    height: int  # crop height
    media_type: str
    crop: bytes | None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self, *, model: dict, crop: dict | None = None) -> dict:
        """The shared/DESIGN.md §5 body (without crop data unless ``crop`` is given)."""
        out = {
            "transform": self.transform,
            "theta": self.theta,
            "matrix_px": self.matrix_px,
            "corners": self.corners,
            "angle_deg": self.angle_deg,
            "confidence": self.confidence,
            "label": self.label,
            "image": {"width": self.image_width, "height": self.image_height},
            "model": model,
            "timings_ms": self.timings_ms,
        }
        if crop is not None:
            out["crop"] = crop
        return out


class MicroBatcher:
    """Runs ``fn`` on batches of items submitted from many threads.

    A background thread takes the first waiting item, then whatever else arrives within ``max_wait_s`` (up to
    ``max_batch``), and calls ``fn(list_of_items) -> list_of_results`` once. Concurrent callers share one forward
    pass. ``incoming`` (optional) says how many callers are on their way (e.g. still decoding): while it is 0 and
    the queue is empty the batch is run at once, so a lone caller never waits for company that is not coming.
    """

    def __init__(
        self,
        fn,
        *,
        max_batch: int = 8,
        max_wait_s: float = 0.005,
        incoming=None,
        name: str = "docstn-batcher",
    ):
        self.fn = fn
        self.incoming = incoming
        self.max_batch = max(1, int(max_batch))
        self.max_wait_s = max(0.0, float(max_wait_s))
        self._q: queue.Queue = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item) -> Future:
        """Queue one item; the future resolves to its result (or its batch's exception)."""
        if self._closed:
            raise RuntimeError("MicroBatcher is closed")
        fut: Future = Future()
        self._q.put((item, fut))
        return fut

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after the items already queued."""
        if not self._closed:
            self._closed = True
            self._q.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            stop = False
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0 or (self.incoming is not None and self.incoming() <= 0):
                        nxt = self._q.get_nowait()
                    elif self.incoming is not None:  # poll: a caller may arrive, or stop being expected
                        nxt = self._q.get(timeout=min(remaining, 0.0002))
                    else:
                        nxt = self._q.get(timeout=remaining)
                except queue.Empty:
                    if remaining <= 0 or self.incoming is None or self.incoming() <= 0:
                        break
                    continue
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            items, futs = [b[0] for b in batch], [b[1] for b in batch]
            try:
                results = self.fn(items)
                for f, r in zip(futs, results, strict=True):
                    f.set_result(r)
            except BaseException as e:  # every waiter must hear about the failure
                for f in futs:
                    if not f.done():
                        f.set_exception(e)
            if stop:
                return


@dataclass
class _Pred:
    theta: np.ndarray  # (P,) float64
    corners_norm: np.ndarray  # (4, 2)
    confidence: float
    label: str | None


class Engine:
    """Loads a model once; rectifies images one at a time, in batches, or from many threads at once.

    Args:
        model: a :class:`~stn.model.DocSTN` (put in eval mode here).
        name, version: reported with every result.
        max_batch: the largest batch run through the net.
        batch_wait_ms: how long the micro-batcher waits for company (0: no waiting, still batches what is queued).
        max_pixels: decode limit (decompression-bomb guard).
        max_side: the cap on a derived or requested crop side.
        interpolation, padding: the full-resolution warp's (``stn.fullres.warp_image``).
        quality: JPEG/WebP quality of the crop (PNG is written at compression level 1).
        backend: the net's runtime, "torch" (eager), "torchscript", "onnx" (onnxruntime) or "auto" (the fastest
            available, :func:`stn.export.resolve_backend`); exported backends are built in memory at load.
        threads: onnxruntime intra-op threads (0: one per core); torch's are set process-wide by the caller.
    """

    def __init__(
        self,
        model: DocSTN,
        *,
        name: str = "model",
        version: str = "",
        device: str | torch.device = "cpu",
        max_batch: int = 8,
        batch_wait_ms: float = 2.0,
        max_pixels: int = 50_000_000,
        max_side: int = 4096,
        interpolation: str = "bilinear",
        padding: str = "border",
        quality: int = 90,
        backend: str = "torch",
        threads: int = 0,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.kind = model.config.transform
        self.transform = model.transform
        self.name = name
        self.version = version
        self.max_batch = max_batch
        self.max_pixels = max_pixels
        self.max_side = max_side
        self.interpolation = interpolation
        self.padding = padding
        self.quality = quality
        self.backend = resolve_backend(backend, str(self.device))
        if self.backend != "torch" and self.device.type != "cpu":
            raise ValueError(f"backend {self.backend!r} runs on the CPU only; use backend='torch' on {self.device}")
        self._run = make_backend(self.backend, self.model, threads=threads)
        self._lock = threading.Lock()  # one forward pass at a time
        self._incoming = 0  # rectify() callers that have not yet submitted their prediction
        self._incoming_lock = threading.Lock()
        self._batcher = MicroBatcher(
            self._predict_arrays,
            max_batch=max_batch,
            max_wait_s=batch_wait_ms / 1000,
            incoming=lambda: self._incoming,
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_checkpoint(cls, directory: str | Path | None = None, **kwargs) -> Engine:
        """Load a checkpoint folder (the default model, ``models/default/``, when None).

        Raises:
            ModelUnavailableError: with a message saying what is missing and how to fix it.
        """
        d = Path(directory) if directory else DEFAULT_MODEL_DIR
        if not (d / "config.json").is_file():
            hint = (
                "the default model has not been trained or installed yet: train one with `docstn train`, or name a "
                "checkpoint folder with --model / DOCSTN_MODEL_DIR"
                if directory is None
                else "expected a folder with model.safetensors and config.json"
            )
            raise ModelUnavailableError(f"no model at {d}: {hint}")
        try:
            model, config = load_checkpoint(d, device=kwargs.get("device", "cpu"))
        except CheckpointError as e:
            raise ModelUnavailableError(str(e)) from None
        version = str(config.get("train", {}).get("version") or "") or _file_digest(d / "model.safetensors")
        return cls(model, name=kwargs.pop("name", None) or d.name, version=version, **kwargs)

    def close(self) -> None:
        """Stop the micro-batcher thread."""
        self._batcher.close()

    @property
    def info(self) -> dict:
        """``{"name", "version", "transform", "input_size"}`` for responses and /readyz."""
        h, w = self.config.input_size
        return {"name": self.name, "version": self.version, "transform": self.kind, "input_size": [w, h]}

    # ------------------------------------------------------------------ stages
    def decode(self, data: bytes) -> np.ndarray:
        """Bytes -> (H, W, 3) RGB uint8, EXIF-upright; raises :class:`~stn.imageio.ImageError`."""
        return decode_image(data, max_pixels=self.max_pixels)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (C, h, w) float32 in [0, 1] at the net's input size (cv2.INTER_AREA)."""
        h, w = self.config.input_size
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        if self.config.in_channels == 1:
            small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)[..., None]
        return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) / 255.0

    def _predict_arrays(self, arrays: list[np.ndarray]) -> list[_Pred]:
        out: list[_Pred] = []
        for start in range(0, len(arrays), self.max_batch):
            x = np.stack(arrays[start : start + self.max_batch])  # (B, C, h, w)
            with self._lock:
                theta, corners, conf, *logits = self._run(x)
            theta, corners = theta.astype(np.float64), corners.astype(np.float64)
            labels = [self.config.labels[i] for i in logits[0].argmax(axis=1)] if logits else [None] * len(theta)
            out += [_Pred(theta[i], corners[i], float(conf[i]), labels[i]) for i in range(theta.shape[0])]
        return out

    def predict(self, images: list[np.ndarray]) -> list[_Pred]:
        """Predict θ for full-resolution images, directly in batches of ``max_batch`` (no batcher)."""
        return self._predict_arrays([self.prepare(im) for im in images])

    def finish(
        self,
        image: np.ndarray,
        pred: _Pred,
        *,
        width: int | None = None,
        height: int | None = None,
        fmt: str = "png",
        include_crop: bool = True,
        timings: dict[str, float] | None = None,
    ) -> RectifyResult:
        """Map a prediction to full resolution, warp and encode."""
        timings = dict(timings or {})
        h_in, w_in = image.shape[:2]
        corners_px = norm_to_px(torch.from_numpy(pred.corners_norm), (h_in, w_in)).numpy()  # (4, 2)
        h_out, w_out = crop_size(corners_px, width, height, max_side=self.max_side)
        theta_t = torch.from_numpy(pred.theta).reshape(1, -1)
        m = self.transform.matrix_px(theta_t, (h_in, w_in), (h_out, w_out))[0].numpy()
        crop = None
        t0 = time.perf_counter()
        if include_crop:
            warped = warp_image(
                image,
                pred.theta,
                self.transform,
                (h_out, w_out),
                interpolation=self.interpolation,
                padding=self.padding,
                matrix_px=m,
            )
            t1 = time.perf_counter()
            timings["warp"] = (t1 - t0) * 1000
            crop = encode_image(warped, fmt, quality=self.quality)
            timings["encode"] = (time.perf_counter() - t1) * 1000
        else:
            timings["warp"] = timings["encode"] = 0.0
        return RectifyResult(
            transform=self.kind,
            theta=theta_rows(pred.theta, self.kind),
            matrix_px=[[float(v) for v in row] for row in m],
            corners=[[round(float(x), 3), round(float(y), 3)] for x, y in corners_px],
            angle_deg=angle_deg(corners_px),
            confidence=round(pred.confidence, 6),
            label=pred.label,
            image_width=int(w_in),
            image_height=int(h_in),
            width=int(w_out),
            height=int(h_out),
            media_type=media_type(fmt),
            crop=crop,
            timings_ms=timings,
        )

    # ------------------------------------------------------------------ the whole pipeline
    def rectify(
        self,
        image: bytes | np.ndarray,
        *,
        width: int | None = None,
        height: int | None = None,
        fmt: str = "png",
        include_crop: bool = True,
    ) -> RectifyResult:
        """One image (encoded bytes or an RGB array) -> :class:`RectifyResult`; safe to call from many threads,
        whose predictions are batched together."""
        media_type(fmt)  # a clear ValueError for an unknown format, before any work
        t0 = time.perf_counter()
        with self._incoming_lock:
            self._incoming += 1
        try:
            img = self.decode(image) if isinstance(image, bytes | bytearray | memoryview) else _as_rgb(image)
            t1 = time.perf_counter()
            x = self.prepare(img)
        finally:
            with self._incoming_lock:
                self._incoming -= 1
        pred = self._batcher.submit(x).result()
        t2 = time.perf_counter()
        timings = {"decode": (t1 - t0) * 1000, "predict": (t2 - t1) * 1000}
        r = self.finish(img, pred, width=width, height=height, fmt=fmt, include_crop=include_crop, timings=timings)
        r.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        r.timings_ms = {k: round(v, 3) for k, v in r.timings_ms.items()}
        return r

    def rectify_many(self, images: list[bytes | np.ndarray], **options) -> list[RectifyResult | Exception]:
        """Many images with one batched prediction; a bad image gives its exception in its place."""
        t0 = time.perf_counter()
        decoded: list[np.ndarray | Exception] = []
        for im in images:
            try:
                decoded.append(self.decode(im) if isinstance(im, bytes | bytearray | memoryview) else _as_rgb(im))
            except _ITEM_ERRORS as e:
                decoded.append(e)
        good = [i for i, d in enumerate(decoded) if not isinstance(d, Exception)]
        t1 = time.perf_counter()
        preds = self.predict([decoded[i] for i in good]) if good else []
        t2 = time.perf_counter()
        per_image = {"decode": (t1 - t0) * 1000 / len(images), "predict": (t2 - t1) * 1000 / max(1, len(good))}
        out: list[RectifyResult | Exception] = list(decoded)  # exceptions stay in place
        for i, pred in zip(good, preds, strict=True):
            try:
                ts = time.perf_counter()
                r = self.finish(decoded[i], pred, timings=per_image, **options)
                r.timings_ms["total"] = per_image["decode"] + per_image["predict"] + (time.perf_counter() - ts) * 1000
                r.timings_ms = {k: round(v, 3) for k, v in r.timings_ms.items()}
                out[i] = r
            except _ITEM_ERRORS as e:
                out[i] = e
        return out


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"image: expected encoded bytes or a uint8 array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    raise ValueError(f"image: expected (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]
