"""restoration.metrics: hand-computed values, region masking, JSON safety, HaarPSI port check.

No published HaarPSI value could be reproduced here: the values we found are for images that are
not available in this environment (piq's tests/test_haarpsi.py asserts 0.71706527 from the
authors' MATLAB code for TID2013 I01.BMP vs i01_01_5.bmp; the authors' repository rgcda/haarpsi
and its ports state no values). HaarPSI is therefore checked against a second, independent
transcription of the reference algorithm below (scipy.ndimage instead of scipy.signal, reshape
pooling instead of convolution + slicing, filters written out instead of built by upsampling),
whose convolution alignment is itself pinned to MATLAB's documented conv(..., 'same') example.
"""

import io
import json
import math
from functools import cache

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.special import expit, logit
from skimage import data

from restoration import metrics


@cache
def _astronaut() -> np.ndarray:
    image = data.astronaut()  # (512, 512, 3) uint8, bundled with scikit-image
    image.flags.writeable = False
    return image


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _block_mask(shape: tuple[int, ...], top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


# --- independent HaarPSI transcription ---------------------------------------------------------


def _matlab_conv2_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # With zero padding and origin 0, ndimage puts an even kernel's centre where MATLAB does.
    return ndimage.convolve(image, kernel, mode="constant", cval=0.0)


def _haarpsi_transcription(
    reference: np.ndarray, result: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """HaarPSI as in Reisenhofer et al. 2018 and rgcda/haarpsi, written apart from the module."""
    c, alpha = 30.0, 4.2

    def yiq(image):
        r, g, b = (image[..., k].astype(np.float64) for k in range(3))
        return (
            0.299 * r + 0.587 * g + 0.114 * b,
            0.596 * r - 0.274 * g - 0.322 * b,
            0.211 * r - 0.523 * g + 0.312 * b,
        )

    def down(channel):  # 2x2 block mean, zero padded: conv2 'same' with ones(2)/4, then (1:2:end)
        h, w = channel.shape
        padded = np.pad(channel, ((0, h % 2), (0, w % 2)))
        return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))

    def haar(scale):  # 2^scale square, -2^-scale on the upper half, +2^-scale on the lower half
        n = 2**scale
        return 2.0**-scale * np.vstack([-np.ones((n // 2, n)), np.ones((n // 2, n))])

    def magnitude(channel, kernel):
        return np.abs(_matlab_conv2_same(channel, kernel))

    def sim(a, b):
        return (2 * a * b + c) / (a**2 + b**2 + c)

    ref_y, ref_i, ref_q = (down(ch) for ch in yiq(reference))
    res_y, res_i, res_q = (down(ch) for ch in yiq(result))
    sims, weights = [], []
    for orient in (np.asarray, np.transpose):
        kernels = [orient(haar(scale)) for scale in (1, 2, 3)]
        ref_c = [magnitude(ref_y, k) for k in kernels]
        res_c = [magnitude(res_y, k) for k in kernels]
        sims.append((sim(ref_c[0], res_c[0]) + sim(ref_c[1], res_c[1])) / 2)
        weights.append(np.maximum(ref_c[2], res_c[2]))
    box = np.full((2, 2), 0.25)
    sim_i = sim(magnitude(ref_i, box), magnitude(res_i, box))
    sim_q = sim(magnitude(ref_q, box), magnitude(res_q, box))
    sims.append((sim_i + sim_q) / 2)
    weights.append((weights[0] + weights[1]) / 2)
    s, w = np.stack(sims, axis=-1), np.stack(weights, axis=-1)
    if mask is not None:
        region = down(mask.astype(np.float64)) > 0
        s, w = s[region], w[region]
    pooled = np.sum(expit(alpha * s) * w) / np.sum(w)
    return float((logit(pooled) / alpha) ** 2)


def test_transcription_convolution_matches_matlab_documented_example():
    # MATLAB documentation of conv, "Central Part of Convolution": u = [-1 2 3 -2 0 1 2],
    # v = [2 4 -1 1], conv(u, v, 'same') = [15 5 -9 7 6 7 -1].
    u = np.array([[-1, 2, 3, -2, 0, 1, 2]], dtype=np.float64)
    v = np.array([[2, 4, -1, 1]], dtype=np.float64)
    expected = [[15, 5, -9, 7, 6, 7, -1]]
    np.testing.assert_array_equal(_matlab_conv2_same(u, v), expected)
    np.testing.assert_array_equal(metrics._conv2_same(u, v), expected)


@pytest.mark.parametrize(
    "make_result",
    [
        lambda img: _jpeg(img, 30),
        lambda img: _noisy(img, 15.0),
        lambda img: ndimage.uniform_filter(img, size=(5, 5, 1)),
        lambda img: np.roll(img, 3, axis=1),
    ],
    ids=["jpeg30", "noise15", "box-blur5", "shift3"],
)
def test_haarpsi_matches_independent_transcription_of_reference(make_result):
    reference = _astronaut()
    result = make_result(reference)
    mask = _block_mask(reference.shape, 101, 150, 123)  # odd offsets: partial 2x2 blocks
    assert metrics.haarpsi(reference, result) == pytest.approx(
        _haarpsi_transcription(reference, result), abs=1e-12
    )
    assert metrics.haarpsi(reference, result, mask) == pytest.approx(
        _haarpsi_transcription(reference, result, mask), abs=1e-12
    )


def test_haarpsi_matches_transcription_on_odd_sized_image():
    reference = data.chelsea()  # (300, 451, 3): odd width exercises the zero-padded subsampling
    result = _jpeg(reference, 20)
    assert metrics.haarpsi(reference, result) == pytest.approx(
        _haarpsi_transcription(reference, result), abs=1e-12
    )


# --- HaarPSI behaviour -------------------------------------------------------------------------


def test_haarpsi_identical_images_is_one():
    image = _astronaut()
    assert metrics.haarpsi(image, image) == pytest.approx(1.0, abs=1e-12)
    mask = _block_mask(image.shape, 200, 200, 50)
    assert metrics.haarpsi(image, image, mask) == pytest.approx(1.0, abs=1e-12)


def test_haarpsi_is_symmetric():
    reference = _astronaut()
    result = _jpeg(reference, 25)
    assert metrics.haarpsi(reference, result) == pytest.approx(
        metrics.haarpsi(result, reference), abs=1e-12
    )


def test_haarpsi_decreases_with_gaussian_noise():
    reference = _astronaut()
    scores = [metrics.haarpsi(reference, _noisy(reference, s)) for s in (2, 8, 20, 50)]
    assert all(0.0 < s < 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_haarpsi_decreases_with_jpeg_compression():
    reference = _astronaut()
    scores = [metrics.haarpsi(reference, _jpeg(reference, q)) for q in (95, 70, 40, 10)]
    assert all(0.0 < s < 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_haarpsi_region_of_flat_images_is_undefined():
    # Deep inside flat images every coarse Haar coefficient is 0: the weights vanish.
    reference = np.full((64, 64, 3), 120, dtype=np.uint8)
    result = np.full((64, 64, 3), 140, dtype=np.uint8)
    mask = _block_mask(reference.shape, 28, 28, 8)
    assert math.isnan(metrics.haarpsi(reference, result, mask))
    assert metrics.compute_all(reference, result, mask)["damaged"]["haarpsi"] is None


# --- PSNR, SSIM, MAE, MSE, TV -----------------------------------------------------------------


def test_psnr_identical_images_is_infinite_and_none_in_json():
    image = _astronaut()
    mask = _block_mask(image.shape, 10, 10, 20)
    assert metrics.psnr(image, image) == math.inf
    assert metrics.psnr(image, image, mask) == math.inf
    assert metrics.as_json_number(math.inf) is None
    values = metrics.compute_all(image, image, mask)
    assert values["whole"]["psnr"] is None
    assert values["damaged"]["psnr"] is None


def test_psnr_of_uniform_offset_matches_known_mse():
    reference = np.minimum(_astronaut(), 245)
    result = reference + np.uint8(10)
    expected = 10 * math.log10(255**2 / 100)  # MSE 100 on the 0-255 scale: 28.1308 dB
    mask = _block_mask(reference.shape, 0, 0, 7)
    assert metrics.psnr(reference, result) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(reference, result, mask) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(28.1308, abs=1e-4)
    assert metrics.mse(reference, result) == pytest.approx((10 / 255) ** 2)
    assert metrics.mae(reference, result) == pytest.approx(10 / 255)


def test_ssim_identical_is_one_and_falls_with_noise():
    image = _astronaut()
    mask = _block_mask(image.shape, 300, 100, 40)
    assert metrics.ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert metrics.ssim(image, image, mask) == pytest.approx(1.0, abs=1e-12)
    whole = [metrics.ssim(image, _noisy(image, s)) for s in (3, 10, 30)]
    region = [metrics.ssim(image, _noisy(image, s), mask) for s in (3, 10, 30)]
    assert whole[0] > whole[1] > whole[2] > 0
    assert region[0] > region[1] > region[2]


def test_ssim_uses_wang_2004_gaussian_window():
    from skimage.metrics import structural_similarity

    reference = _astronaut()
    result = _noisy(reference, 10)
    expected = structural_similarity(
        reference,
        result,
        channel_axis=-1,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert metrics.ssim(reference, result) == pytest.approx(expected, abs=1e-12)


def test_mae_and_mse_hand_computed_on_unit_scale():
    reference = np.zeros((4, 4, 3), dtype=np.uint8)
    result = reference.copy()
    result[0, 0, 0] = 51  # 0.2 on the [0, 1] scale
    result[3, 3, 2] = 255  # 1.0
    assert metrics.mae(reference, result) == pytest.approx(1.2 / 48)
    assert metrics.mse(reference, result) == pytest.approx(1.04 / 48)
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 0] = mask[3, 3] = True  # 2 pixels x 3 channels
    assert metrics.mae(reference, result, mask) == pytest.approx(1.2 / 6)
    assert metrics.mse(reference, result, mask) == pytest.approx(1.04 / 6)


def test_total_variation_hand_computed():
    # Unit-scale image [[0, 1], [1, 1]] in all channels: pairs (0,1) (1,1) across, (0,1) (1,1) down.
    image = np.full((2, 2, 3), 255, dtype=np.uint8)
    image[0, 0] = 0
    assert metrics.total_variation(image) == pytest.approx(0.5)
    corner = np.array([[True, False], [False, False]])
    opposite = np.array([[False, False], [False, True]])
    assert metrics.total_variation(image, corner) == pytest.approx(1.0)
    assert metrics.total_variation(image, opposite) == pytest.approx(0.0)


def test_total_variation_per_channel_and_normalised_by_pairs():
    image = np.zeros((1, 3, 3), dtype=np.uint8)
    image[0, 1, 0] = 255  # red spike in the middle: two unit jumps in one of three channels
    # 2 horizontal pairs x 3 channels = 6 differences, total 2.
    assert metrics.total_variation(image) == pytest.approx(2 / 6)


# --- region behaviour ---------------------------------------------------------------------------


def test_region_metrics_ignore_pixels_outside_the_mask():
    reference = _astronaut()
    result = _jpeg(reference, 30)
    mask = _block_mask(reference.shape, 200, 200, 60)
    before = metrics.compute_all(reference, result, mask)["damaged"]
    changed = result.copy()
    changed[0, 0] = 255 - changed[0, 0]  # far corner
    changed[230, 269] = 255 - changed[230, 269]  # 10 px right of the mask: beyond every window
    changed[190, 230] = 255 - changed[190, 230]  # 10 px above the mask
    after = metrics.compute_all(reference, changed, mask)["damaged"]
    assert after == before
    whole_before = metrics.compute_all(reference, result, mask)["whole"]
    whole_after = metrics.compute_all(reference, changed, mask)["whole"]
    assert whole_after["mae"] > whole_before["mae"]


def test_region_metrics_follow_pixels_inside_the_mask():
    reference = _astronaut()
    mask = _block_mask(reference.shape, 200, 200, 60)
    result = reference.copy()
    result[mask] = 0
    values = metrics.compute_all(reference, result, mask)
    assert values["damaged"]["mae"] > values["whole"]["mae"]
    assert values["damaged"]["haarpsi"] < values["whole"]["haarpsi"]
    assert values["damaged"]["ssim"] < values["whole"]["ssim"]


def test_full_mask_region_equals_whole_image_except_ssim_border():
    reference = _astronaut()
    result = _jpeg(reference, 40)
    values = metrics.compute_all(reference, result, np.ones(reference.shape[:2], dtype=bool))
    for name in ("psnr", "haarpsi", "mae", "mse", "tv"):
        assert values["damaged"][name] == pytest.approx(values["whole"][name], rel=1e-12)
    # skimage's whole-image SSIM leaves out a 5-pixel border; the region mean includes it.
    assert values["damaged"]["ssim"] == pytest.approx(values["whole"]["ssim"], abs=0.01)


# --- compute_all and the display table ---------------------------------------------------------


def test_compute_all_matches_single_metrics_and_is_json_ready():
    reference = _astronaut()
    result = _jpeg(reference, 50)
    mask = _block_mask(reference.shape, 64, 320, 90)
    values = metrics.compute_all(reference, result, mask)
    json.dumps(values, allow_nan=False)
    functions = {
        "psnr": metrics.psnr,
        "ssim": metrics.ssim,
        "haarpsi": metrics.haarpsi,
        "mae": metrics.mae,
        "mse": metrics.mse,
    }
    for name, function in functions.items():
        assert values["whole"][name] == function(reference, result)
        assert values["damaged"][name] == function(reference, result, mask)
    assert values["whole"]["tv"] == metrics.total_variation(result)
    assert values["damaged"]["tv"] == metrics.total_variation(result, mask)
    for part in values.values():
        assert all(type(v) is float for v in part.values())


def test_metrics_table_describes_every_computed_metric():
    image = _astronaut()
    values = metrics.compute_all(image, _noisy(image, 5), _block_mask(image.shape, 0, 0, 16))
    assert [m.name for m in metrics.METRICS] == list(values["whole"])
    assert list(values["damaged"]) == list(values["whole"])
    better = {m.name: m.higher_is_better for m in metrics.METRICS}
    assert better["psnr"] and better["ssim"] and better["haarpsi"]
    assert better["mae"] is False and better["mse"] is False and better["tv"] is None


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "result", "message"),
    [
        (np.zeros((16, 16, 3), np.uint8), np.zeros((16, 17, 3), np.uint8), "shapes differ"),
        (np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.float32), "uint8"),
        (np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((16, 16, 4), np.uint8), np.zeros((16, 16, 4), np.uint8), r"\(H, W, 3\)"),
        ([[0]], np.zeros((16, 16, 3), np.uint8), "numpy array"),
    ],
)
def test_malformed_images_are_refused(reference, result, message):
    for function in (metrics.psnr, metrics.ssim, metrics.haarpsi, metrics.mae, metrics.mse):
        with pytest.raises(ValueError, match=message):
            function(reference, result)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((16, 15), dtype=bool), "does not match"),
        (np.zeros((16, 16), dtype=bool), "empty"),
        (np.ones((16, 16), dtype=np.uint8), "bool"),
    ],
)
def test_malformed_masks_are_refused(mask, message):
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    for function in (metrics.psnr, metrics.ssim, metrics.haarpsi, metrics.mae, metrics.mse):
        with pytest.raises(ValueError, match=message):
            function(image, image, mask)
    with pytest.raises(ValueError, match=message):
        metrics.total_variation(image, mask)
    with pytest.raises(ValueError, match=message):
        metrics.compute_all(image, image, mask)


def test_ssim_refuses_images_smaller_than_its_window():
    image = np.zeros((10, 40, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(image, image)
