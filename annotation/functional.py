"""Pure numpy/OpenCV functions for synthetic photos: backgrounds, document placement, compositing, lighting.

Convention (DESIGN.md §2): images are RGB uint8 (H, W, 3); points are (x, y) pixel coordinates with (0, 0) the
centre of the top-left pixel; quads are TL, TR, BR, BL in the document's upright reading order. Homographies
map page pixels to photo pixels and are used with ``cv2.warpPerspective`` (which uses the same pixel-centre
convention), so a page's outer corners ``rect_corners(w, h)`` land exactly on the returned quad.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from annotation.geometry import rect_corners, signed_area

__all__ = [
    "add_noise",
    "apply_photometric",
    "blur",
    "composite_page",
    "decode_image",
    "drop_shadow",
    "jpeg_encode",
    "lighting_gain",
    "place_quad",
    "random_background",
    "random_warp_matrix",
    "shadow_gain",
    "shrink",
    "warp_image",
]


def random_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A varied but not adversarial background (desk, wood, fabric, clutter), darker than paper.

    Drawn at a quarter of the size and upscaled, so it is smooth and cheap. Mean luminance stays below ~190 so
    that a near-white page stands out.
    """
    sw, sh = max(4, width // 4), max(4, height // 4)
    kind = int(rng.integers(0, 4))
    base = rng.uniform(15, 175, size=3)
    if rng.random() < 0.7:  # mostly greyish or brownish tones
        base = np.full(3, base.mean()) + rng.uniform(-25, 25, size=3)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, size=2) * 40 / max(sw, sh)
    ramp = (xx * gx + yy * gy)[..., None]  # (sh, sw, 1)
    if kind == 1:  # wood grain: warped stripes
        freq = rng.uniform(0.15, 0.6)
        phase = rng.uniform(0, 6.28)
        warp = 3 * np.sin(xx * rng.uniform(0.02, 0.1) + phase)
        stripes = 18 * np.sin((yy + warp) * freq)[..., None]
        img = base + ramp + stripes
    elif kind == 2:  # fabric / tiles
        period = int(rng.integers(2, 8))
        checker = (((xx // period) + (yy // period)) % 2)[..., None] * rng.uniform(10, 35)
        img = base + ramp + checker
    else:
        img = base + ramp + rng.normal(0, 6, size=(sh, sw, 1)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if kind == 3:  # clutter: a few objects lying on the desk, never paper-white
        for _ in range(int(rng.integers(1, 5))):
            color = tuple(int(c) for c in rng.integers(0, 190, size=3))
            c = (int(rng.integers(0, sw)), int(rng.integers(0, sh)))
            if rng.random() < 0.5:
                axes = (int(rng.integers(2, sw // 3 + 3)), int(rng.integers(2, sh // 3 + 3)))
                cv2.ellipse(img, c, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
            else:
                d = (int(rng.integers(3, sw // 2 + 4)), int(rng.integers(3, sh // 2 + 4)))
                cv2.rectangle(img, c, (c[0] + d[0], c[1] + d[1]), color, -1)
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)


def place_quad(
    doc_aspect: float,
    width: int,
    height: int,
    rng: np.random.Generator,
    *,
    max_rotation_deg: float = 180.0,
    perspective: float = 0.08,
    area_range: tuple[float, float] = (0.25, 0.75),
    inside: bool = True,
    margin: float = 2.0,
) -> np.ndarray:
    """Where a document of aspect ``doc_aspect`` (w/h) lands in a ``width`` x ``height`` photo.

    Returns the quad (4, 2) TL, TR, BR, BL in photo pixel coordinates: a rectangle with each corner
    jittered by up to ``perspective`` of the document's size (a camera tilt), rotated by an angle uniform
    in ±``max_rotation_deg`` (counter-clockwise positive on screen), scaled to cover a fraction of the
    frame drawn from ``area_range`` and placed at random. With ``inside`` the whole quad stays ``margin``
    px inside the image (the scale shrinks when the drawn area cannot fit).
    """
    w, h = doc_aspect, 1.0
    quad = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    quad += rng.uniform(-perspective, perspective, size=(4, 2)) * np.array([w, h])
    a = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    # counter-clockwise on screen (y down): x' = x cos a + y sin a, y' = -x sin a + y cos a
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    quad = quad @ rot.T
    target = rng.uniform(*area_range) * width * height
    scale = np.sqrt(target / abs(signed_area(quad)))
    ext = quad.max(axis=0) - quad.min(axis=0)  # (2,) bounding box size at scale 1
    avail = np.array([width - 1 - 2 * margin, height - 1 - 2 * margin])
    if inside:
        scale = min(scale, float(np.min(avail / ext)))
    quad = quad * scale
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    size = np.array([width, height], dtype=np.float64)
    if inside:  # every corner within [-0.5 + margin, size - 0.5 - margin]
        low, high = -0.5 + margin - lo, size - 0.5 - margin - hi
    else:  # the quad's centre anywhere in the frame
        low, high = -(lo + hi) / 2, size - (lo + hi) / 2
    offset = np.array([rng.uniform(low[0], max(low[0], high[0])), rng.uniform(low[1], max(low[1], high[1]))])
    return quad + offset


def composite_page(page: np.ndarray, quad: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``page`` onto ``background`` (in place) so that its outer corners land on ``quad``.

    Returns (photo, H) where H (3x3) maps page pixels to photo pixels:
    ``H @ rect_corners(page_w, page_h)`` equals ``quad`` exactly (up to float rounding).
    """
    ph, pw = page.shape[:2]
    H = cv2.getPerspectiveTransform(rect_corners(pw, ph).astype(np.float32), quad.astype(np.float32))
    h, w = background.shape[:2]
    cv2.warpPerspective(page, H, (w, h), dst=background, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    return background, H


def _gain_to_image(image: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Multiply ``image`` by a low-resolution gain map (h, w, 1 or 3), upscaled smoothly (saturating)."""
    h, w = image.shape[:2]
    g = np.clip(gain * 128.0, 0, 255).astype(np.uint8)
    g = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)
    if g.ndim == 2:
        g = cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)
    return cv2.multiply(image, g, scale=1.0 / 128.0)


def drop_shadow(image: np.ndarray, quad: np.ndarray, rng: np.random.Generator, strength: float = 0.45) -> np.ndarray:
    """Darken a soft, slightly offset copy of ``quad``: the shadow a page casts on the desk."""
    h, w = image.shape[:2]
    f = 4
    mask = np.zeros((h // f + 1, w // f + 1), np.uint8)
    off = rng.uniform(-1, 1, size=2) * 0.02 * max(w, h)
    pts = ((quad + off + 0.5) / f).round().astype(np.int32)
    cv2.fillConvexPoly(mask, pts, 255)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
    gain = 1.0 - (strength * rng.uniform(0.5, 1.0) / 255.0) * mask.astype(np.float32)
    return _gain_to_image(image, gain)


def shadow_gain(width: int, height: int, rng: np.random.Generator, strength: float = 0.4) -> np.ndarray:
    """A soft random polygonal shadow (a hand or phone between lamp and page) as a gain map at 1/8 size."""
    f = 8
    sw, sh = width // f + 1, height // f + 1
    mask = np.zeros((sh, sw), np.uint8)
    n = int(rng.integers(3, 7))
    cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
    r = rng.uniform(0.2, 0.6) * max(sw, sh)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    pts = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], axis=1).round().astype(np.int32)
    cv2.fillPoly(mask, [pts], 255)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(1.0, 4.0))
    return (1.0 - (strength * rng.uniform(0.4, 1.0) / 255.0) * mask.astype(np.float32))[..., None]


def lighting_gain(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Uneven illumination (a linear ramp), a global gain and a colour cast, as a gain map at 1/8 size."""
    f = 8
    sw, sh = width // f + 1, height // f + 1
    gain = rng.uniform(0.75, 1.1)
    cast = 1.0 + rng.uniform(-0.06, 0.06, size=3)
    gx, gy = rng.uniform(-0.25, 0.25, size=2)
    ramp_x = 1.0 + gx * (np.arange(sw, dtype=np.float32) / max(1, sw - 1) - 0.5)
    ramp_y = 1.0 + gy * (np.arange(sh, dtype=np.float32) / max(1, sh - 1) - 0.5)
    return ramp_y[:, None, None] * ramp_x[None, :, None] * (gain * cast).astype(np.float32)  # (sh, sw, 3)


def apply_photometric(
    image: np.ndarray, rng: np.random.Generator, *, shadow: bool = True, lighting: bool = True
) -> np.ndarray:
    """Apply a random cast shadow (with probability 0.4) and lighting in one multiplication."""
    h, w = image.shape[:2]
    gain = np.ones((h // 8 + 1, w // 8 + 1, 1), np.float32)
    if shadow and rng.random() < 0.4:
        gain = gain * shadow_gain(w, h, rng)
    if lighting:
        gain = gain * lighting_gain(w, h, rng)
    return _gain_to_image(image, gain)


def blur(image: np.ndarray, rng: np.random.Generator, max_sigma: float = 1.2) -> np.ndarray:
    """Gaussian defocus or a short linear motion blur."""
    if rng.random() < 0.7:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, max_sigma))
    k = int(rng.integers(3, 6))
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(image, -1, kernel)


@functools.cache
def _noise_bank() -> np.ndarray:
    """A fixed bank of Gaussian noise stored as 128 + 16·N(0, 1) in uint8, drawn once per process."""
    g = np.random.default_rng(12345)
    return np.clip(128 + g.normal(0, 16, size=(512, 512, 3)), 0, 255).astype(np.uint8)


def add_noise(image: np.ndarray, rng: np.random.Generator, max_sigma: float = 6.0) -> np.ndarray:
    """Sensor noise of standard deviation up to ``max_sigma``: a random window of a fixed noise bank."""
    h, w = image.shape[:2]
    bank = _noise_bank()
    bh, bw = bank.shape[:2]
    y0, x0 = int(rng.integers(0, bh)), int(rng.integers(0, bw))
    if y0 + h > bh or x0 + w > bw:
        bank = np.tile(bank, (-(-(y0 + h) // bh), -(-(x0 + w) // bw), 1))
    window = bank[y0 : y0 + h, x0 : x0 + w]
    alpha = rng.uniform(0.0, max_sigma) / 16.0
    return cv2.addWeighted(image, 1.0, window, alpha, -128.0 * alpha)


def jpeg_encode(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB uint8 image at ``quality`` (1-100)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` (H, W[, C]) resized (INTER_AREA) so that its longer side is at most ``max_side``; as is when it
    already fits."""
    h, w = image.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def decode_image(data: bytes) -> np.ndarray:
    """RGB uint8 image from JPEG (or any OpenCV-readable) bytes; ValueError when they do not decode."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("cannot decode image bytes")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def random_warp_matrix(
    width: int,
    height: int,
    rng: np.random.Generator,
    *,
    rotate: float = 180.0,
    perspective: float = 0.06,
    scale: tuple[float, float] = (0.8, 1.1),
    translate: float = 0.1,
) -> np.ndarray:
    """A random photo-to-photo homography (3x3, input pixel -> output pixel, same size).

    A camera tilt (each image corner moved by up to ``perspective`` of the image size), then a rotation by an
    angle uniform in ±``rotate`` degrees (counter-clockwise on screen) and a scale about the image centre
    ((W-1)/2, (H-1)/2), then a shift of up to ``translate`` of the image size. Pixel-centre convention, as
    ``cv2.warpPerspective`` uses, so ``transform_points(M, corners)`` is exact.
    """
    src = rect_corners(width, height)
    dst = src + rng.uniform(-perspective, perspective, size=(4, 2)) * np.array([width, height])
    tilt = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
    a = np.deg2rad(rng.uniform(-rotate, rotate))
    s = rng.uniform(*scale)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    tx, ty = rng.uniform(-translate, translate, size=2) * np.array([width, height])
    # about the centre: x' = s (x cos a + y sin a), y' = s (-x sin a + y cos a), counter-clockwise on screen
    sim = np.array(
        [
            [s * np.cos(a), s * np.sin(a), 0.0],
            [-s * np.sin(a), s * np.cos(a), 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    to_origin = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx + tx], [0.0, 1.0, cy + ty], [0.0, 0.0, 1.0]])
    M = back @ sim @ to_origin @ tilt
    return M / M[2, 2]


def warp_image(image: np.ndarray, matrix: np.ndarray, width: int, height: int, fill: int = 0) -> np.ndarray:
    """``cv2.warpPerspective`` with ``matrix`` (input pixel -> output pixel), constant border ``fill``.

    A point p of the input lands at ``transform_points(matrix, p)`` of the output (pixel-centre convention).
    """
    return cv2.warpPerspective(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(fill, fill, fill),
    )
