"""Tests for restoration.pipeline: validation, composition, seeds, info, previews and timing."""

import io
import random
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restoration import pipeline
from restoration.engines.base import Engine, EngineError, Param, Restored, StyleEngine
from restoration.engines.windowing import bounding_box


class PaintEngine(Engine):
    """Paints the whole image with its own generator, reporting three steps with previews."""

    name = "paint"
    version = "1"
    params = {"level": Param(int, 7, minimum=0, maximum=255)}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rendered = 0

    def restore(self, image, mask, *, seed, params, on_progress):
        on_progress(0, 3)
        out = np.random.default_rng(seed).integers(0, 256, image.shape, dtype=np.uint8)
        for step in (1, 2, 3):
            on_progress(step, 3, preview=lambda: self._render(params["level"]))
        return Restored(out, {"generator": "numpy default_rng", "seed": seed})

    def _render(self, level: int) -> np.ndarray:
        self.rendered += 1
        return np.full((600, 900, 3), level, np.uint8)


class GenerativeEngine(PaintEngine):
    requires_intact = False


class BrokenEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        return Restored(image[:, :, 0], {})


class NoInfoEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        return np.array(image)


class OddInfoEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        return Restored(np.array(image), {"scheduler": object()})


class BadPreviewEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        on_progress(1, 1, preview=lambda: np.zeros((10, 10), np.float32))
        return Restored(np.array(image), {})


class VandalEngine(PaintEngine):
    def restore(self, image, mask, *, seed, params, on_progress):
        image[0, 0] = 0
        return Restored(image, {})


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


def test_bounding_box_is_the_smallest_rectangle_around_the_damage():
    damaged = np.zeros((40, 60), bool)
    damaged[5, 7] = damaged[30, 50] = damaged[12, 20] = True
    rows, cols = bounding_box(damaged)
    assert (rows, cols) == (slice(5, 31), slice(7, 51))
    assert damaged[rows, cols].sum() == damaged.sum()
    assert bounding_box(np.zeros((40, 60), bool)) is None


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


def test_run_passes_the_seed_and_leaves_the_process_wide_generators_alone():
    image, mask = _image(), _mask()
    np.random.seed(123)
    random.seed(123)
    numpy_state, python_state = np.random.get_state()[1].copy(), random.getstate()
    first = pipeline.run(PaintEngine(), image, mask, seed=3, params={})
    again = pipeline.run(PaintEngine(), image, mask, seed=3, params={}).image
    other = pipeline.run(PaintEngine(), image, mask, seed=4, params={}).image
    assert np.array_equal(first.image, again)
    assert not np.array_equal(first.image, other)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
    assert first.info == {"generator": "numpy default_rng", "seed": 3}


def test_concurrent_runs_with_different_seeds_do_not_disturb_each_other():
    # Embedded jobs run in threads of one process: nothing may depend on shared RNG state.
    image, mask = _image(), _mask()
    expected = {
        seed: pipeline.run(PaintEngine(), image, mask, seed=seed, params={}).image
        for seed in range(4)
    }
    got = {}

    def one(seed):
        got[seed] = pipeline.run(PaintEngine(), image, mask, seed=seed, params={}).image

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(4) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(got[seed], expected[seed]) for seed in expected)


def test_pipeline_and_engines_never_seed_process_wide_generators():
    root = Path(__file__).resolve().parents[2] / "restoration"
    offenders = [
        f"{path.relative_to(root)}: {word}"
        for path in root.rglob("*.py")
        # torch.manual_seed is left out: training seeds layer initialisation inside
        # torch.random.fork_rng (restoration/learned/training.py), which restores the state.
        for word in ("np.random.seed(", "random.seed(", "cv2.setRNGSeed(")
        if word in path.read_text()
    ]
    # Jobs (and training runs) share the server process in embedded mode: seeding a global
    # generator there changes what another job draws. Seed a numpy Generator or a
    # torch.Generator(device) and pass it where randomness is drawn.
    assert offenders == [], "process-wide generators seeded in: " + ", ".join(offenders)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_run_refuses_bad_seeds(seed):
    with pytest.raises(EngineError, match="The seed must be a non-negative integer"):
        pipeline.run(PaintEngine(), _image(), _mask(), seed=seed, params={})


def test_run_refuses_bad_params():
    with pytest.raises(EngineError, match="'level' must be an integer from 0 to 255, got 300"):
        pipeline.run(PaintEngine(), _image(), _mask(), seed=0, params={"level": 300})


def test_run_renders_a_preview_only_when_the_receiver_asks_for_it():
    engine = PaintEngine()
    calls = []

    def on_progress(step, total, *, preview=None):
        calls.append((step, total, preview is not None))
        if step == 2:
            assert preview().shape == (600, 900, 3)

    pipeline.run(engine, _image(), _mask(), seed=0, params={}, on_progress=on_progress)
    assert calls == [(0, 3, False), (1, 3, True), (2, 3, True), (3, 3, True)]
    assert engine.rendered == 1
    # Nobody watching (the restore command, the bench): nothing is rendered at all.
    quiet = PaintEngine()
    pipeline.run(quiet, _image(), _mask(), seed=0, params={})
    assert quiet.rendered == 0


def test_run_refuses_a_preview_that_is_not_an_rgb_image():
    with pytest.raises(RuntimeError, match="Engine 'paint' rendered a preview of float32"):
        pipeline.run(
            BadPreviewEngine(),
            _image(),
            _mask(),
            seed=0,
            params={},
            on_progress=lambda step, total, *, preview=None: preview and preview(),
        )


@pytest.mark.parametrize(
    "engine, message",
    [
        (NoInfoEngine(), "returned ndarray instead of Restored"),
        (OddInfoEngine(), "returned info that is not JSON"),
    ],
)
def test_run_refuses_an_engine_without_json_info(engine, message):
    with pytest.raises(RuntimeError, match=message):
        pipeline.run(engine, _image(), _mask(), seed=0, params={})


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
    data = pipeline.preview_jpeg(_image(300, 512), longest_side=256)
    assert data[:2] == b"\xff\xd8"
    assert Image.open(io.BytesIO(data)).size == (256, 150)
    assert pipeline.PREVIEW_SIDE >= 512  # the default: large enough to judge on the job page


def test_preview_jpeg_never_enlarges():
    data = pipeline.preview_jpeg(_image(40, 60), longest_side=256, quality=90)
    assert Image.open(io.BytesIO(data)).size == (60, 40)


def test_preview_jpeg_refuses_non_rgb():
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 image"):
        pipeline.preview_jpeg(_image()[..., 0])


# --- style transfer: pipeline.stylize shares the checks of run ------------------------------


class InvertStyle(StyleEngine):
    """Inverts the image in two tiles (top and bottom half), a preview after each."""

    name = "invert"
    version = "1"
    params = {"level": Param(int, 0, minimum=0, maximum=255)}

    def stylize(self, image, *, seed, params, on_progress):
        out = np.zeros_like(image)
        half = image.shape[0] // 2
        on_progress(0, 2)
        for step, rows in enumerate((slice(0, half), slice(half, None)), start=1):
            out[rows] = 255 - image[rows]
            on_progress(step, 2, preview=lambda: out)
        return Restored(out, {"tiles": 2, "seed": seed})


class WrongSizeStyle(InvertStyle):
    def stylize(self, image, *, seed, params, on_progress):
        return Restored(np.zeros((8, 8, 3), np.uint8), {})


class VandalStyle(InvertStyle):
    def stylize(self, image, *, seed, params, on_progress):
        image[0, 0] = 0
        return Restored(np.array(image), {})


class BadPreviewStyle(InvertStyle):
    def stylize(self, image, *, seed, params, on_progress):
        on_progress(1, 1, preview=lambda: np.zeros((4, 4), np.uint8))
        return Restored(np.array(image), {})


def test_stylize_returns_the_engines_whole_output_timed_with_its_steps_and_info():
    image = _image(41, 60)  # an odd height: tiles of unequal size
    reports = []
    result = pipeline.stylize(
        InvertStyle(),
        image,
        seed=4,
        params={"level": "3"},
        on_progress=lambda step, total, *, preview=None: reports.append((step, total, preview)),
    )
    assert np.array_equal(result.image, 255 - image), "every pixel is the engine's"
    assert result.steps == 3 and [r[:2] for r in reports] == [(0, 2), (1, 2), (2, 2)]
    assert reports[0][2] is None and reports[-1][2]().shape == image.shape
    assert result.info == {"tiles": 2, "seed": 4}
    assert 0 < result.seconds < 5


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (_image().astype(np.float32), "must be an 8-bit RGB array, got float32"),
        (_image()[..., 0], r"shape \(height, width, 3\), got \(40, 60\)"),
        (np.zeros((0, 5, 3), np.uint8), r"got \(0, 5, 3\)"),
    ],
)
def test_stylize_refuses_bad_images(image, message):
    with pytest.raises(EngineError, match=message):
        pipeline.stylize(InvertStyle(), image, seed=0, params={})


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_stylize_refuses_bad_seeds(seed):
    with pytest.raises(EngineError, match="seed"):
        pipeline.stylize(InvertStyle(), _image(), seed=seed, params={})


def test_stylize_refuses_bad_params_and_restoration_engines():
    with pytest.raises(EngineError, match="level"):
        pipeline.stylize(InvertStyle(), _image(), seed=0, params={"level": 999})
    with pytest.raises(EngineError, match="'paint' restores damage"):
        pipeline.stylize(PaintEngine(), _image(), seed=0, params={})
    with pytest.raises(EngineError, match="'invert' transfers a style"):
        pipeline.run(InvertStyle(), _image(), _mask(), seed=0, params={})


def test_stylize_refuses_an_output_of_another_size_and_bad_previews():
    with pytest.raises(RuntimeError, match=r"Engine 'invert' returned uint8 \(8, 8, 3\)"):
        pipeline.stylize(WrongSizeStyle(), _image(), seed=0, params={})

    def render(step, total, *, preview=None):
        if preview is not None:
            preview()

    with pytest.raises(RuntimeError, match="rendered a preview"):
        pipeline.stylize(BadPreviewStyle(), _image(), seed=0, params={}, on_progress=render)


def test_stylize_hands_engines_a_read_only_image():
    image = _image()
    with pytest.raises(ValueError, match="read-only"):
        pipeline.stylize(VandalStyle(), image, seed=0, params={})
    assert image.flags.writeable
