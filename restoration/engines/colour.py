"""Colour correction: match each restored region's tone to the intact ring around it (seed 004)."""

# Seed 004 trains a network for this stage; matching Lab mean and spread to the surrounding
# ring is the classical equivalent and needs no weights.

from __future__ import annotations

import cv2
import numpy as np

# Per-channel spread gains outside this range mean the ring and the region are different
# materials (a dark figure next to pale ground), where full matching would invent contrast.
MIN_GAIN, MAX_GAIN = 0.5, 2.0
# Fewer ring pixels than this give too noisy a mean to correct towards.
MIN_RING = 8


def _lab(image: np.ndarray) -> np.ndarray:
    """float32 Lab (L 0-100, a/b about -128..127) of an RGB uint8 image."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def colour_correct(
    original: np.ndarray, restored: np.ndarray, mask: np.ndarray, *, ring: int = 15
) -> np.ndarray:
    """Shift and scale each damaged region's Lab mean and spread to those of its intact ring.

    original, restored: (H, W, 3) uint8 RGB; mask: (H, W) bool, True = damaged. For each
    8-connected damaged region, the ring is the intact pixels within `ring` pixels (an
    elliptical dilation of the region, minus all damage). Each Lab channel of the region's
    restored pixels is mapped x -> (x - mean_region) * gain + mean_ring with
    gain = std_ring / std_region clipped to [0.5, 2]; regions whose ring has fewer than 8
    pixels are left as restored. Returns a new (H, W, 3) uint8 RGB array equal to `restored`
    outside the mask. Raises ValueError for mismatched shapes or a ring under 1.
    """
    if original.shape != restored.shape or original.shape[:2] != mask.shape:
        raise ValueError(
            f"shapes differ: original {original.shape}, restored {restored.shape}, "
            f"mask {mask.shape}"
        )
    if ring < 1:
        raise ValueError(f"ring must be at least 1 pixel, got {ring}")
    mask = np.asarray(mask, dtype=bool)
    result = restored.copy()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return result
    source, target = _lab(original), _lab(restored)
    height, width = mask.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        rows = slice(max(0, y - ring), min(height, y + h + ring))
        cols = slice(max(0, x - ring), min(width, x + w + ring))
        region = labels[rows, cols] == label
        near = cv2.dilate(region.astype(np.uint8), kernel).astype(bool)
        around = near & ~mask[rows, cols]
        if np.count_nonzero(around) < MIN_RING:
            continue
        inside = target[rows, cols][region]
        reference = source[rows, cols][around]
        mean_in, std_in = inside.mean(axis=0), inside.std(axis=0)
        mean_ref, std_ref = reference.mean(axis=0), reference.std(axis=0)
        # A flat region (std ~ 0) has no spread to scale; only its mean moves.
        gain = np.where(std_in > 1e-3, std_ref / np.maximum(std_in, 1e-3), 1.0)
        gain = np.clip(gain, MIN_GAIN, MAX_GAIN)
        corrected = (inside - mean_in) * gain + mean_ref
        rgb = cv2.cvtColor(corrected[None].astype(np.float32), cv2.COLOR_Lab2RGB)[0]
        patch = result[rows, cols]
        patch[region] = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return result
