"""Reinhard colour transfer, KID, edge SSIM and the deception rate's interval."""

import cv2
import numpy as np
import pytest

from restoration.style import measure


def _scene(seed: int, size: int = 64) -> np.ndarray:
    """A random but structured RGB picture: smooth colour fields plus a few rectangles."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(4):
        x, y = rng.integers(0, size - 16, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(image, (int(x), int(y)), (int(x) + 12, int(y) + 12), colour, -1)
    return image


def test_reinhard_moves_lab_mean_and_spread_to_the_target():
    source = _scene(0)
    target = measure.palette([_scene(1), _scene(2)])
    moved = measure.lab_statistics(measure.reinhard(source, target))
    before = measure.lab_statistics(source)
    for channel in range(3):
        # uint8 rounding and clipping leave a little error; the source was far off.
        assert moved.mean[channel] == pytest.approx(target.mean[channel], abs=1.5)
        assert moved.std[channel] == pytest.approx(target.std[channel], rel=0.1, abs=1.0)
    assert max(abs(b - t) for b, t in zip(before.mean, target.mean, strict=True)) > 3


def test_reinhard_keeps_shape_and_refuses_float_images():
    source = _scene(3, size=40)[:30]
    out = measure.reinhard(source, measure.lab_statistics(_scene(4)))
    assert out.shape == source.shape and out.dtype == np.uint8
    with pytest.raises(ValueError, match="uint8"):
        measure.reinhard(source.astype(np.float32), measure.lab_statistics(_scene(4)))


def test_palette_round_trips_through_json_and_rejects_garbage():
    target = measure.palette([_scene(5)])
    assert measure.Palette.from_json(target.as_json()) == target
    with pytest.raises(ValueError):
        measure.Palette.from_json({"mean": [1, 2]})


def test_kid_is_near_zero_for_one_distribution_and_larger_for_a_shifted_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 16))
    same = rng.normal(size=(60, 16))
    shifted = rng.normal(loc=0.8, size=(60, 16))
    near = measure.kid(x, same, resamples=200)
    far = measure.kid(x, shifted, resamples=200)
    assert abs(near.value) < 0.05
    assert near.low <= 0 <= near.high
    assert far.value > 10 * max(abs(near.value), 0.01)
    assert far.low > near.high
    assert far.low <= far.value <= far.high


def test_kid_of_a_set_with_an_identical_copy_is_small_next_to_a_shift():
    # Unbiased: an identical copy scores slightly below 0 (its self-pairs count across the sets).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 8))
    same = measure.kid(x, x.copy(), resamples=50).value
    shifted = measure.kid(x, x + 0.8, resamples=50).value
    assert same <= 0
    assert abs(same) < shifted / 5


def test_kid_rejects_mismatched_or_tiny_sets():
    with pytest.raises(ValueError, match="features"):
        measure.kid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="two"):
        measure.kid(np.zeros((1, 3)), np.zeros((5, 3)))


def test_edge_ssim_is_one_for_identical_and_lower_for_blurred():
    image = _scene(6, size=96)
    blurred = cv2.GaussianBlur(image, (0, 0), 3)
    assert measure.edge_ssim(image, image) == pytest.approx(1.0)
    assert measure.edge_ssim(image, blurred) < 0.9
    # A colour change that keeps every edge keeps most of the score.
    recoloured = measure.reinhard(image, measure.lab_statistics(_scene(7)))
    assert measure.edge_ssim(image, recoloured) > measure.edge_ssim(image, blurred)


def test_edge_ssim_refuses_different_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        measure.edge_ssim(_scene(0, 64), _scene(0, 32))


def test_deception_interval_contains_the_rate():
    estimate, hits, total = measure.deception_rate([0.9, 0.2, 0.6, 0.5, 0.1])
    assert (hits, total) == (3, 5)
    assert estimate.value == pytest.approx(0.6)
    assert estimate.low < 0.6 < estimate.high
    assert 0 <= estimate.low and estimate.high <= 1
    none, _, _ = measure.deception_rate([0.0] * 20)
    assert none.value == 0 and none.low == 0 and 0 < none.high < 0.2


def test_deception_rejects_empty_or_out_of_range():
    with pytest.raises(ValueError, match="at least one"):
        measure.deception_rate([])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        measure.deception_rate([1.5])
    with pytest.raises(ValueError):
        measure.wilson_interval(3, 2)
