"""Tests for heritage.segment: click-to-segment damaged patches."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from heritage import segment as seg

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _iou(mask: np.ndarray, truth: np.ndarray) -> float:
    found = mask > 127
    return float((found & truth).sum() / (found | truth).sum())


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Ochre plaster: noise plus stripes, so the flood cannot rely on a flat background."""
    columns = np.arange(size)
    stripes = 15 * np.sin(columns / size * 25)[None, :, None]
    return np.array([150, 110, 70]) + rng.normal(0, 10, (size, size, 3)) + stripes


def _paint(image: np.ndarray, where: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = image.copy()
    image[where] = np.array([225, 220, 205]) + rng.normal(0, 6, (int(where.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _blob(size: int) -> np.ndarray:
    """An irregular patch: overlapping ellipses, as a flaked-off area of plaster looks."""
    blob = np.zeros((size, size), np.uint8)
    s = size / 256
    for centre, axes, angle in [
        ((110, 120), (45, 25), 20),
        ((150, 140), (35, 30), -30),
        ((120, 165), (20, 28), 0),
    ]:
        cv2.ellipse(
            blob,
            (round(centre[0] * s), round(centre[1] * s)),
            (round(axes[0] * s), round(axes[1] * s)),
            angle,
            0,
            360,
            1,
            -1,
        )
    return blob > 0


@pytest.mark.parametrize("size", [256, 1024])
def test_segment_one_click_recovers_an_irregular_patch(size):
    rng = np.random.default_rng(0)
    truth = _blob(size)
    image = _paint(_background(size, rng), truth, rng)
    mask = seg.segment(image, positive=[(size * 120 // 256, size * 130 // 256)])
    assert mask.shape == (size, size) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    assert _iou(mask, truth) > 0.8


def test_segment_two_clicks_recover_two_separate_patches():
    rng = np.random.default_rng(1)
    truth = np.zeros((300, 300), bool)
    truth[40:100, 30:120] = True
    truth[180:260, 150:280] = True
    image = _paint(_background(300, rng), truth, rng)
    one = seg.segment(image, positive=[(60, 70)])
    two = seg.segment(image, positive=[(60, 70), (200, 220)])
    assert _iou(one, truth) < 0.5
    assert _iou(two, truth) > 0.8


def test_segment_negative_click_excludes_a_similar_neighbouring_patch():
    rng = np.random.default_rng(5)
    left = np.zeros((512, 512), np.uint8)
    right = np.zeros((512, 512), np.uint8)
    cv2.circle(left, (150, 256), 80, 1, -1)
    cv2.circle(right, (370, 256), 80, 1, -1)
    joined = (left | right) > 0
    joined[252:260, 220:301] = True  # a thin crack of the same colour joins them
    image = _paint(_background(512, rng), joined, rng)

    without = seg.segment(image, positive=[(150, 256)])
    assert (without[right > 0] > 127).mean() > 0.9

    mask = seg.segment(image, positive=[(150, 256)], negative=[(370, 256)])
    assert (mask[right > 0] > 127).mean() < 0.05
    assert _iou(mask, left > 0) > 0.8


def test_segment_is_deterministic():
    rng = np.random.default_rng(2)
    image = _paint(_background(400, rng), _blob(400), rng)
    first = seg.segment(image, positive=[(190, 200)], negative=[(20, 20)])
    assert np.array_equal(first, seg.segment(image, positive=[(190, 200)], negative=[(20, 20)]))


def test_segment_always_marks_the_clicked_pixels():
    image = np.random.default_rng(3).integers(0, 256, (90, 700, 3), dtype=np.uint8)
    clicks = [(0, 0), (699, 89), (350, 45)]
    mask = seg.segment(image, positive=clicks, tolerance=5)
    assert all(mask[y, x] == 255 for x, y in clicks)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positive": [(60, 10)]}, r"positive click \(60, 10\) is outside the 60x50 image"),
        ({"positive": [(5, 5)], "negative": [(0, -1)]}, "negative click .* is outside"),
        ({"positive": []}, "at least one positive click"),
        ({"positive": [(1, 1)] * 11}, "at most 10 clicks"),
        ({"positive": [(1.5, 2)]}, "pairs of integers"),
        ({"positive": [(3, 3)], "negative": [(3, 3)]}, "both a positive and a negative"),
        ({"positive": [(3, 3)], "tolerance": 256}, "tolerance must be in 0..255"),
    ],
)
def test_segment_refuses_bad_clicks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        seg.segment(np.zeros((50, 60, 3), np.uint8), **kwargs)


@pytest.mark.parametrize(
    "image", [np.zeros((50, 60), np.uint8), np.zeros((50, 60, 4), np.uint8), np.zeros((5, 5, 3))]
)
def test_segment_refuses_images_that_are_not_rgb_uint8(image):
    with pytest.raises(ValueError, match="image must"):
        seg.segment(image, positive=[(1, 1)])


@pytest.mark.skipif(not (DATA / "photos").is_dir(), reason="shared test data absent")
def test_segment_on_a_large_real_photo_marks_clicks_and_spares_negatives():
    # Speed on such photos is measured in bench/segment.py, not here.
    photo = Image.open(DATA / "photos" / "photo_kodak_kodim06.png").convert("RGB")
    image = np.asarray(photo.resize((1024, 1024)))
    mask = seg.segment(image, positive=[(500, 500), (100, 900)], negative=[(10, 10)])
    assert mask.shape == (1024, 1024)
    assert mask[500, 500] == 255 and mask[900, 100] == 255 and mask[10, 10] == 0
