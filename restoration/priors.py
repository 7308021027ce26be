"""Structure and texture priors of a damaged image, computed from its intact pixels only.

Seed 000 guides its diffusion inpainter with two deterministic priors: a structure prior (edges
and stroke-like contours) and a texture prior (grain and surface). The structure prior follows
seed 001's recipe: grayscale, Gaussian blur, gradients with non-maximum suppression, then
F = 0.10 Gabor + 0.10 HOG + 0.25 LBP + 0.55 edge magnitude, plus hysteresis edges of F.

Both priors are pure functions of (image, mask) that never read a damaged pixel: the structure
features are computed on the image and then cleared wherever their support reached into the
damage (the mask dilated by the filters' radius); the texture statistics are normalised
convolutions over intact pixels only, so they extend the surrounding texture into the hole. No
Django, no torch: the engine, the training loop and the tests call these directly.
"""

from __future__ import annotations

import cv2
import numpy as np

STRUCTURE_CHANNELS = 2
"""Fused feature F (seed 001) and its hysteresis edges, both in [0, 1]."""

TEXTURE_CHANNELS = 8
"""Local mean colour (3), local contrast (1) and Gabor energy at 4 orientations (4), in [0, 1]."""

# Weights of seed 001's fused structure feature.
W_GABOR, W_HOG, W_LBP, W_EDGE = 0.10, 0.10, 0.25, 0.55
_BLUR_SIGMA = 1.0
# Support radius of the structure filters: nothing within it of a damaged pixel is kept.
_SUPPORT = 4
_GABOR_KSIZE = 9
_ORIENTATIONS = 4
_HOG_CELL = 4


def _check(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask must be {image.shape[:2]}, got {mask.shape}")
    damage = damage_strength(mask)
    # Damaged pixels are overwritten before any filter sees them: priors never read them.
    clean = image.astype(np.float32) / 255.0
    clean[damage > 0] = 0.0
    return clean, damage


def damage_strength(mask: np.ndarray) -> np.ndarray:
    """Damage strength in [0, 1], float32, from a bool mask, a 0-255 uint8 mask or a float mask."""
    if mask.dtype == bool:
        return mask.astype(np.float32)
    if np.issubdtype(mask.dtype, np.integer):
        return mask.astype(np.float32) / 255.0
    return np.clip(mask.astype(np.float32), 0.0, 1.0)


def _gabor_bank() -> list[np.ndarray]:
    kernels = []
    for k in range(_ORIENTATIONS):
        kernel = cv2.getGaborKernel(
            (_GABOR_KSIZE, _GABOR_KSIZE),
            sigma=2.0,
            theta=np.pi * k / _ORIENTATIONS,
            lambd=5.0,
            gamma=0.6,
            psi=0.0,
        ).astype(np.float32)
        kernels.append(kernel - kernel.mean())
    return kernels


_GABOR = _gabor_bank()


def _normalise(feature: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the 99th percentile over valid pixels (robust to a few outliers)."""
    values = feature[valid]
    if values.size == 0:
        return np.zeros_like(feature)
    top = float(np.percentile(values, 99))
    if top <= 1e-8:
        return np.zeros_like(feature)
    return np.clip(feature / top, 0.0, 1.0)


def _nms(magnitude: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Non-maximum suppression of the gradient magnitude across the edge (4 directions)."""
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    padded = np.pad(magnitude, 1, mode="edge")
    h, w = magnitude.shape

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    keep = np.zeros_like(magnitude, dtype=bool)
    for low, high, (dy, dx) in (
        (0, 22.5, (0, 1)),
        (157.5, 180.1, (0, 1)),
        (22.5, 67.5, (1, 1)),
        (67.5, 112.5, (1, 0)),
        (112.5, 157.5, (1, -1)),
    ):
        band = (angle >= low) & (angle < high)
        local_max = (magnitude >= shifted(dy, dx)) & (magnitude >= shifted(-dy, -dx))
        keep |= band & local_max
    return np.where(keep, magnitude, 0.0).astype(np.float32)


def _lbp(gray: np.ndarray) -> np.ndarray:
    """Uniform local binary pattern (8 neighbours, radius 1), as the share of changing bits."""
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern((gray * 255).astype(np.uint8), P=8, R=1, method="uniform")
    # Uniform codes 0..8 count set bits; 9 is "non-uniform" (busy texture): map to [0, 1]
    # so that flat regions are 0 and edges/corners/busy grain are high.
    bits = np.where(codes > 8, 4.0, np.minimum(codes, 8 - codes))
    return (bits / 4.0).astype(np.float32)


def _hog_energy(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Per-pixel HOG energy: the dominant oriented-gradient bin of each cell, upsampled.

    A cell with one strong orientation (a contour) scores high, an isotropic or flat cell low.
    """
    h, w = gx.shape
    magnitude = np.hypot(gx, gy)
    angle = (np.arctan2(gy, gx) % np.pi) / np.pi * 9
    bins = np.minimum(angle.astype(np.int32), 8)
    ch, cw = max(1, h // _HOG_CELL), max(1, w // _HOG_CELL)
    histogram = np.zeros((9, ch, cw), np.float32)
    for b in range(9):
        energy = np.where(bins == b, magnitude, 0.0).astype(np.float32)
        histogram[b] = cv2.resize(energy, (cw, ch), interpolation=cv2.INTER_AREA)
    dominant = histogram.max(axis=0) - histogram.mean(axis=0)
    return cv2.resize(dominant, (w, h), interpolation=cv2.INTER_LINEAR)


def structure_prior(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Seed 001's structure prior over the intact pixels: (H, W, 2) float32 in [0, 1].

    Channel 0 is F = 0.10 Gabor + 0.10 HOG + 0.25 LBP + 0.55 NMS edge magnitude, channel 1 its
    hysteresis edges (Canny-style thresholds at 0.2 and 0.4 of F). Both are 0 on damaged
    pixels and within the filters' support of them, so damaged values never leak in.
    image: (H, W, 3) uint8 RGB; mask: (H, W) bool, uint8 0-255 or float 0-1, >0 = damaged.
    """
    clean, damage = _check(image, mask)
    gray = cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY)
    gray = cv2.GaussianBlur(gray, (0, 0), _BLUR_SIGMA)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    edge = _nms(np.hypot(gx, gy), gx, gy)
    gabor = np.max([np.abs(cv2.filter2D(gray, cv2.CV_32F, k)) for k in _GABOR], axis=0)
    hog = _hog_energy(gx, gy)
    lbp = _lbp(gray)

    reach = cv2.dilate(
        (damage > 0).astype(np.uint8),
        cv2.getStructuringElement(cv2.MORPH_RECT, (2 * _SUPPORT + 1, 2 * _SUPPORT + 1)),
    )
    valid = reach == 0
    fused = (
        W_GABOR * _normalise(gabor, valid)
        + W_HOG * _normalise(hog, valid)
        + W_LBP * lbp
        + W_EDGE * _normalise(edge, valid)
    )
    fused = np.where(valid, fused, 0.0).astype(np.float32)
    edges = _hysteresis(fused, low=0.2, high=0.4)
    return np.stack([fused, edges.astype(np.float32)], axis=-1)


def _hysteresis(feature: np.ndarray, *, low: float, high: float) -> np.ndarray:
    """Pixels above `low` connected (8-neighbour) to a pixel above `high`."""
    weak = (feature >= low).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    strong_labels = np.unique(labels[feature >= high])
    keep = np.zeros(count, dtype=bool)
    keep[strong_labels] = True
    keep[0] = False
    return keep[labels]


def texture_prior(image: np.ndarray, mask: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """Texture statistics of the intact surroundings, carried into the damage: (H, W, 8) float32.

    Normalised convolution (blur of value x intact weight over blur of the weight) at scale
    `sigma` (default: 1/16 of the shorter side, at least 4 px) gives, at every pixel, the local
    mean colour (3 channels), the local contrast (standard deviation of gray, 1) and the local
    Gabor energy at 4 orientations (4) of nearby intact pixels. Where no intact pixel is within
    reach the statistics fall back to the image-wide intact average. All channels in [0, 1].
    """
    clean, damage = _check(image, mask)
    h, w = damage.shape
    weight = 1.0 - damage
    sigma = sigma or max(4.0, min(h, w) / 16.0)
    gray = cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY)
    # Gabor responses on intact pixels only: responses whose support touched damage are dropped.
    reach = cv2.dilate(
        (damage > 0).astype(np.uint8),
        cv2.getStructuringElement(cv2.MORPH_RECT, (_GABOR_KSIZE, _GABOR_KSIZE)),
    )
    local_weight = weight * (reach == 0)
    channels = [clean[..., c] for c in range(3)]
    channels.append(gray)
    channels.append(gray * gray)
    for kernel in _GABOR:
        channels.append(np.abs(cv2.filter2D(gray, cv2.CV_32F, kernel)))
    stacked = np.stack(channels, axis=-1)
    weights = np.stack([weight] * 5 + [local_weight] * _ORIENTATIONS, axis=-1)

    def smooth(array: np.ndarray) -> np.ndarray:
        out = cv2.GaussianBlur(array, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        return out if out.ndim == 3 else out[..., None]

    numerator = smooth(stacked * weights)
    denominator = smooth(weights.astype(np.float32))
    totals = (stacked * weights).reshape(-1, stacked.shape[-1]).sum(0)
    counts = weights.reshape(-1, weights.shape[-1]).sum(0)
    fallback = np.where(counts > 0, totals / np.maximum(counts, 1e-6), 0.0)
    enough = denominator > 1e-3
    stats = np.where(enough, numerator / np.maximum(denominator, 1e-6), fallback)
    mean_rgb = stats[..., 0:3]
    contrast = np.sqrt(np.maximum(stats[..., 4] - stats[..., 3] ** 2, 0.0))
    gabor = stats[..., 5:]
    out = np.concatenate(
        [mean_rgb, np.clip(contrast * 4.0, 0, 1)[..., None], np.clip(gabor * 4.0, 0, 1)], axis=-1
    )
    return np.clip(out, 0.0, 1.0).astype(np.float32)
