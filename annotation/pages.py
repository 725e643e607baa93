"""Procedural document pages: pure numpy/OpenCV functions, one per class.

Every layout carries strong cues of which way is up, so that a small CNN can learn the orientation: a dark
header band, logo or title block at the top, left-aligned text lines with ragged right ends, and a footer,
signature, barcode or machine-readable zone at the bottom. Pages are drawn directly at the size they will have
in the photo (a few hundred pixels), with numpy slice fills for speed.

Convention: a page is an upright RGB uint8 array (H, W, 3); its outer corners TL, TR, BR, BL are
``annotation.geometry.rect_corners(W, H)``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["ASPECTS", "CLASSES", "render_page"]

# width / height of each class's page (a range is drawn uniformly)
ASPECTS: dict[str, tuple[float, float]] = {
    "letter": (0.70, 0.78),
    "invoice": (0.70, 0.72),
    "receipt": (0.34, 0.48),
    "id_card": (1.55, 1.62),
    "form": (0.70, 0.78),
    "book_page": (0.62, 0.68),
    "business_card": (1.65, 1.80),
}
CLASSES: tuple[str, ...] = tuple(ASPECTS)

Color = tuple[int, int, int]


def _ink(rng: np.random.Generator) -> Color:
    v = int(rng.integers(10, 70))
    tint = rng.integers(-10, 11, size=3)
    if rng.random() < 0.2:  # blue ink
        return (v // 2, v // 2, min(255, v + 90))
    return tuple(int(np.clip(v + t, 0, 255)) for t in tint)  # type: ignore[return-value]


def _accent(rng: np.random.Generator) -> Color:
    """A saturated, dark colour for header bands and logos (dark enough to contrast with paper)."""
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(120, 256), rng.integers(60, 160)]]])
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def _fill(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
    h, w = img.shape[:2]
    a, c = max(0, int(x0 + 0.5)), max(0, int(y0 + 0.5))
    b, d = min(w, max(int(x1 + 0.5), a + 1)), min(h, max(int(y1 + 0.5), c + 1))
    if a < b and c < d:
        img[c:d, a:b] = color


def _text_line(
    img: np.ndarray,
    x0: float,
    y: float,
    length: float,
    size: float,
    color: Color,
    rng: np.random.Generator,
) -> None:
    """A line of 'words': ink blocks of x-height ``size`` from ``x0`` (left-aligned), ``length`` px long.

    Some words get an ascender block so that lines are not symmetric top to bottom.
    """
    gap = max(1.0, size * 0.6)
    n = int(length / (size * 1.5 + gap)) + 1
    widths = size * rng.uniform(1.5, 6.0, size=n)
    ascender = rng.random(n) < 0.5
    x, end = x0, x0 + length
    for wlen, asc in zip(widths.tolist(), ascender.tolist(), strict=True):
        if x >= end - size:
            break
        wlen = min(end - x, wlen)
        _fill(img, x, y, x + wlen, y + size, color)
        if asc:  # ascender: taller stroke sticking up at a word's start
            _fill(img, x, y - size * 0.5, x + max(1.0, size * 0.35), y, color)
        x += wlen + gap


def _paragraph(
    img: np.ndarray,
    x0: float,
    y0: float,
    width: float,
    n_lines: int,
    pitch: float,
    size: float,
    color: Color,
    rng: np.random.Generator,
    y_max: float | None = None,
) -> float:
    """Left-aligned lines, ragged right, the last one shorter; returns the y after the paragraph."""
    y = y0
    for i in range(n_lines):
        if y_max is not None and y + size > y_max:
            break
        frac = float(rng.uniform(0.2, 0.6)) if i == n_lines - 1 else float(rng.uniform(0.8, 1.0))
        _text_line(img, x0, y, width * frac, size, color, rng)
        y += pitch
    return y


def _title(
    img: np.ndarray, text: str, x: float, y: float, height: float, color: Color, bold: int = 2
) -> None:
    """Hershey text with a cap height of about ``height`` px, baseline at ``y`` (glyphs have an up)."""
    scale = max(0.2, height / 22.0)
    thickness = max(1, round(scale * bold))
    cv2.putText(
        img, text, (round(x), round(y)), cv2.FONT_HERSHEY_DUPLEX, scale, color, thickness, cv2.LINE_AA
    )


def _signature(
    img: np.ndarray, x0: float, y0: float, w: float, h: float, color: Color, rng: np.random.Generator
):
    t = np.linspace(0, 1, 24)
    xs = x0 + t * w
    ys = y0 + h * (0.5 + 0.4 * np.sin(t * rng.uniform(8, 16) + rng.uniform(0, 6)) * (1 - t * 0.5))
    pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
    cv2.polylines(img, [pts], False, color, max(1, round(h / 12)), cv2.LINE_AA)


def _barcode(
    img: np.ndarray, x0: float, y0: float, w: float, h: float, color: Color, rng: np.random.Generator
):
    x = x0
    while x < x0 + w:
        bw = max(1.0, w / 90 * float(rng.integers(1, 4)))
        if rng.random() < 0.6:
            _fill(img, x, y0, x + bw, y0 + h, color)
        x += bw + max(1.0, w / 90)


def _letter(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink, accent = _ink(rng), _accent(rng)
    m = w * 0.09
    # logo block top-left, sender top-right
    _fill(img, m, h * 0.04, m + w * 0.16, h * 0.04 + w * 0.12, accent)
    _title(img, "ACME", m + w * 0.19, h * 0.04 + w * 0.09, w * 0.07, accent)
    size = max(1.5, h * 0.009)
    for i in range(3):
        _text_line(img, w * 0.62, h * 0.05 + i * size * 2.2, w * 0.28, size * 0.8, ink, rng)
    _fill(img, m, h * 0.14, w - m, h * 0.14 + max(1, h * 0.003), accent)
    # recipient block
    for i in range(4):
        _text_line(img, m, h * 0.19 + i * size * 2.4, w * float(rng.uniform(0.2, 0.35)), size, ink, rng)
    _text_line(img, w * 0.68, h * 0.31, w * 0.22, size, ink, rng)  # date, right
    _fill(img, m, h * 0.36, m + w * 0.5, h * 0.36 + size * 1.3, ink)  # subject, bold
    y = h * 0.41
    while y < h * 0.72:
        y = _paragraph(img, m, y, w - 2 * m, int(rng.integers(3, 7)), size * 2.3, size, ink, rng, h * 0.74)
        y += size * 2.0
    _signature(img, m, h * 0.78, w * 0.3, h * 0.06, _ink(rng), rng)
    _text_line(img, m, h * 0.87, w * 0.25, size, ink, rng)
    _fill(img, m, h * 0.93, w - m, h * 0.93 + max(1, h * 0.002), accent)
    _text_line(img, m, h * 0.95, w - 2 * m, size * 0.7, ink, rng)


def _invoice(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink, accent = _ink(rng), _accent(rng)
    m = w * 0.07
    _fill(img, 0, 0, w, h * 0.11, accent)  # dark header band, full width
    _title(img, "INVOICE", m, h * 0.085, h * 0.05, (250, 250, 250))
    size = max(1.5, h * 0.009)
    for i in range(4):
        _text_line(img, m, h * 0.15 + i * size * 2.4, w * 0.3, size, ink, rng)
        _text_line(img, w * 0.6, h * 0.15 + i * size * 2.4, w * 0.3, size, ink, rng)
    # table: header row then item rows with a right-aligned amount column
    top = h * 0.3
    _fill(img, m, top, w - m, top + size * 3, (200, 200, 200))
    _text_line(img, m + size, top + size, w * 0.3, size, ink, rng)
    rows = int(rng.integers(5, 12))
    pitch = min(size * 3, h * 0.4 / rows)
    for r in range(rows):
        y = top + size * 3.5 + r * pitch
        _text_line(img, m + size, y, w * float(rng.uniform(0.2, 0.45)), size, ink, rng)
        _text_line(img, w * 0.78, y, w * 0.13, size, ink, rng)
        _fill(img, m, y + size * 1.6, w - m, y + size * 1.6 + max(1, h * 0.0015), (180, 180, 180))
    # total box bottom-right, footer
    _fill(img, w * 0.55, h * 0.8, w - m, h * 0.86, accent)
    _fill(img, w * 0.57, h * 0.82, w * 0.75, h * 0.84, (250, 250, 250))
    _paragraph(img, m, h * 0.9, w - 2 * m, 2, size * 2, size * 0.7, ink, rng)


def _receipt(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink = _ink(rng)
    m = w * 0.08
    # logo block centred at the top, centred shop lines
    lw = w * float(rng.uniform(0.35, 0.6))
    _fill(img, (w - lw) / 2, h * 0.02, (w + lw) / 2, h * 0.02 + w * 0.18, ink)
    size = max(1.5, w * 0.025)
    for i in range(3):
        ll = w * float(rng.uniform(0.3, 0.6))
        _text_line(img, (w - ll) / 2, h * 0.02 + w * 0.24 + i * size * 2.4, ll, size, ink, rng)
    y = h * 0.02 + w * 0.24 + 4 * size * 2.4
    rows = int(rng.integers(6, 20))
    pitch = min(size * 2.3, (h * 0.72 - y) / rows)
    for _ in range(rows):
        _text_line(img, m, y, w * float(rng.uniform(0.25, 0.55)), size, ink, rng)
        _text_line(img, w * 0.72, y, w * 0.2, size, ink, rng)
        y += pitch
    for x in np.arange(m, w - m, size * 1.5):  # dashed separator
        _fill(img, x, y, x + size * 0.8, y + max(1, size * 0.3), ink)
    y += size * 1.5
    _fill(img, m, y, m + w * 0.3, y + size * 1.6, ink)  # TOTAL, bold
    _fill(img, w * 0.65, y, w - m, y + size * 1.6, ink)
    _barcode(img, m * 1.5, h * 0.84, w - 3 * m, h * 0.08, ink, rng)
    _text_line(img, w * 0.3, h * 0.95, w * 0.4, size * 0.8, ink, rng)


def _id_card(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink, accent = _ink(rng), _accent(rng)
    _fill(img, 0, 0, w, h * 0.2, accent)  # colour header band
    _title(img, "IDENTITY CARD", w * 0.05, h * 0.15, h * 0.09, (250, 250, 250))
    # photo box left with a head-and-shoulders silhouette (round head on top)
    x0, y0, x1, y1 = w * 0.05, h * 0.27, w * 0.3, h * 0.72
    _fill(img, x0, y0, x1, y1, (190, 195, 200))
    cx, r = (x0 + x1) / 2, (x1 - x0) * 0.22
    cv2.circle(
        img, (round(cx), round(y0 + (y1 - y0) * 0.35)), max(1, round(r)), (90, 90, 100), -1, cv2.LINE_AA
    )
    cv2.ellipse(
        img,
        (round(cx), round(y1)),
        (max(1, round((x1 - x0) * 0.4)), max(1, round((y1 - y0) * 0.3))),
        0,
        180,
        360,
        (90, 90, 100),
        -1,
        cv2.LINE_AA,
    )
    size = max(1.5, h * 0.035)
    for i in range(5):
        _text_line(
            img, w * 0.36, h * 0.3 + i * size * 2.3, w * float(rng.uniform(0.25, 0.55)), size, ink, rng
        )
    # machine-readable zone at the bottom
    _fill(img, 0, h * 0.78, w, h, (225, 225, 215))
    for i in range(2):
        _title(img, "IDD<<" + "<" * 20, w * 0.04, h * (0.87 + 0.1 * i), h * 0.06, ink, bold=1)


def _form(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink, accent = _ink(rng), _accent(rng)
    m = w * 0.08
    _title(img, "FORM", m, h * 0.07, h * 0.04, ink, bold=3)
    _barcode(img, w * 0.72, h * 0.03, w * 0.2, w * 0.2 * 0.5, ink, rng)  # code block top-right
    _fill(img, m, h * 0.1, w - m, h * 0.1 + max(2, h * 0.008), accent)
    size = max(1.5, h * 0.009)
    y = h * 0.15
    box_h = size * 3.2
    while y < h * 0.66:
        _text_line(img, m, y, w * 0.2, size, ink, rng)
        bx = m + w * 0.25
        cv2.rectangle(img, (round(bx), round(y - size)), (round(w - m), round(y - size + box_h)), ink, 1)
        y += box_h + size * 1.8
    # checkbox column, left
    for i in range(4):
        cy = h * 0.7 + i * size * 3
        cv2.rectangle(img, (round(m), round(cy)), (round(m + size * 2), round(cy + size * 2)), ink, 1)
        if rng.random() < 0.5:
            _fill(img, m + size * 0.5, cy + size * 0.5, m + size * 1.5, cy + size * 1.5, ink)
        _text_line(img, m + size * 3.5, cy + size * 0.5, w * float(rng.uniform(0.2, 0.45)), size, ink, rng)
    # signature line bottom right
    _signature(img, w * 0.55, h * 0.82, w * 0.3, h * 0.05, _ink(rng), rng)
    _fill(img, w * 0.52, h * 0.88, w - m, h * 0.88 + max(1, h * 0.002), ink)
    _text_line(img, m, h * 0.95, w * 0.5, size * 0.7, ink, rng)


def _book_page(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink = _ink(rng)
    m = w * 0.11
    size = max(1.5, h * 0.008)
    # running head and rule at the top, a chapter title, indented paragraphs, page number at the bottom
    _text_line(img, m, h * 0.05, w * 0.35, size * 0.8, ink, rng)
    _fill(img, m, h * 0.075, w - m, h * 0.075 + max(1, h * 0.002), ink)
    y = h * 0.1
    if rng.random() < 0.6:
        _title(img, "CHAPTER", m, h * 0.16, h * 0.035, ink)
        y = h * 0.21
    while y < h * 0.86:
        _text_line(img, m + size * 3, y, (w - 2 * m) * 0.95 - size * 3, size, ink, rng)  # indented first line
        y = _paragraph(
            img, m, y + size * 2.2, w - 2 * m, int(rng.integers(3, 9)), size * 2.2, size, ink, rng, h * 0.88
        )
    _title(img, str(int(rng.integers(1, 400))), w * 0.47, h * 0.95, h * 0.02, ink, bold=1)


def _business_card(img: np.ndarray, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    ink, accent = _ink(rng), _accent(rng)
    _fill(img, w * 0.06, h * 0.1, w * 0.06 + h * 0.3, h * 0.4, accent)  # logo top-left
    _title(img, "NAME SURNAME", w * 0.06, h * 0.6, h * 0.1, ink)
    size = max(1.5, h * 0.04)
    _text_line(img, w * 0.06, h * 0.68, w * 0.35, size * 0.8, ink, rng)
    for i in range(3):
        _text_line(img, w * 0.55, h * 0.7 + i * size * 1.9, w * 0.38, size * 0.8, ink, rng)
    _fill(img, 0, h * 0.92, w, h, accent)  # colour strip at the bottom


_LAYOUTS: dict[str, Callable[[np.ndarray, np.random.Generator], None]] = {
    "letter": _letter,
    "invoice": _invoice,
    "receipt": _receipt,
    "id_card": _id_card,
    "form": _form,
    "book_page": _book_page,
    "business_card": _business_card,
}


def render_page(label: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Draw an upright page of class ``label`` as an RGB uint8 array (height, width, 3).

    The paper is near-white with a slight tint; all randomness comes from ``rng``.
    """
    if label not in _LAYOUTS:
        raise ValueError(f"unknown document class {label!r}; known: {', '.join(CLASSES)}")
    base = rng.integers(228, 256)
    tint = rng.integers(-10, 3, size=3)
    paper = np.clip(base + tint, 0, 255).astype(np.uint8)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = paper
    _LAYOUTS[label](img, rng)
    return img
