"""Tests for restoration.pipeline: validation, composition, seeding, previews and timing."""

import io

import numpy as np
import pytest
from PIL import Image

from restoration import pipeline
from restoration.engines.base import Engine, EngineError, Param


class PaintEngine(Engine):
    """Paints the whole image with numpy's global generator, reporting three steps."""

    name = "paint"
    version = "1"
    params = {"level": Param(int, 7, minimum=0, maximum=255)}

    def restore(self, image, mask, *, seed, params, on_progress):
        on_progress(0, 3, None)
        out = np.random.randint(0, 256, image.shape).astype(np.uint8)
        for step in (1, 2, 3):
            on_progress(step, 3, np.full((600, 900, 3), params["level"], np.uint8))
        return out


class GenerativeEngine(PaintEngine):
    requires_intact = False


class BrokenEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        return image[:, :, 0]


class VandalEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        image[0, 0] = 0
        return image


def _image(height: int = 40, width: int = 60) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _mask(height: int = 40, width: int = 60) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[10:20, 10:30] = True
    return mask


def test_compose_keeps_the_original_outside_and_the_output_inside():
    original, output, mask = _image(), 255 - _image(), _mask()
    composed = pipeline.compose(original, output, mask)
    assert np.array_equal(composed[~mask], original[~mask])
    assert np.array_equal(composed[mask], output[mask])


def test_validate_inputs_accepts_stored_uint8_masks():
    stored = _mask().astype(np.uint8) * 255
    stored[0, 0] = 127  # below the threshold: intact
    assert np.array_equal(pipeline.validate_inputs(_image(), stored), _mask())


@pytest.mark.parametrize(
    ("image", "mask", "message"),
    [
        (_image(), _mask(40, 50), "The mask is 50x40 pixels but the image is 60x40"),
        (_image(), np.zeros((40, 60), bool), "The mask marks no damage"),
        (_image(), np.ones((40, 60), bool), "marks the whole image as damaged"),
        (_image().astype(np.float32), _mask(), "must be an 8-bit RGB array, got float32"),
        (_image()[..., 0], _mask(), r"shape \(height, width, 3\), got \(40, 60\)"),
        (np.dstack([_image(), _image()[..., :1]]), _mask(), r"got \(40, 60, 4\)"),
        (_image(), _mask().astype(float), "boolean or 8-bit array, got float64"),
        (_image(), np.dstack([_mask()] * 3), "must have one channel"),
        ([[1, 2, 3]], _mask(), "8-bit RGB array, got list"),
    ],
)
def test_validate_inputs_refuses_bad_inputs(image, mask, message):
    with pytest.raises(EngineError, match=message):
        pipeline.validate_inputs(image, mask)


def test_run_lets_generative_engines_restore_a_fully_damaged_image():
    mask = np.ones((40, 60), bool)
    result = pipeline.run(GenerativeEngine(), _image(), mask, seed=0, params={})
    assert result.image.shape == (40, 60, 3)
    with pytest.raises(EngineError, match="whole image"):
        pipeline.run(PaintEngine(), _image(), mask, seed=0, params={})


def test_run_composes_times_and_counts_steps():
    image, mask = _image(), _mask()
    result = pipeline.run(PaintEngine(), image, mask, seed=3, params={"level": "9"})
    assert np.array_equal(result.image[~mask], image[~mask])
    assert not np.array_equal(result.image[mask], image[mask])
    assert result.steps == 4
    assert 0 < result.seconds < 5


def test_run_seeds_the_global_generators():
    image, mask = _image(), _mask()
    first = pipeline.run(PaintEngine(), image, mask, seed=3, params={}).image
    again = pipeline.run(PaintEngine(), image, mask, seed=3, params={}).image
    other = pipeline.run(PaintEngine(), image, mask, seed=4, params={}).image
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_run_refuses_bad_seeds(seed):
    with pytest.raises(EngineError, match="The seed must be a non-negative integer"):
        pipeline.run(PaintEngine(), _image(), _mask(), seed=seed, params={})


def test_run_refuses_bad_params():
    with pytest.raises(EngineError, match="'level' must be an integer from 0 to 255, got 300"):
        pipeline.run(PaintEngine(), _image(), _mask(), seed=0, params={"level": 300})


def test_run_shrinks_previews_and_always_passes_the_last(monkeypatch):
    monkeypatch.setattr(pipeline, "PREVIEW_INTERVAL", 3600)
    calls = []
    pipeline.run(
        PaintEngine(),
        _image(),
        _mask(),
        seed=0,
        params={},
        on_progress=lambda step, total, preview: calls.append((step, total, preview)),
    )
    assert [(step, total) for step, total, _ in calls] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    # Step 1 is the first preview; step 2 comes too soon after it; step 3 is the last.
    shapes = [None if preview is None else preview.shape for _, _, preview in calls]
    assert shapes == [None, (171, 256, 3), None, (171, 256, 3)]


def test_run_colour_correction_changes_only_damaged_pixels():
    image, mask = _image(), _mask()
    plain = pipeline.run(PaintEngine(), image, mask, seed=1, params={}).image
    corrected = pipeline.run(
        PaintEngine(), image, mask, seed=1, params={}, colour_correction=True
    ).image
    assert np.array_equal(corrected[~mask], image[~mask])
    assert not np.array_equal(corrected[mask], plain[mask])


def test_run_refuses_an_engine_output_of_the_wrong_shape():
    with pytest.raises(RuntimeError, match="Engine 'paint' returned uint8"):
        pipeline.run(BrokenEngine(), _image(), _mask(), seed=0, params={})


def test_run_hands_engines_a_read_only_image():
    image = _image()
    with pytest.raises(ValueError, match="read-only"):
        pipeline.run(VandalEngine(), image, _mask(), seed=0, params={})
    assert image.flags.writeable


def test_preview_jpeg_shrinks_to_the_longest_side():
    data = pipeline.preview_jpeg(_image(300, 512))
    assert data[:2] == b"\xff\xd8"
    assert Image.open(io.BytesIO(data)).size == (256, 150)


def test_preview_jpeg_never_enlarges():
    data = pipeline.preview_jpeg(_image(40, 60), longest_side=256, quality=90)
    assert Image.open(io.BytesIO(data)).size == (60, 40)


def test_preview_jpeg_refuses_non_rgb():
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 image"):
        pipeline.preview_jpeg(_image()[..., 0])
