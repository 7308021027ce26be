"""Quality metrics of a restored image against its ground truth, whole and damaged region only.

Inputs everywhere: ``reference`` and ``result`` are (H, W, 3) uint8 RGB arrays of the same shape;
``mask`` is an (H, W) bool array, True = damaged (the region the engine filled in).

Conventions, chosen so the numbers compare with the seed papers:

- MAE, MSE and TV are computed on images scaled to [0, 1] (seed 000 reports MAE 0.093, MSE 0.021
  on that scale). PSNR uses a data range of 255, which gives the same dB as [0, 1] with range 1.
- PSNR of identical images (MSE 0) is ``math.inf``. JSON has no infinity, so :func:`compute_all`
  (and :func:`as_json_number`) turn every non-finite value into ``None``: for ``psnr`` ``None``
  means "identical, infinite PSNR"; for ``haarpsi`` it means "undefined, neither image has any
  coarse-scale structure in the pooled region" (see :func:`haarpsi`). Nothing else can be ``None``.
- Region versions see the damaged pixels only, except for the context each method needs by its
  definition: SSIM and HaarPSI values at a damaged pixel come from windows that reach up to about
  5 (SSIM) and 9 (HaarPSI) pixels into the undamaged surroundings, and TV counts neighbour
  differences with at least one damaged end. Pixels farther away never change a region value.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = [
    "METRICS",
    "MetricInfo",
    "as_json_number",
    "compute_all",
    "haarpsi",
    "mae",
    "mse",
    "psnr",
    "ssim",
    "total_variation",
]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    unit: str
    # None: not a quality score (TV describes the result, seed 003: "not related to quality").
    higher_is_better: bool | None


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("psnr", "PSNR", "dB", True),
    MetricInfo("ssim", "SSIM", "", True),
    MetricInfo("haarpsi", "HaarPSI", "", True),
    MetricInfo("mae", "MAE", "[0, 1] scale", False),
    MetricInfo("mse", "MSE", "[0, 1] scale", False),
    MetricInfo("tv", "Total variation", "[0, 1] per neighbour pair", None),
)


def as_json_number(value: float) -> float | None:
    """Return ``value`` as a plain float, or None when it is inf or NaN (see the module notes)."""
    value = float(value)
    return value if math.isfinite(value) else None


# --- validation -----------------------------------------------------------------------------


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {image.shape}")


def _check_pair(reference: np.ndarray, result: np.ndarray) -> None:
    _check_image(reference, "reference")
    _check_image(result, "result")
    if reference.shape != result.shape:
        raise ValueError(f"reference and result shapes differ: {reference.shape} != {result.shape}")


def _check_mask(mask: np.ndarray, image_shape: tuple[int, ...]) -> None:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise ValueError("mask must be a bool numpy array (True = damaged)")
    if mask.shape != image_shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image_shape[:2]}")
    if not mask.any():
        raise ValueError("mask is empty: region metrics need at least one damaged pixel")


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) / 255.0


# --- pixel-wise errors ----------------------------------------------------------------------


def _squared_error(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None) -> float:
    diff = _unit(reference) - _unit(result)
    if mask is not None:
        diff = diff[mask]
    return float(np.mean(diff * diff))


def mae(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error on [0, 1]-scaled RGB, over all pixels or the masked ones.

    Raises ValueError for malformed images or mask.
    """
    _check_pair(reference, result)
    diff = np.abs(_unit(reference) - _unit(result))
    if mask is not None:
        _check_mask(mask, reference.shape)
        diff = diff[mask]
    return float(np.mean(diff))


def mse(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error on [0, 1]-scaled RGB, over all pixels or the masked ones.

    Raises ValueError for malformed images or mask.
    """
    _check_pair(reference, result)
    if mask is not None:
        _check_mask(mask, reference.shape)
    return _squared_error(reference, result, mask)


def psnr(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (data range 255); ``math.inf`` for identical pixels.

    The whole-image value is scikit-image's; the region value is 10 log10(255^2 / MSE) with the
    MSE over the masked pixels (all three channels). Raises ValueError for malformed input.
    """
    _check_pair(reference, result)
    if mask is not None:
        _check_mask(mask, reference.shape)
    return _psnr(reference, result, mask)


def _psnr(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None) -> float:
    error = _squared_error(reference, result, mask)
    if error == 0.0:
        return math.inf  # checked first: scikit-image would divide by zero with a warning
    if mask is None:
        return float(peak_signal_noise_ratio(reference, result, data_range=255))
    return 10.0 * math.log10(1.0 / error)  # same as 255^2 / MSE on the 0-255 scale


# --- SSIM -----------------------------------------------------------------------------------

# Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
# similarity", IEEE TIP 13(4), 2004: an 11x11 Gaussian window with sigma 1.5, population
# (not sample) covariances, K1 = 0.01, K2 = 0.03 (scikit-image's defaults). With these settings
# scikit-image ignores win_size and uses the 11-tap truncated Gaussian. Unlike Wang's ssim.m
# there is no automatic downsampling of large images, and the RGB value is the mean of the
# per-channel SSIMs.
_SSIM_OPTIONS = {
    "channel_axis": -1,
    "data_range": 255,
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
}
_SSIM_MIN_SIDE = 11


def ssim(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity (Wang et al. 2004 settings) of the RGB images, in [-1, 1].

    Whole image: scikit-image's mean SSIM (it leaves out a 5-pixel border where the window does
    not fit). Region: the mean of scikit-image's SSIM map (averaged over channels) over the
    masked pixels, border pixels included. Raises ValueError for malformed input or images
    smaller than 11x11.
    """
    _check_pair(reference, result)
    if mask is not None:
        _check_mask(mask, reference.shape)
    mean, ssim_map = _ssim_map(reference, result)
    return mean if mask is None else float(np.mean(ssim_map[mask]))


def _ssim_map(reference: np.ndarray, result: np.ndarray) -> tuple[float, np.ndarray]:
    if min(reference.shape[:2]) < _SSIM_MIN_SIDE:
        raise ValueError(
            f"SSIM needs images of at least {_SSIM_MIN_SIDE}x{_SSIM_MIN_SIDE} pixels "
            f"(Gaussian window), got {reference.shape[:2]}"
        )
    mean, full = structural_similarity(reference, result, full=True, **_SSIM_OPTIONS)
    return float(mean), full.mean(axis=2)


# --- total variation ------------------------------------------------------------------------


def total_variation(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Anisotropic total variation of the [0, 1]-scaled image, per neighbour pair.

    The mean of |I(y, x+1) - I(y, x)| and |I(y+1, x) - I(y, x)| over all horizontal and vertical
    neighbour pairs and all three channels, so it does not grow with the image size (seed 003's
    TV table is an unnormalised sum of unstated scale: compare trends, not values). Region: the
    pairs with at least one masked end. Raises ValueError for a malformed image or mask.
    """
    _check_image(image, "image")
    if mask is not None:
        _check_mask(mask, image.shape)
    if image.shape[0] * image.shape[1] < 2:
        raise ValueError("total variation needs at least two pixels")
    return _total_variation(image, mask)


def _total_variation(image: np.ndarray, mask: np.ndarray | None) -> float:
    unit = _unit(image)
    dx = np.abs(np.diff(unit, axis=1))  # (H, W-1, 3)
    dy = np.abs(np.diff(unit, axis=0))  # (H-1, W, 3)
    if mask is None:
        return float((dx.sum() + dy.sum()) / (dx.size + dy.size))
    touch_x = mask[:, 1:] | mask[:, :-1]
    touch_y = mask[1:, :] | mask[:-1, :]
    # Never zero: the mask is non-empty and the image has at least two pixels.
    count = 3 * (int(touch_x.sum()) + int(touch_y.sum()))
    return float((dx[touch_x].sum() + dy[touch_y].sum()) / count)


# --- HaarPSI --------------------------------------------------------------------------------

# Written here because neither scikit-image nor OpenCV provides HaarPSI (piq needs torch).
# Reisenhofer, Bosse, Kutyniok, Wiegand, "A Haar wavelet-based perceptual similarity index for
# image quality assessment", Signal Processing: Image Communication 61 (2018) 33-43, following
# the authors' reference code (rgcda/haarpsi, HaarPSI.m / haarPsi.py): inputs on the 0-255
# scale, YIQ colour, 2x2 mean filter + dyadic subsampling, Haar filters of scales 1-3 applied
# with MATLAB conv2(..., 'same') semantics (zero padding), C = 30, alpha = 4.2.
_HAARPSI_C = 30.0
_HAARPSI_ALPHA = 4.2
_HAARPSI_SCALES = 3
# From uint8 input, Y is a multiple of 0.001, its 2x2 mean of 0.00025 and a scale-3 coefficient
# of 0.00025 / 8, so a weight is exactly 0 or at least 3.1e-5; anything below 1e-6 is rounding.
_HAARPSI_ZERO_WEIGHT = 1e-6
_RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.596, -0.274, -0.322],
        [0.211, -0.523, 0.312],
    ]
)


def _conv2_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(image, kernel, 'same')``: the centre of the full zero-padded convolution.

    For even kernel sizes MATLAB's centre starts at index k // 2 of the full result, scipy's
    'same' at (k - 1) // 2; the reference code matches MATLAB, so we slice the full result.
    """
    full = signal.convolve2d(image, kernel, mode="full")
    top, left = kernel.shape[0] // 2, kernel.shape[1] // 2
    return full[top : top + image.shape[0], left : left + image.shape[1]]


def _haar_filters(scales: int) -> list[np.ndarray]:
    """2D Haar filters of scales 1..scales (one orientation; the other is the transpose).

    From the 2-tap filters h = [1, 1]/sqrt(2) (low pass) and g = [-1, 1]/sqrt(2) (high pass):
    the next scale is h convolved with the previous filter upsampled by 2 (zeros inserted).
    The scale-j filter is outer(g_j, h_j), 2^j x 2^j with entries +-2^-j.
    """
    low = np.array([1.0, 1.0]) / math.sqrt(2.0)
    high = np.array([-1.0, 1.0]) / math.sqrt(2.0)
    low_j, high_j = low, high
    filters = []
    for _ in range(scales):
        filters.append(np.outer(high_j, low_j))
        low_j = np.convolve(low, _upsample(low_j))
        high_j = np.convolve(low, _upsample(high_j))
    return filters


def _upsample(taps: np.ndarray) -> np.ndarray:
    out = np.zeros(2 * taps.size - 1)
    out[::2] = taps
    return out


def _haarpsi_maps(reference: np.ndarray, result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local similarity and weight maps, each (ceil(H/2), ceil(W/2), 3) after subsampling.

    Channels: horizontal-filter, vertical-filter and chroma (I and Q) similarities.
    """
    box = np.full((2, 2), 0.25)

    def yiq_subsampled(image: np.ndarray) -> list[np.ndarray]:
        yiq = image.astype(np.float64) @ _RGB_TO_YIQ.T
        return [_conv2_same(yiq[..., c], box)[::2, ::2] for c in range(3)]

    ref_y, ref_i, ref_q = yiq_subsampled(reference)
    res_y, res_i, res_q = yiq_subsampled(result)

    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (2.0 * a * b + _HAARPSI_C) / (a * a + b * b + _HAARPSI_C)

    filters = _haar_filters(_HAARPSI_SCALES)
    similarities, weights = [], []
    for kernels in (filters, [f.T for f in filters]):
        ref_coeffs = [np.abs(_conv2_same(ref_y, k)) for k in kernels]
        res_coeffs = [np.abs(_conv2_same(res_y, k)) for k in kernels]
        # Scales 1 and 2 measure similarity; scale 3 (coarsest) says how much a place matters.
        similarities.append(
            (similarity(ref_coeffs[0], res_coeffs[0]) + similarity(ref_coeffs[1], res_coeffs[1]))
            / 2.0
        )
        weights.append(np.maximum(ref_coeffs[2], res_coeffs[2]))

    chroma = [
        similarity(np.abs(_conv2_same(a, box)), np.abs(_conv2_same(b, box)))
        for a, b in ((ref_i, res_i), (ref_q, res_q))
    ]
    similarities.append((chroma[0] + chroma[1]) / 2.0)
    weights.append((weights[0] + weights[1]) / 2.0)
    return np.stack(similarities, axis=-1), np.stack(weights, axis=-1)


def _haarpsi_pool(similarities: np.ndarray, weights: np.ndarray) -> float:
    if float(weights.max()) < _HAARPSI_ZERO_WEIGHT:
        return math.nan  # no coarse-scale structure in either image here: HaarPSI undefined
    total = float(weights.sum())
    sigmoid = 1.0 / (1.0 + np.exp(-_HAARPSI_ALPHA * similarities))
    pooled = float((sigmoid * weights).sum()) / total
    score = (math.log(pooled / (1.0 - pooled)) / _HAARPSI_ALPHA) ** 2
    # Identical images give 1 up to rounding; do not report 1 + 1e-16.
    return min(score, 1.0)


def _subsampled_mask(mask: np.ndarray) -> np.ndarray:
    """Damaged flag per subsampled pixel: any damaged pixel in its 2x2 block (rows 2i, 2i+1)."""
    height, width = mask.shape
    padded = np.zeros((height + height % 2, width + width % 2), dtype=bool)
    padded[:height, :width] = mask
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).any(axis=(1, 3))


def haarpsi(reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None = None) -> float:
    """HaarPSI of the RGB images in (0, 1], 1 for identical images; NaN where undefined.

    Region: the local similarity and weight maps are computed on the whole image (so filters
    see the context) and pooled only over subsampled pixels whose 2x2 block holds a damaged
    pixel. NaN when the weights there are all zero (both images flat at the coarsest scale, up
    to rounding), since the pooling divides by their sum.
    Raises ValueError for malformed input.
    """
    _check_pair(reference, result)
    if mask is not None:
        _check_mask(mask, reference.shape)
    similarities, weights = _haarpsi_maps(reference, result)
    if mask is None:
        return _haarpsi_pool(similarities, weights)
    region = _subsampled_mask(mask)
    return _haarpsi_pool(similarities[region], weights[region])


# --- all at once ----------------------------------------------------------------------------


def compute_all(
    reference: np.ndarray, result: np.ndarray, mask: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Every metric of ``result`` against ``reference``, whole image and damaged region.

    Returns ``{"whole": {...}, "damaged": {...}}`` keyed by the names in :data:`METRICS`, plain
    floats or None (infinite PSNR / undefined HaarPSI), ready for JSON. ``tv`` is the total
    variation of ``result``. Raises ValueError for malformed images or an empty mask.
    """
    _check_pair(reference, result)
    _check_mask(mask, reference.shape)
    if reference.shape[0] * reference.shape[1] < 2:
        raise ValueError("total variation needs at least two pixels")

    ssim_mean, ssim_map = _ssim_map(reference, result)
    similarities, weights = _haarpsi_maps(reference, result)
    region = _subsampled_mask(mask)
    abs_error = np.abs(_unit(reference) - _unit(result))

    whole = {
        "psnr": _psnr(reference, result, None),
        "ssim": ssim_mean,
        "haarpsi": _haarpsi_pool(similarities, weights),
        "mae": float(abs_error.mean()),
        "mse": _squared_error(reference, result, None),
        "tv": _total_variation(result, None),
    }
    damaged = {
        "psnr": _psnr(reference, result, mask),
        "ssim": float(ssim_map[mask].mean()),
        "haarpsi": _haarpsi_pool(similarities[region], weights[region]),
        "mae": float(abs_error[mask].mean()),
        "mse": _squared_error(reference, result, mask),
        "tv": _total_variation(result, mask),
    }
    return {
        "whole": {name: as_json_number(value) for name, value in whole.items()},
        "damaged": {name: as_json_number(value) for name, value in damaged.items()},
    }
