"""The procedural demo artworks: determinism, sizes, true damage masks, colours, metadata."""

from dataclasses import FrozenInstanceError
from functools import cache

import cv2
import numpy as np
import pytest

from heritage import demo

GENERATORS = [demo.rock_art, demo.mural_panel]
SEEDS = range(6)


@cache
def _art(name: str, seed: int, damaged: bool = True) -> demo.DemoArtwork:
    return getattr(demo, name)(seed=seed, damaged=damaged)


def _rgb(artwork: demo.DemoArtwork) -> np.ndarray:
    return np.asarray(artwork.image)


def _hsv(artwork: demo.DemoArtwork) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV hue (0-179) and saturation (0-1) of every pixel."""
    hsv = cv2.cvtColor(_rgb(artwork), cv2.COLOR_RGB2HSV)
    return hsv[..., 0], hsv[..., 1] / 255.0


@pytest.mark.parametrize("generate", GENERATORS, ids=lambda g: g.__name__)
def test_demo_same_seed_gives_identical_artwork(generate):
    first, second = generate(seed=7), generate(seed=7)

    assert np.array_equal(_rgb(first), _rgb(second))
    assert np.array_equal(first.damage, second.damage)
    assert (first.title, first.description, first.damage_kinds) == (
        second.title,
        second.description,
        second.damage_kinds,
    )


@pytest.mark.parametrize("name", ["rock_art", "mural_panel"])
def test_demo_different_seeds_give_different_images(name):
    images = [_rgb(_art(name, seed)) for seed in SEEDS]

    for i, a in enumerate(images):
        for b in images[i + 1 :]:
            assert np.abs(a.astype(int) - b.astype(int)).mean() > 5


@pytest.mark.parametrize("generate", GENERATORS, ids=lambda g: g.__name__)
@pytest.mark.parametrize("size", [(768, 512), (320, 200), (200, 330)])
def test_demo_honours_requested_size(generate, size):
    width, height = size
    artwork = generate(seed=1, width=width, height=height)

    assert artwork.image.mode == "RGB"
    assert artwork.image.size == (width, height)
    assert artwork.damage.shape == (height, width)
    assert artwork.damage.dtype == np.uint8


def test_demo_default_size_is_768_by_512():
    assert _art("rock_art", 0).image.size == (768, 512)
    assert _art("mural_panel", 0).image.size == (768, 512)


@pytest.mark.parametrize("name", ["rock_art", "mural_panel"])
@pytest.mark.parametrize("seed", SEEDS)
def test_demo_damage_mask_is_binary_with_plausible_coverage(name, seed):
    artwork = _art(name, seed)

    assert set(np.unique(artwork.damage)) <= {0, 255}
    assert 0.01 <= (artwork.damage > 0).mean() <= 0.25
    assert artwork.damage_kinds
    assert set(artwork.damage_kinds) <= set(demo.DAMAGE_KINDS)
    assert list(artwork.damage_kinds) == sorted(artwork.damage_kinds, key=demo.DAMAGE_KINDS.index)


@pytest.mark.parametrize("name", ["rock_art", "mural_panel"])
def test_demo_intact_variant_has_no_damage(name):
    artwork = _art(name, 2, damaged=False)

    assert not artwork.damage.any()
    assert artwork.damage_kinds == ()
    assert "no damage" in artwork.description


@pytest.mark.parametrize("name", ["rock_art", "mural_panel"])
@pytest.mark.parametrize("seed", SEEDS)
def test_demo_intact_and_damaged_differ_exactly_inside_the_mask(name, seed):
    damaged, intact = _art(name, seed), _art(name, seed, damaged=False)
    inside = damaged.damage > 0
    a, b = _rgb(damaged).astype(int), _rgb(intact).astype(int)

    assert np.array_equal(a[~inside], b[~inside])
    changed = (a != b).any(axis=2)
    assert changed[inside].all()
    # visible to a curator, not a 1-level nudge
    assert np.abs(a - b)[inside].mean() > 8


@pytest.mark.parametrize("name", ["rock_art", "mural_panel"])
def test_demo_intact_variant_keeps_the_same_metadata(name):
    damaged, intact = _art(name, 4), _art(name, 4, damaged=False)

    assert (damaged.title, damaged.style, damaged.era, damaged.medium) == (
        intact.title,
        intact.style,
        intact.era,
        intact.medium,
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_rock_art_pigment_is_red_ochre(seed):
    # the grey-buff limestone is dull, so the most saturated pixels are the paint
    hue, sat = _hsv(_art("rock_art", seed, damaged=False))
    top = sat >= np.quantile(sat, 0.97)

    red_or_orange = (hue[top] <= 20) | (hue[top] >= 170)
    assert red_or_orange.mean() > 0.9
    assert sat[top].mean() > 0.4


@pytest.mark.parametrize("seed", SEEDS)
def test_rock_art_cliff_is_a_dull_stone(seed):
    hue, sat = _hsv(_art("rock_art", seed, damaged=False))

    assert np.median(sat) < 0.3


@pytest.mark.parametrize("seed", SEEDS)
def test_mural_shows_malachite_azurite_and_cinnabar(seed):
    hue, sat = _hsv(_art("mural_panel", seed, damaged=False))
    coloured = sat > 0.1

    green = coloured & (hue >= 35) & (hue < 90)
    blue = coloured & (hue >= 90) & (hue < 135)
    red = coloured & ((hue < 12) | (hue >= 165))
    for pigment in (green, blue, red):
        assert pigment.mean() > 0.003


@pytest.mark.parametrize("seed", SEEDS)
def test_mural_ground_is_a_warm_earth(seed):
    hue, _ = _hsv(_art("mural_panel", seed, damaged=False))

    assert 5 <= np.median(hue) <= 35


@pytest.mark.parametrize("name", ["rock_art", "mural_panel"])
def test_demo_metadata_is_filled_and_varies(name):
    artworks = [_art(name, seed) for seed in SEEDS]

    for artwork in artworks:
        for text in (artwork.title, artwork.style, artwork.era, artwork.medium):
            assert text.strip()
        assert "Synthetic" in artwork.description
        assert "Rendered damage" in artwork.description
    assert len({a.title for a in artworks}) >= 4


def test_demo_styles_name_their_tradition():
    assert "Huashan" in _art("rock_art", 0).style
    assert "Dunhuang" in _art("mural_panel", 0).style
    eras = {_art("mural_panel", seed).era for seed in SEEDS}
    assert len(eras) >= 2


def test_demo_artwork_is_frozen():
    with pytest.raises(FrozenInstanceError):
        _art("rock_art", 0).title = "changed"


@pytest.mark.parametrize("generate", GENERATORS, ids=lambda g: g.__name__)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": -1},
        {"seed": 1.5},
        {"seed": 0, "width": 10},
        {"seed": 0, "height": 100_000},
        {"seed": 0, "width": 300.0},
    ],
)
def test_demo_rejects_bad_arguments(generate, kwargs):
    with pytest.raises(ValueError):
        generate(**kwargs)


def test_landscape_photo_is_a_deterministic_undamaged_photograph_of_the_asked_size():
    first = demo.landscape_photo(seed=7, width=160, height=96)
    again = demo.landscape_photo(seed=7, width=160, height=96)
    other = demo.landscape_photo(seed=8, width=160, height=96)
    pixels = np.asarray(first.image)
    assert first.image.mode == "RGB" and pixels.shape == (96, 160, 3)
    assert np.array_equal(pixels, np.asarray(again.image))
    assert not np.array_equal(pixels, np.asarray(other.image))
    assert first.damage.shape == (96, 160) and not first.damage.any() and first.damage_kinds == ()
    # A landscape: sky brighter and bluer at the top than the grass at the bottom.
    sky, ground = pixels[:10].reshape(-1, 3).mean(0), pixels[-10:].reshape(-1, 3).mean(0)
    assert sky[2] > sky[1] and ground[1] > ground[2] and sky.sum() > ground.sum()
    assert first.style == "Landscape photograph" and "generated" in first.title
    with pytest.raises(ValueError, match="width must be between"):
        demo.landscape_photo(seed=1, width=32, height=96)
