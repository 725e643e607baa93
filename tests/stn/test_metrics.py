"""Metrics on hand-made quads, with values worked out by hand."""

import math

import numpy as np
import pytest

from stn.metrics import angle_error_deg, clip_polygon, corner_error, jaccard, orientation_correct, polygon_area

RECT = np.array([[0, 0], [4, 0], [4, 2], [0, 2]], float)  # 4 x 2, reading order


def test_jaccard_identical_and_any_corner_order():
    assert jaccard(RECT, RECT) == pytest.approx(1.0)
    assert jaccard(np.roll(RECT, 1, axis=0), RECT) == pytest.approx(1.0)  # order-free; orientation is apart
    assert jaccard(RECT[::-1], RECT) == pytest.approx(1.0)  # counter-clockwise listing too


def test_jaccard_shifted_and_nested():
    assert jaccard(RECT + np.array([2, 0]), RECT) == pytest.approx(4 / 12)  # overlap 2x2 = 4; union 8 + 8 - 4
    inner = np.array([[1, 0.5], [3, 0.5], [3, 1.5], [1, 1.5]], float)  # area 2 inside area 8
    assert jaccard(inner, RECT) == pytest.approx(0.25)
    assert jaccard(RECT, inner) == pytest.approx(0.25)
    assert jaccard(RECT + np.array([10, 0]), RECT) == 0.0


def test_jaccard_is_measured_in_the_document_frame():
    # a trapezoid ground truth (a page in perspective); the prediction is its top half in the page's own frame.
    gt = np.array([[2, 0], [6, 0], [8, 4], [0, 4]], float)
    # the page's mid-line in the document frame: the homography maps (u, 0.5) to the image point below
    import cv2

    h = cv2.getPerspectiveTransform(np.float32([[0, 0], [1, 0], [1, 1], [0, 1]]), gt.astype(np.float32)).astype(float)
    mid = np.c_[np.array([[1, 0.5], [0, 0.5]]), np.ones(2)] @ h.T
    mid = mid[:, :2] / mid[:, 2:]
    top_half = np.array([gt[0], gt[1], mid[0], mid[1]])
    assert jaccard(top_half, gt) == pytest.approx(0.5)  # half the page in its own frame
    # in image pixels the top half covers less than half of the trapezoid's area: the two measures differ
    assert polygon_area(top_half) / polygon_area(gt) < 0.5


def test_jaccard_degenerate_predictions_score_zero():
    bowtie = np.array([[0, 0], [4, 2], [4, 0], [0, 2]], float)
    assert jaccard(bowtie, RECT) == 0.0
    assert jaccard(np.full((4, 2), np.nan), RECT) == 0.0


def test_clip_and_area():
    tri = np.array([[-1, 0.5], [2, 0.5], [0.5, 2]], float)
    clipped = clip_polygon(tri)
    assert polygon_area(clipped) == pytest.approx(0.5)  # inside the box the triangle spans [0, 1] x [0.5, 1]


def test_corner_error_orientation_angle():
    assert corner_error(RECT + np.array([3, 4]), RECT) == pytest.approx(5.0)
    assert orientation_correct(RECT + 0.4, RECT)
    assert not orientation_correct(np.roll(RECT, 1, axis=0), RECT)
    upside_down = np.roll(RECT, 2, axis=0)  # TL where BR is
    assert not orientation_correct(upside_down, RECT)
    assert angle_error_deg(upside_down, RECT) == pytest.approx(180.0)
    rotated = np.array([[0, 0], [math.cos(0.1), -math.sin(0.1)], [1, 1], [0, 1]])
    assert angle_error_deg(rotated, RECT) == pytest.approx(math.degrees(0.1))
