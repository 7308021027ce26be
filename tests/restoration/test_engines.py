"""Tests for the classical engines (telea, navier_stokes, harmonic, exemplar) and the Engine
base class."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from heritage import masks
from restoration import pipeline
from restoration.engines import exemplar
from restoration.engines.base import Cancelled, Engine, EngineError, Param
from restoration.engines.registry import Registry

# The classical engines, as settings declare them (no Django needed to build the registry).
CLASSICAL = {
    "telea": {"BACKEND": "restoration.engines.telea.TeleaEngine"},
    "navier_stokes": {"BACKEND": "restoration.engines.navier_stokes.NavierStokesEngine"},
    "harmonic": {"BACKEND": "restoration.engines.harmonic.HarmonicEngine"},
    "exemplar": {"BACKEND": "restoration.engines.exemplar.ExemplarEngine"},
}
ENGINES = sorted(CLASSICAL)
MURALS = next(
    (
        folder / "shared" / "data" / "murals"
        for folder in Path(__file__).resolve().parents
        if (folder / "shared" / "data" / "murals").is_dir()
    ),
    None,
)


def _engine(name: str) -> Engine:
    return Registry(CLASSICAL).get(name)


def _texture(height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """A periodic colour pattern with noise: easy to continue, far from any flat colour."""
    y, x = np.mgrid[0:height, 0:width]
    channels = [
        128 + 60 * np.sin(2 * np.pi * x / 8) * np.cos(2 * np.pi * y / 6),
        100 + 50 * np.sin(2 * np.pi * (x + y) / 10),
        90 + 40 * np.cos(2 * np.pi * x / 8),
    ]
    noise = np.random.default_rng(seed).normal(0, 6, (height, width, 3))
    return np.clip(np.stack(channels, axis=-1) + noise, 0, 255).astype(np.uint8)


def _blocks(size: int = 64, seed: int = 3) -> np.ndarray:
    return masks.binary(masks.simulate("blocks", width=size, height=size, seed=seed))


@pytest.mark.parametrize("name", ENGINES)
def test_engine_keeps_intact_pixels_byte_identical(name):
    image, mask = _texture(), _blocks()
    result = pipeline.run(_engine(name), image, mask, seed=1, params={})
    assert result.image.dtype == np.uint8 and result.image.shape == image.shape
    assert np.array_equal(result.image[~mask], image[~mask])
    # Something was painted in: the damaged pixels are no longer what the input held there.
    assert not np.array_equal(result.image[mask], image[mask])


@pytest.mark.skipif(MURALS is None, reason="shared mural images absent")
@pytest.mark.parametrize("name", ENGINES)
def test_engine_restores_a_real_mural_crop(name):
    photo = Image.open(MURALS / "dh_asher_dhmurals_00001_vqvae_recon.png").convert("RGB")
    image = np.array(photo.resize((96, 96), Image.Resampling.LANCZOS))
    mask = masks.binary(masks.simulate("jelly", width=96, height=96, seed=2))
    damaged = image.copy()
    damaged[mask] = 0  # what a photographed loss looks like; engines must not read it
    result = pipeline.run(_engine(name), damaged, mask, seed=0, params={})
    assert np.array_equal(result.image[~mask], image[~mask])
    error = np.abs(result.image[mask].astype(float) - image[mask]).mean()
    assert error < np.abs(damaged[mask].astype(float) - image[mask]).mean() / 2


@pytest.mark.parametrize("name", ENGINES)
def test_engine_is_deterministic_for_a_seed(name):
    image, mask = _texture(), _blocks()
    first = pipeline.run(_engine(name), image, mask, seed=5, params={}).image
    again = pipeline.run(_engine(name), image, mask, seed=5, params={}).image
    assert np.array_equal(first, again)


def test_exemplar_depends_on_the_seed():
    image, mask = _texture(), _blocks()
    first = pipeline.run(_engine("exemplar"), image, mask, seed=5, params={}).image
    other = pipeline.run(_engine("exemplar"), image, mask, seed=6, params={}).image
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("name", ENGINES)
def test_engine_refuses_a_mask_of_another_size(name):
    with pytest.raises(EngineError, match="48x64 pixels but the image is 64x64"):
        pipeline.run(_engine(name), _texture(), np.ones((64, 48), bool), seed=0, params={})


@pytest.mark.parametrize("name", ENGINES)
def test_engine_refuses_an_empty_mask(name):
    with pytest.raises(EngineError, match="The mask marks no damage"):
        pipeline.run(_engine(name), _texture(), np.zeros((64, 64), bool), seed=0, params={})


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("telea", {"radius": 0}, "'radius' must be an integer from 1 to 50, got 0"),
        ("navier_stokes", {"radius": "wide"}, "'radius' must be an integer from 1 to 50"),
        ("telea", {"radius": True}, "'radius' must be an integer"),
        ("telea", {"size": 3}, "Unknown parameter 'size' for engine 'telea'"),
        ("exemplar", {"patch_size": 8}, "'patch_size' must be an odd integer"),
        ("exemplar", {"patch_size": 17}, "'patch_size' must be an integer from 3 to 15"),
        ("exemplar", {"iterations": 0}, "'iterations' must be an integer from 1 to 20"),
    ],
)
def test_engine_refuses_bad_params(name, params, message):
    with pytest.raises(EngineError, match=message):
        pipeline.run(_engine(name), _texture(), _blocks(), seed=0, params=params)


@pytest.mark.parametrize("name", ENGINES)
def test_engine_reports_increasing_progress_ending_at_total(name):
    image = _texture(96, 96)
    mask = np.zeros((96, 96), bool)
    mask[10:20, 10:30] = mask[60:80, 50:70] = True  # two regions, one batch each for OpenCV
    calls = []
    pipeline.run(
        _engine(name),
        image,
        mask,
        seed=0,
        params={},
        on_progress=lambda step, total, *, preview=None: calls.append(
            (step, total, preview() if preview else None)
        ),
    )
    steps = [step for step, _, _ in calls]
    assert len(calls) >= 2
    assert steps == sorted(set(steps))
    assert {total for _, total, _ in calls} == {steps[-1]}
    previews = [preview for _, _, preview in calls if preview is not None]
    # Every step after the first offers a preview of the whole image (rendered on request).
    assert len(previews) == len(calls) - 1
    assert all(p.dtype == np.uint8 and p.shape[2] == 3 for p in previews)
    # Previews show the whole image (this one is smaller than their 512-pixel limit).
    assert previews[-1].shape[:2] == (96, 96)


def test_exemplar_reports_every_iteration_of_every_scale():
    calls = []
    mask = np.zeros((128, 128), bool)
    mask[50:70, 40:70] = True
    pipeline.run(
        _engine("exemplar"),
        _texture(128, 128),
        mask,
        seed=0,
        params={"iterations": 4, "levels": 3},
        on_progress=lambda step, total, *, preview=None: calls.append((step, total)),
    )
    assert calls == [(step, 12) for step in range(13)]


@pytest.mark.parametrize("name", ENGINES)
def test_engine_stops_when_progress_raises_cancelled(name):
    image = _texture(96, 96)
    mask = np.zeros((96, 96), bool)
    mask[10:20, 10:30] = mask[60:80, 50:70] = True
    calls = []

    def cancel_at_one(step: int, total: int, *, preview=None) -> None:
        calls.append(step)
        if step == 1:
            raise Cancelled

    with pytest.raises(Cancelled):
        pipeline.run(_engine(name), image, mask, seed=0, params={}, on_progress=cancel_at_one)
    assert calls == [0, 1]


def test_exemplar_continues_a_texture_better_than_a_flat_fill():
    image = _texture()
    hole = np.zeros((64, 64), bool)
    hole[26:38, 24:40] = True
    result = pipeline.run(_engine("exemplar"), image, hole, seed=0, params={}).image
    truth = image[hole].astype(float)
    error = np.abs(result[hole] - truth).mean()
    flat_error = np.abs(image[~hole].mean(axis=0) - truth).mean()
    assert error < flat_error / 2
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~hole
    spread, around = result[hole].std(axis=0), image[ring].std(axis=0)
    assert np.all(np.abs(spread - around) < 0.25 * around)


def test_exemplar_copies_only_from_wholly_intact_patches():
    # Left half grey, right half one red square of damage inside green: only green can fill it.
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32] = (128, 128, 128)
    image[:, 32:] = (0, 200, 0)
    image[24:40, 40:56] = (255, 0, 0)
    mask = np.zeros((64, 64), bool)
    mask[24:40, 40:56] = True
    result = pipeline.run(_engine("exemplar"), image, mask, seed=0, params={}).image
    assert np.all(result[mask] == (0, 200, 0))


def test_exemplar_refuses_damage_with_no_intact_patch():
    mask = np.ones((64, 64), bool)
    mask[::4, ::4] = False  # intact pixels everywhere, but no intact 3x3 patch
    with pytest.raises(EngineError, match="Too little intact area"):
        pipeline.run(_engine("exemplar"), _texture(), mask, seed=0, params={"patch_size": 3})


def test_exemplar_tiles_damage_larger_than_a_window(monkeypatch):
    monkeypatch.setattr(exemplar, "MAX_WINDOW", 100)
    monkeypatch.setattr(exemplar, "MIN_MARGIN", 16)
    image, mask = _texture(160, 160), _blocks(160, seed=4)
    windows = exemplar._plan(mask, 3, 0)
    assert len(windows) > 4
    assert all(w.rows.stop - w.rows.start <= 100 for w in windows)
    assert all(w.cols.stop - w.cols.start <= 100 for w in windows)
    covered = np.zeros_like(mask)
    for window in windows:
        assert not (covered[window.rows, window.cols] & window.core).any()
        covered[window.rows, window.cols] |= window.core
    assert np.array_equal(covered, mask)
    params = {"patch_size": 3, "iterations": 2}
    result = pipeline.run(_engine("exemplar"), image, mask, seed=0, params=params)
    assert np.array_equal(result.image[~mask], image[~mask])


def test_exemplar_crops_around_small_damage_in_a_large_image():
    mask = np.zeros((600, 900), bool)
    mask[100:110, 100:120] = True
    mask[500:520, 800:830] = True
    windows = exemplar._plan(mask, 7, 0)
    assert len(windows) == 2
    assert all(w.rows.stop - w.rows.start < 200 for w in windows)


@pytest.mark.parametrize("name", ["telea", "navier_stokes"])
def test_opencv_engines_match_a_whole_image_inpaint(name):
    image = cv2.GaussianBlur(
        np.random.default_rng(0).integers(0, 256, (300, 700, 3), np.uint8), (0, 0), 3
    )
    mask = np.zeros((300, 700), bool)
    mask[40:60, 50:80] = mask[200:230, 600:640] = mask[100:110, 300:500] = True
    engine = _engine(name)
    steps = []
    result, info = engine.restore(
        image,
        mask,
        seed=0,
        params={"radius": 5},
        on_progress=lambda s, n, *, preview=None: steps.append(s),
    )
    assert steps == [0, 1, 2, 3]  # one batch per 256-pixel cell holding a region
    whole = cv2.inpaint(image, mask.astype(np.uint8) * 255, 5, engine.flag)
    assert np.array_equal(result[mask], whole[mask])
    assert info == {"method": engine.method, "opencv": cv2.__version__, "batches": 3}


def test_harmonic_fill_is_the_mean_of_its_neighbours_and_keeps_the_border_values():
    from restoration.engines.harmonic import harmonic_fill

    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    damaged = np.zeros((40, 50), bool)
    damaged[5:30, 10:45] = damaged[35:, :8] = True  # one hole inside, one at the corner
    filled = harmonic_fill(image, damaged).astype(np.float64)
    assert np.array_equal(filled[~damaged], image[~damaged])
    padded = np.pad(filled, ((1, 1), (1, 1), (0, 0)), mode="edge")
    neighbours = np.zeros_like(filled)
    counts = np.zeros(damaged.shape)
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        inside = np.pad(np.ones(damaged.shape), 1)[1 + dy : 41 + dy, 1 + dx : 51 + dx]
        neighbours += padded[1 + dy : 41 + dy, 1 + dx : 51 + dx] * inside[..., None]
        counts += inside
    # Laplace's equation on every damaged pixel; no flow across the image border.
    mean = neighbours / counts[..., None]
    assert np.abs(filled[damaged] - mean[damaged]).max() < 1e-3
    # A linear ramp is harmonic: the fill continues it exactly, with no streaks.
    ramp = np.repeat(np.linspace(0, 250, 50)[None, :, None], 40, axis=0).repeat(3, axis=2)
    hole = np.zeros((40, 50), bool)
    hole[10:30, 10:40] = True
    assert np.abs(harmonic_fill(ramp, hole) - ramp).max() < 1e-3
    assert np.array_equal(harmonic_fill(image, np.zeros((40, 50), bool)), image)
    assert np.all(harmonic_fill(image, np.ones((40, 50), bool)) == 127.5)


def test_harmonic_engine_matches_a_whole_image_fill_batch_by_batch():
    from restoration.engines.harmonic import harmonic_fill

    image = cv2.GaussianBlur(
        np.random.default_rng(0).integers(0, 256, (300, 700, 3), np.uint8), (0, 0), 3
    )
    mask = np.zeros((300, 700), bool)
    mask[40:60, 50:80] = mask[200:230, 600:640] = mask[100:110, 300:500] = True
    steps = []
    result, info = _engine("harmonic").restore(
        image, mask, seed=0, params={}, on_progress=lambda s, n, *, preview=None: steps.append(s)
    )
    assert steps == [0, 1, 2, 3]
    whole = np.round(harmonic_fill(image, mask)).astype(np.uint8)
    assert np.array_equal(result, np.where(mask[..., None], whole, image))
    assert info["batches"] == 3 and info["method"].startswith("harmonic")


def test_harmonic_is_closer_than_telea_inside_large_holes_of_a_real_mural():
    if MURALS is None:
        pytest.skip("the shared mural images are not here")
    with Image.open(sorted(MURALS.glob("*.jpg"))[0]) as opened:
        mural = np.asarray(opened.convert("RGB"))[:256, :256].copy()
    mask = masks.binary(masks.simulate("blocks", width=256, height=256, seed=3))
    errors = {}
    for name in ("telea", "harmonic"):
        restored = pipeline.run(_engine(name), mural, mask, seed=0, params={}).image
        errors[name] = np.abs(restored[mask].astype(int) - mural[mask]).mean()
    assert errors["harmonic"] < errors["telea"]


def test_clean_params_applies_defaults_and_converts_strings():
    engine = _engine("exemplar")
    assert engine.clean_params({}) == {"patch_size": 7, "iterations": 5, "levels": 0}
    assert engine.clean_params({"patch_size": "9", "iterations": 3.0}) == {
        "patch_size": 9,
        "iterations": 3,
        "levels": 0,
    }


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("No", False), ("1", True), (False, False)]
)
def test_bool_params_accept_command_line_spellings(value, expected):
    assert Param(bool, False).convert("flag", value) is expected


@pytest.mark.parametrize("value", ["maybe", 1, None])
def test_bool_params_refuse_other_values(value):
    with pytest.raises(EngineError, match="'flag' must be true or false"):
        Param(bool, False).convert("flag", value)


def test_choice_and_float_params():
    mode = Param(str, "fast", choices=("fast", "best"))
    assert mode.convert("mode", "best") == "best"
    with pytest.raises(EngineError, match="'mode' must be one of fast, best, got 'slow'"):
        mode.convert("mode", "slow")
    strength = Param(float, 0.5, minimum=0.0, maximum=1.0)
    assert strength.convert("strength", "0.25") == 0.25
    for bad in ("nan", "2", "x"):
        with pytest.raises(EngineError, match="'strength' must be a number from 0.0 to 1.0"):
            strength.convert("strength", bad)
