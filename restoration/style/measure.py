"""Measures of style transfer: Reinhard colour transfer, KID, edge SSIM and the deception rate.

Pure numpy/OpenCV/scikit-image/SciPy, no torch: features for KID come from elsewhere (the style
classifier's penultimate layer, `restoration.style.classifier.features`).

- Reinhard et al. 2001 colour transfer, in OpenCV's CIE Lab (float32 conversion: L 0-100, a and
  b about -128..127): each channel is shifted and scaled to the target's mean and standard
  deviation. The training-free baseline of seed 003's style task and a negative of the classifier.
- KID (Binkowski et al. 2018): squared MMD with the cubic polynomial kernel
  k(x, y) = (x.y / d + 1)^3, unbiased estimator; its 95% interval is a percentile bootstrap that
  resamples both sets and leaves out the pairs of a resampled point with its own copies (so the
  bootstrap statistic stays the unbiased one).
- Content preservation: SSIM of the Sobel gradient-magnitude maps of input and output (greyscale,
  3x3 Sobel, each map divided by its own 99th percentile and clipped to [0, 1]).
- Deception rate: share of images the classifier assigns to the target style, with a Wilson 95%
  interval (SciPy's binomtest).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.stats import binomtest
from skimage.metrics import structural_similarity

__all__ = [
    "Estimate",
    "Palette",
    "deception_rate",
    "edge_map",
    "edge_ssim",
    "kid",
    "lab_statistics",
    "palette",
    "reinhard",
    "square",
    "wilson_interval",
]

# Standard deviations below this (a flat channel) are not divided by: the channel is only shifted.
_FLAT = 1e-3


@dataclass(frozen=True)
class Palette:
    """Mean and standard deviation of each Lab channel (L, a, b), OpenCV float32 scale."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def as_json(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict) -> Palette:
        """Raises ValueError unless data holds three means and three standard deviations."""
        try:
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a palette: {data!r}") from exc
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"a palette has three means and three spreads, got {data!r}")
        return cls(mean, std)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Estimate:
    """A measured value with its 95% interval [low, high]."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _check_rgb(image: np.ndarray, name: str = "image") -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}")


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def lab_statistics(image: np.ndarray) -> Palette:
    """The Lab mean and standard deviation of one (H, W, 3) uint8 RGB image. Raises ValueError."""
    _check_rgb(image)
    pixels = _lab(image).reshape(-1, 3).astype(np.float64)
    return Palette(tuple(pixels.mean(axis=0)), tuple(pixels.std(axis=0)))  # type: ignore[arg-type]


def palette(images: list[np.ndarray]) -> Palette:
    """The pooled Lab mean and standard deviation of all pixels of `images` (the style palette).

    Raises ValueError for an empty list or an image that is not (H, W, 3) uint8.
    """
    if not images:
        raise ValueError("a palette needs at least one image")
    total = np.zeros(3)
    squares = np.zeros(3)
    count = 0
    for image in images:
        _check_rgb(image)
        pixels = _lab(image).reshape(-1, 3).astype(np.float64)
        total += pixels.sum(axis=0)
        squares += (pixels**2).sum(axis=0)
        count += len(pixels)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return Palette(tuple(mean), tuple(std))  # type: ignore[arg-type]


def reinhard(image: np.ndarray, target: Palette) -> np.ndarray:
    """Reinhard colour transfer of an (H, W, 3) uint8 RGB image to the `target` Lab palette.

    Each Lab channel x becomes (x - mean) * target.std / std + target.mean (a flat channel is
    only shifted); the result is converted back and clipped to uint8 RGB, same shape.
    Raises ValueError for a bad image.
    """
    _check_rgb(image)
    lab = _lab(image)
    pixels = lab.reshape(-1, 3).astype(np.float64)
    mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    gain = np.where(std > _FLAT, np.asarray(target.std) / np.maximum(std, _FLAT), 1.0)
    moved = (lab - mean) * gain + np.asarray(target.mean)
    # Keep L and a/b inside the ranges OpenCV's inverse conversion expects.
    moved[..., 0] = np.clip(moved[..., 0], 0.0, 100.0)
    moved[..., 1:] = np.clip(moved[..., 1:], -127.0, 127.0)
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray, sx=None, sy=None) -> float:
    """Unbiased MMD^2 from kernel matrices; sx/sy (resampled indices) drop pairs of a point
    with itself or its bootstrap copies."""
    n, m = len(kxx), len(kyy)
    same_x = np.eye(n, dtype=bool) if sx is None else sx[:, None] == sx[None, :]
    same_y = np.eye(m, dtype=bool) if sy is None else sy[:, None] == sy[None, :]
    within_x = kxx[~same_x].mean()
    within_y = kyy[~same_y].mean()
    return float(within_x + within_y - 2.0 * kxy.mean())


def kid(x: np.ndarray, y: np.ndarray, *, resamples: int = 1000, seed: int = 0) -> Estimate:
    """Kernel inception distance between feature sets x (n, d) and y (m, d), with a 95% interval.

    The value is the unbiased squared MMD with the cubic polynomial kernel on all features; the
    interval is the 2.5-97.5 percentile of `resamples` bootstrap estimates (both sets resampled
    with replacement, identical draws excluded from the within-set sums). Raises ValueError for
    sets of fewer than two rows each, different widths or non-finite values.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n, d) and (m, d), got {x.shape} and {y.shape}")
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"KID needs at least two feature rows per set, got {len(x)}, {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("features must be finite")
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    value = _mmd2(kxx, kyy, kxy)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        sx = rng.integers(0, len(x), len(x))
        sy = rng.integers(0, len(y), len(y))
        # At least two distinct draws per set, or the within-set mean is empty.
        if len(np.unique(sx)) < 2 or len(np.unique(sy)) < 2:
            continue
        draws.append(_mmd2(kxx[np.ix_(sx, sx)], kyy[np.ix_(sy, sy)], kxy[np.ix_(sx, sy)], sx, sy))
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (value, value)
    return Estimate(value, float(low), float(high))


def edge_map(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the greyscale image, scaled by its 99th percentile to [0, 1].

    image: (H, W, 3) uint8 RGB. Returns (H, W) float32; an image without gradient gives zeros.
    """
    _check_rgb(image)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    scale = float(np.percentile(magnitude, 99))
    if scale <= 1e-6:
        scale = float(magnitude.max())
    if scale <= 1e-6:
        return np.zeros_like(magnitude)
    return np.clip(magnitude / scale, 0.0, 1.0)


def edge_ssim(source: np.ndarray, output: np.ndarray) -> float:
    """SSIM (scikit-image, 7x7 windows) of the Sobel edge maps of two same-size RGB images.

    1 for identical images, lower the less of the source's structure survives.
    Raises ValueError for different shapes or images that are not (H, W, 3) uint8 of at least
    7 x 7 pixels.
    """
    _check_rgb(source, "source")
    _check_rgb(output, "output")
    if source.shape != output.shape:
        raise ValueError(f"shapes differ: source {source.shape}, output {output.shape}")
    if min(source.shape[:2]) < 7:
        raise ValueError(f"images must be at least 7 x 7 pixels, got {source.shape[:2]}")
    return float(structural_similarity(edge_map(source), edge_map(output), data_range=1.0))


def wilson_interval(hits: int, total: int) -> tuple[float, float]:
    """The Wilson score 95% interval of the proportion hits/total. Raises ValueError."""
    if total < 1 or not 0 <= hits <= total:
        raise ValueError(f"need 0 <= hits <= total and total >= 1, got {hits}/{total}")
    interval = binomtest(hits, total).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


def deception_rate(probabilities, *, threshold: float = 0.5) -> tuple[Estimate, int, int]:
    """The share of style probabilities at or above `threshold`, its Wilson interval, hits, total.

    probabilities: the classifier's target-style probability per stylized image, each in [0, 1].
    Raises ValueError for an empty list or values outside [0, 1].
    """
    values = np.asarray(probabilities, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no probabilities: the deception rate needs at least one image")
    if not (np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()):
        raise ValueError("probabilities must lie in [0, 1]")
    hits = int((values >= threshold).sum())
    low, high = wilson_interval(hits, values.size)
    return Estimate(hits / values.size, low, high), hits, int(values.size)


def square(image: np.ndarray, side: int = 512) -> np.ndarray:
    """The centre side x side crop of the image resized so its shorter side is `side`.

    image: (H, W, 3) uint8 RGB; returns a new (side, side, 3) uint8 array. Raises ValueError.
    """
    _check_rgb(image)
    height, width = image.shape[:2]
    scale = side / min(height, width)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    resized = cv2.resize(
        image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )
    top, left = (size[1] - side) // 2, (size[0] - side) // 2
    return np.ascontiguousarray(resized[top : top + side, left : left + side])
