import hashlib

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from annotation.geometry import angle_deg, rect_corners
from annotation.pages import CLASSES
from annotation.records import read_manifest
from annotation.synth import SynthConfig, generate, render_sample


def test_same_seed_same_bytes_other_seed_differs():
    a, b, c = render_sample(7), render_sample(7), render_sample(8)
    assert a.image.tobytes() == b.image.tobytes() and a.jpeg == b.jpeg
    np.testing.assert_array_equal(a.corners, b.corners)
    assert a.image.tobytes() != c.image.tobytes()


def test_sample_contract_defaults():
    for seed in range(30):
        s = render_sample(seed)
        assert s.image.shape == (480, 640, 3) and s.image.dtype == np.uint8
        assert s.corners.shape == (4, 2) and s.corners.dtype == np.float64
        assert s.label in CLASSES
        assert s.angle_deg == pytest.approx(angle_deg(s.corners))
        x, y = s.corners[:, 0], s.corners[:, 1]
        assert x.min() >= -0.5 and x.max() <= 639.5 and y.min() >= -0.5 and y.max() <= 479.5
        area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
        assert 0.05 * 640 * 480 < area <= 0.76 * 640 * 480
        # clockwise on screen: TL, TR, BR, BL in reading order
        assert np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y) > 0


def test_rotation_covers_full_circle():
    angles = np.array([render_sample(s).angle_deg for s in range(200)])
    assert angles.min() < -150 and angles.max() > 150
    assert (np.abs(angles) > 90).mean() > 0.3


def _rectify(s, w=200, h=280):
    H = cv2.getPerspectiveTransform(rect_corners(w, h).astype(np.float32), s.corners.astype(np.float32))
    return cv2.warpPerspective(s.image, H, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


@pytest.mark.parametrize("label", ["invoice", "id_card"])
def test_corners_are_exact_and_in_reading_order(label):
    """Rectifying with the recorded corners gives an upright page: the dark header band is at the top."""
    cfg = SynthConfig(classes=(label,), blur=False, noise=False, jpeg=False, shadows=False, lighting=False)
    for seed in range(10):
        s = render_sample(seed, cfg)
        page = _rectify(s).astype(np.float32).mean(axis=2)
        top, bottom = page[8:20].mean(), page[-60:-30].mean()
        assert top < bottom - 30, (seed, top, bottom)
        # the border of the rectified page is paper or header, never background: corners are on the page edge
        inner = _rectify(s, 100, 140)
        assert inner.shape == (140, 100, 3)


def test_exact_corners_against_plain_background():
    """On a flat background, pixels just inside each corner are page, just outside are background."""
    cfg = SynthConfig(
        background=False,
        shadows=False,
        lighting=False,
        blur=False,
        noise=False,
        jpeg=False,
        classes=("book_page",),
    )
    s = render_sample(3, cfg)
    c = s.corners
    centre = c.mean(axis=0)
    for p in c:
        d = (centre - p) / np.linalg.norm(centre - p)
        inside = np.round(p + 3 * d).astype(int)
        outside = np.round(p - 3 * d).astype(int)
        if 0 <= outside[0] < 640 and 0 <= outside[1] < 480:
            assert s.image[outside[1], outside[0]].mean() == pytest.approx(60, abs=1)
        assert s.image[inside[1], inside[0]].mean() > 150


def test_config_is_validated():
    with pytest.raises(ValidationError, match="unknown classes"):
        SynthConfig(classes=("poster",))
    with pytest.raises(ValidationError, match="area_range"):
        SynthConfig(area_range=(0.8, 0.2))
    with pytest.raises(ValidationError):
        SynthConfig(max_rotation_deg=270)


def test_generate_is_deterministic_and_independent_of_workers(tmp_path):
    cfg = SynthConfig(width=160, height=120)
    m1 = generate(tmp_path / "a", 6, seed=3, config=cfg, workers=1, progress=False)
    m2 = generate(tmp_path / "b", 6, seed=3, config=cfg, workers=2, progress=False)
    recs, errors = read_manifest(m1)
    assert errors == [] and len(recs) == 6
    assert m1.read_text() == m2.read_text()
    for r in recs:
        data1 = r.path(tmp_path / "a").read_bytes()
        assert hashlib.sha256(data1).digest() == hashlib.sha256(r.path(tmp_path / "b").read_bytes()).digest()
        assert r.label in CLASSES and (r.width, r.height) == (160, 120)
        img = cv2.imread(str(r.path(tmp_path / "a")))
        assert img.shape == (120, 160, 3)


def _scans(folder, n=2):
    """Upright 'scans': white pages with a red block in the top-left quarter and a blue one at the bottom."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = 300 + 60 * i, 500
        img = np.full((h, w, 3), 255, np.uint8)
        img[: h // 4, : w // 2] = (255, 0, 0)  # RGB red: top left
        img[-h // 6 :, :] = (0, 0, 255)  # blue: bottom band
        cv2.imwrite(str(folder / f"scan{i}.png"), img[..., ::-1])
    (folder / "notes.txt").write_text("not a scan")
    return folder


def test_real_scans_are_composited_upright_with_exact_corners(tmp_path):
    pages = _scans(tmp_path / "scans")
    cfg = SynthConfig(pages=str(pages), pages_fraction=1.0, blur=False, noise=False, jpeg=False, lighting=False)
    for seed in range(8):
        s = render_sample(seed, cfg)
        assert s.label is None  # a scan has no class
        page = _rectify(s, 100, 160).astype(int)
        r, g, b = page[10:30, 10:40].mean(axis=(0, 1))
        assert r > 150 and g < 90 and b < 90, (seed, r, g, b)  # red block at the top left: TL is the scan's TL
        r, g, b = page[-12:-4, 20:80].mean(axis=(0, 1))
        assert b > 150 and r < 90, (seed, r, g, b)  # blue band at the bottom
        sides = np.linalg.norm(np.roll(s.corners, -1, axis=0) - s.corners, axis=1)
        aspect = (sides[0] + sides[2]) / (sides[1] + sides[3])
        assert aspect == pytest.approx(300 / 500, rel=0.15) or aspect == pytest.approx(360 / 500, rel=0.15)
    assert render_sample(5, cfg).image.tobytes() == render_sample(5, cfg).image.tobytes()


def test_pages_fraction_mixes_scans_and_procedural_pages(tmp_path):
    cfg = SynthConfig(pages=str(_scans(tmp_path / "scans")), pages_fraction=0.5, width=160, height=120)
    labels = [render_sample(seed, cfg).label for seed in range(40)]
    assert 8 < labels.count(None) < 32 and all(x in CLASSES for x in labels if x is not None)
    none = SynthConfig(pages=cfg.pages, pages_fraction=0.0, width=160, height=120)
    assert all(render_sample(seed, none).label in CLASSES for seed in range(10))


def test_pages_folder_is_validated(tmp_path):
    with pytest.raises(ValidationError, match="not a folder"):
        SynthConfig(pages=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ValidationError, match=r"no \.jpg"):
        SynthConfig(pages=str(tmp_path / "empty"))
    (tmp_path / "empty" / "junk.jpg").write_text("not a jpeg")
    with pytest.raises(ValidationError, match=r"not images: junk\.jpg"):
        SynthConfig(pages=str(tmp_path / "empty"))
