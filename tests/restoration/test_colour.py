"""Tests for restoration.engines.colour: tone matching of restored regions to their ring."""

import numpy as np
import pytest

from restoration.engines.colour import colour_correct


def _grain(height: int, width: int, colour: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 8, (height, width, 3))
    return np.clip(np.array(colour, float) + noise, 0, 255).astype(np.uint8)


def test_a_colour_cast_is_pulled_to_the_ring_mean():
    original = _grain(80, 80, (120, 110, 100))
    mask = np.zeros((80, 80), bool)
    mask[30:50, 30:50] = True
    restored = original.copy()
    # The engine painted the right texture with a red cast and too bright.
    cast = original[mask].astype(int) + (50, 10, -20)
    restored[mask] = np.clip(cast, 0, 255).astype(np.uint8)
    corrected = colour_correct(original, restored, mask)
    ring = np.zeros_like(mask)
    ring[15:65, 15:65] = True
    ring &= ~mask
    before = np.abs(restored[mask].mean(axis=0) - original[ring].mean(axis=0))
    after = np.abs(corrected[mask].mean(axis=0) - original[ring].mean(axis=0))
    assert before.max() > 15
    assert after.max() < 2
    assert np.array_equal(corrected[~mask], restored[~mask])


def test_each_region_is_matched_to_its_own_ring():
    original = np.concatenate([_grain(60, 60, (40, 60, 160)), _grain(60, 60, (170, 60, 40))], 1)
    mask = np.zeros((60, 120), bool)
    mask[20:40, 20:40] = mask[20:40, 80:100] = True
    restored = original.copy()
    restored[mask] = (128, 128, 128)  # a flat grey fill: only the means can move
    corrected = colour_correct(original, restored, mask, ring=10)
    left, right = (
        corrected[20:40, 20:40].mean(axis=(0, 1)),
        corrected[20:40, 80:100].mean(axis=(0, 1)),
    )
    assert np.allclose(left, (40, 60, 160), atol=4)
    assert np.allclose(right, (170, 60, 40), atol=4)


def test_gains_are_clipped_so_flat_rings_do_not_erase_the_region_texture():
    original = np.full((60, 60, 3), 100, np.uint8)
    mask = np.zeros((60, 60), bool)
    mask[20:40, 20:40] = True
    restored = original.copy()
    restored[mask] = _grain(60, 60, (100, 100, 100), seed=1)[mask]
    corrected = colour_correct(original, restored, mask)
    # Full matching would flatten the region (ring spread 0); the gain floor of 0.5 keeps half.
    ratio = corrected[mask].astype(float).std() / restored[mask].astype(float).std()
    assert 0.4 < ratio < 0.6


def test_a_region_without_enough_intact_ring_is_left_alone():
    original = _grain(40, 40, (90, 90, 90))
    mask = np.ones((40, 40), bool)
    mask[0, :3] = False  # three intact pixels: too few to trust
    restored = _grain(40, 40, (200, 30, 30), seed=2)
    assert np.array_equal(colour_correct(original, restored, mask), restored)


def test_an_empty_mask_changes_nothing():
    image = _grain(20, 20, (90, 90, 90))
    corrected = colour_correct(image, image, np.zeros((20, 20), bool))
    assert np.array_equal(corrected, image) and corrected is not image


def test_mismatched_shapes_are_refused():
    image = _grain(20, 20, (90, 90, 90))
    with pytest.raises(ValueError, match="shapes differ"):
        colour_correct(image, image, np.zeros((20, 21), bool))
    with pytest.raises(ValueError, match="ring must be at least 1"):
        colour_correct(image, image, np.zeros((20, 20), bool), ring=0)
