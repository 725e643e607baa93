"""The inference engine with small real checkpoints: geometry against OpenCV, decoding, batching, the CLI."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from service.cli import main as docstn
from stn.imageio import CorruptImageError, TooManyPixelsError, UnsupportedImageError, decode_image
from stn.inference import Engine, MicroBatcher, ModelUnavailableError
from tests.support import TILTED, UPSIDE_DOWN, encode, make_checkpoint, photo


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    return {
        "identity": make_checkpoint(root / "identity"),
        "upside_down": make_checkpoint(root / "upside_down", theta=UPSIDE_DOWN),
        "tilted": make_checkpoint(root / "tilted", theta=TILTED),
        "varied": make_checkpoint(root / "varied", seed=1),
    }


@pytest.fixture
def engine_of(ckpts):
    engines = []

    def make(name, **kwargs):
        engines.append(Engine.from_checkpoint(ckpts[name], **kwargs))
        return engines[-1]

    yield make
    for e in engines:
        e.close()


def test_identity_model_returns_the_photo(engine_of):
    img = photo(160, 120)
    r = engine_of("identity").rectify(encode(img), fmt="png")
    assert r.corners == [[-0.5, -0.5], [159.5, -0.5], [159.5, 119.5], [-0.5, 119.5]]
    assert r.angle_deg == 0.0 and (r.width, r.height) == (160, 120) and (r.image_width, r.image_height) == (160, 120)
    assert r.media_type == "image/png" and r.transform == "projective"
    np.testing.assert_allclose(np.array(r.matrix_px), np.eye(3), atol=1e-9)
    crop = decode_image(r.crop)
    assert np.abs(crop.astype(int) - img.astype(int)).max() <= 1
    assert set(r.timings_ms) == {"decode", "predict", "warp", "encode", "total"}


def test_upside_down_page(engine_of):
    img = photo(160, 120)
    r = engine_of("upside_down").rectify(img, fmt="png")
    assert r.angle_deg == 180.0
    np.testing.assert_allclose(r.corners[0], [159.5, 119.5], atol=1e-3)  # TL of the page: bottom right of the photo
    np.testing.assert_allclose(r.corners[2], [-0.5, -0.5], atol=1e-3)
    crop = decode_image(r.crop)
    assert np.abs(crop.astype(int) - img[::-1, ::-1].astype(int)).max() <= 1


def test_tilted_page_matches_opencv_and_corners(engine_of):
    img = photo(200, 130, seed=3)  # asymmetric: an x/y swap or half-pixel shift fails
    r = engine_of("tilted").rectify(encode(img, "PNG"), width=90, height=70, fmt="png")
    assert (r.width, r.height) == (90, 70)
    m = np.array(r.matrix_px)
    ref = cv2.warpPerspective(img, m, (90, 70), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    assert np.abs(decode_image(r.crop).astype(int) - ref.astype(int)).max() <= 1
    # the crop's outer corners land on the reported corners
    crop_corners = np.array([[-0.5, -0.5, 1], [89.5, -0.5, 1], [89.5, 69.5, 1], [-0.5, 69.5, 1]]).T
    p = m @ crop_corners
    np.testing.assert_allclose((p[:2] / p[2]).T, r.corners, atol=1e-2)
    assert -180 < r.angle_deg <= 180 and r.angle_deg != 0


def test_derived_crop_size_keeps_aspect_and_is_capped(engine_of):
    img = photo(300, 100)
    e = engine_of("identity", max_side=150)
    r = e.rectify(img, fmt="jpeg")
    assert (r.width, r.height) == (150, 50) and r.crop[:2] == b"\xff\xd8"
    r = e.rectify(img, width=60, fmt="webp")
    assert (r.width, r.height) == (60, 20) and r.crop[8:12] == b"WEBP"
    r = e.rectify(img, include_crop=False)
    assert r.crop is None and (r.width, r.height) == (150, 50)


def test_exif_orientation_is_honoured(engine_of):
    img = photo(160, 120)
    data = encode(img, "JPEG", exif_orientation=6, quality=95)  # 6: display rotated 90° clockwise
    upright = decode_image(data)
    assert upright.shape == (160, 120, 3)

    def diff(a, b):  # mean difference of blurred images (JPEG noise averages out)
        return np.abs(cv2.blur(a, (5, 5)).astype(float) - cv2.blur(np.ascontiguousarray(b), (5, 5))).mean()

    assert diff(upright, np.rot90(img, k=-1)) * 2 < diff(upright, np.rot90(img, k=1))  # not the other way round
    r = engine_of("identity").rectify(data)
    assert (r.image_width, r.image_height) == (120, 160) and (r.width, r.height) == (120, 160)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", UnsupportedImageError),
        (b"%PDF-1.4 definitely not a photo", UnsupportedImageError),
        (encode(photo(40, 30), "GIF"), UnsupportedImageError),
        (encode(photo(90, 80), "PNG")[:300], CorruptImageError),
        (encode(photo(90, 80), "JPEG")[:400], CorruptImageError),
        (encode(photo(120, 100), "PNG"), TooManyPixelsError),
    ],
    ids=["empty", "pdf", "gif", "truncated-png", "truncated-jpeg", "too-many-pixels"],
)
def test_bad_images_raise_typed_errors(engine_of, data, error):
    e = engine_of("identity", max_pixels=10_000)
    with pytest.raises(error) as info:
        e.rectify(data)
    assert info.value.status in (413, 415, 422) and info.value.code


def test_concurrent_callers_are_batched_and_get_their_own_result(engine_of):
    e = engine_of("varied", max_batch=8, batch_wait_ms=50)
    imgs = [photo(120 + 8 * i, 90 + 5 * i, seed=i) for i in range(12)]
    alone = [Engine.predict(e, [im])[0] for im in imgs]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda im: e.rectify(im, include_crop=False), imgs))
    many = e.rectify_many(imgs, include_crop=False)
    for a, r, m in zip(alone, results, many, strict=True):
        np.testing.assert_allclose(np.array(r.theta).reshape(-1)[:8], a.theta, atol=1e-5)
        np.testing.assert_allclose(r.corners, m.corners, atol=0.01)  # batches may be cut differently: float noise
    assert len({json.dumps(r.corners) for r in results}) == 12  # θ really depends on the photo


def test_micro_batcher_groups_concurrent_items_and_propagates_errors():
    sizes = []
    gate = threading.Event()

    def fn(items):
        gate.wait(5)
        sizes.append(len(items))
        if "boom" in items:
            raise RuntimeError("boom")
        return [i * 2 for i in items]

    b = MicroBatcher(fn, max_batch=4, max_wait_s=0.2)
    try:
        futs = [b.submit(i) for i in range(6)]
        time.sleep(0.05)
        gate.set()
        assert [f.result(timeout=5) for f in futs] == [0, 2, 4, 6, 8, 10]
        assert sizes == [4, 2]
        bad = b.submit("boom")
        with pytest.raises(RuntimeError, match="boom"):
            bad.result(timeout=5)
    finally:
        b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.submit(1)


def test_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelUnavailableError, match="no model at"):
        Engine.from_checkpoint(tmp_path / "nothing")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelUnavailableError, match="invalid JSON"):
        Engine.from_checkpoint(tmp_path / "broken")


def test_rectify_cli_writes_crops_and_json(ckpts, tmp_path):
    good = tmp_path / "page.jpg"
    good.write_bytes(encode(photo(160, 120), "JPEG"))
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        docstn, ["rectify", str(good), str(bad), "--out", str(out), "--json", "--model", str(ckpts["upside_down"])]
    )
    assert res.exit_code == 1, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert lines[0]["angle_deg"] == 180.0 and lines[0]["model"]["name"] == "upside_down"
    assert lines[1]["error"]["code"] == "unsupported_media_type"
    assert decode_image((out / "page.png").read_bytes()).shape == (120, 160, 3)
    assert json.loads((out / "page.json").read_text())["corners"] == lines[0]["corners"]


def test_micro_batcher_waits_only_for_callers_on_their_way():
    sizes = []

    def fn(items):
        sizes.append(len(items))
        return items

    expected = {"n": 0}
    b = MicroBatcher(fn, max_batch=8, max_wait_s=30, incoming=lambda: expected["n"])
    try:
        assert b.submit("alone").result(timeout=5) == "alone"  # nobody on the way: no 30 s wait
        expected["n"] = 1  # a second caller is decoding
        first = b.submit("a")
        time.sleep(0.05)
        second = b.submit("b")
        expected["n"] = 0
        assert (first.result(timeout=5), second.result(timeout=5)) == ("a", "b")
        assert sizes == [1, 2]
    finally:
        b.close()
