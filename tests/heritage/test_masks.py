"""Tests for heritage.masks: simulated protocols, mask I/O and measures."""

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from heritage import masks

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _png(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


@pytest.mark.parametrize("protocol", sorted(masks.PROTOCOLS))
def test_simulate_is_a_pure_function_of_size_and_seed(protocol):
    first = masks.simulate(protocol, width=300, height=200, seed=7)
    again = masks.simulate(protocol, width=300, height=200, seed=7)
    other = masks.simulate(protocol, width=300, height=200, seed=8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("protocol", sorted(masks.PROTOCOLS))
@pytest.mark.parametrize(("width", "height"), [(256, 256), (720, 512), (31, 97)])
def test_simulate_returns_a_binary_uint8_mask_of_the_size(protocol, width, height):
    mask = masks.simulate(protocol, width=width, height=height, seed=3)
    assert mask.shape == (height, width)
    assert mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    assert mask.any()


def test_simulate_unknown_protocol_lists_the_valid_names():
    with pytest.raises(ValueError, match="Unknown damage protocol 'mold'.*blocks, dust, jelly"):
        masks.simulate("mold", width=64, height=64, seed=0)


@pytest.mark.parametrize(
    ("width", "height", "seed"), [(0, 64, 0), (64, -1, 0), (64.0, 64, 0), (True, 64, 0), (8, 8, -1)]
)
def test_simulate_refuses_bad_sizes_and_seeds(width, height, seed):
    with pytest.raises(ValueError):
        masks.simulate("dust", width=width, height=height, seed=seed)


def test_dust_at_canvas_size_is_one_walk_of_at_most_steps_plus_one_pixels():
    for seed in range(20):
        mask = masks.dust(width=256, height=256, seed=seed)
        damaged = int(np.count_nonzero(mask))
        assert 1_000 < damaged <= 10_001
        count, _ = cv2.connectedComponents(mask, connectivity=8)
        assert count - 1 == 1


def test_dust_scales_the_canvas_with_nearest_neighbour():
    small = masks.dust(width=256, height=256, seed=5)
    large = masks.dust(width=512, height=512, seed=5)
    assert np.array_equal(large[::2, ::2], small)


def test_jelly_is_smoother_than_dust_and_never_empty():
    for seed in range(20):
        dust = masks.dust(width=256, height=256, seed=seed)
        jelly = masks.jelly(width=256, height=256, seed=seed)
        assert jelly.any()
        assert masks.boundary_ratio(jelly) < 0.5 * masks.boundary_ratio(dust)


def test_jelly_is_not_empty_for_short_walks():
    for seed in range(20):
        assert masks.jelly(width=128, height=128, seed=seed, steps=50).any()


def test_blocks_coverage_stays_within_30_to_65_percent():
    for width, height in [(512, 512), (720, 480), (97, 31), (10, 10)]:
        for seed in range(200):
            cover = masks.coverage(masks.blocks(width=width, height=height, seed=seed))
            assert 0.30 <= cover <= 0.65, (width, height, seed, cover)


def test_blocks_refuses_an_image_too_small_for_the_fractions():
    with pytest.raises(ValueError, match="cannot be"):
        masks.blocks(width=1, height=1, seed=0)


def test_encode_png_then_read_mask_round_trips_exactly():
    mask = np.random.default_rng(0).integers(0, 256, (48, 64), dtype=np.uint8)
    data = masks.encode_png(mask)
    assert Image.open(io.BytesIO(data)).mode == "L"
    assert np.array_equal(masks.read_mask(data, width=64, height=48), mask)
    assert np.array_equal(masks.read_mask(io.BytesIO(data), width=64, height=48), mask)


def test_encode_png_refuses_non_masks():
    with pytest.raises(ValueError):
        masks.encode_png(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        masks.encode_png(np.zeros((4, 4), np.float32))


def test_read_mask_refuses_garbage_bytes():
    with pytest.raises(masks.MaskError, match="not a readable image"):
        masks.read_mask(b"certainly not a PNG", width=8, height=8)


def test_read_mask_refuses_a_truncated_png():
    noise = np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)
    data = masks.encode_png(noise)
    with pytest.raises(masks.MaskError, match="not a readable image"):
        masks.read_mask(data[: len(data) // 2], width=64, height=64)


def test_read_mask_refuses_the_wrong_size_with_both_sizes_and_offers_a_resize():
    data = masks.encode_png(np.zeros((512, 512), np.uint8))
    message = (
        "The mask is 512x512 pixels but the motif is 720x720; it has the motif's proportions, "
        "so it can be resized to 720x720"
    )
    with pytest.raises(masks.MaskSizeError, match=message) as refused:
        masks.read_mask(data, width=720, height=720)
    assert refused.value.resizable
    assert (refused.value.size, refused.value.expected) == ((512, 512), (720, 720))


def test_read_mask_resizes_a_mask_of_the_same_proportions_with_nearest_neighbour():
    small = np.zeros((512, 512), np.uint8)
    small[100:300, 50:200] = 255
    small[400:420, 400:500] = 90  # a fading grey level stays that grey level
    data = masks.encode_png(small)

    mask, size = masks.read_mask_sized(data, width=720, height=720, resize=True)

    assert size == (512, 512) and mask.shape == (720, 720)
    assert np.array_equal(mask, cv2.resize(small, (720, 720), interpolation=cv2.INTER_NEAREST))
    assert set(np.unique(mask)) == {0, 90, 255}
    exact = masks.encode_png(np.zeros((720, 720), np.uint8))
    assert masks.read_mask_sized(exact, width=720, height=720, resize=True)[1] == (720, 720)


@pytest.mark.parametrize(
    ("size", "expected", "same"),
    [
        ((512, 512), (720, 720), True),
        ((720, 720), (512, 512), True),
        ((1000, 667), (3000, 2000), True),  # 2000 x 2/3, rounded
        ((64, 43), (3000, 2000), True),
        ((500, 300), (720, 720), False),
        ((10, 10), (11, 10), False),  # half a pixel is 10% of a tiny side
        ((720, 480), (480, 720), False),  # turned a quarter
    ],
)
def test_same_proportions_allows_only_whole_pixel_rounding(size, expected, same):
    assert masks.same_proportions(size, expected) is same


def test_read_mask_refuses_other_proportions_even_with_resize_naming_both_sizes():
    data = masks.encode_png(np.zeros((300, 500), np.uint8))
    with pytest.raises(masks.MaskSizeError, match="500x300 pixels but the motif is 720x720: ") as e:
        masks.read_mask(data, width=720, height=720, resize=True)
    assert not e.value.resizable


def test_read_mask_refuses_to_resize_a_mask_of_far_more_pixels_than_the_motif():
    data = masks.encode_png(np.zeros((300, 300), np.uint8))
    with pytest.raises(masks.MaskSizeError, match="more than 4 times the motif's pixels"):
        masks.read_mask(data, width=100, height=100, resize=True)
    assert masks.read_mask(data, width=150, height=150, resize=True).shape == (150, 150)


def test_read_mask_refuses_a_colour_photograph():
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    with pytest.raises(masks.MaskError, match="looks like a photograph, not a mask"):
        masks.read_mask(_png(photo), width=50, height=40)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA"])
def test_read_mask_converts_modes_to_grey(mode):
    grey = np.zeros((20, 30), np.uint8)
    grey[5:15, 10:20] = 255
    image = Image.fromarray(grey).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert np.array_equal(masks.read_mask(buffer.getvalue(), width=30, height=20), grey)


def test_read_mask_keeps_grey_levels_of_fading():
    fading = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    rgb = np.repeat(fading[..., None], 3, axis=2)
    assert np.array_equal(masks.read_mask(_png(rgb), width=64, height=8), fading)


def test_read_mask_scales_16_bit_grey():
    deep = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    mask = masks.read_mask(_png(deep), width=3, height=1)
    assert mask.dtype == np.uint8
    assert mask.tolist() == [[0, 128, 255]]


def test_read_mask_reads_a_single_colour_drawn_on_transparency_from_alpha():
    rgba = np.zeros((10, 10, 4), np.uint8)  # black strokes: colour channels are all 0
    rgba[2:5, 2:8, 3] = 255
    mask = masks.read_mask(_png(rgba), width=10, height=10)
    assert np.array_equal(mask, rgba[..., 3])


def test_read_mask_applies_exif_orientation():
    grey = np.zeros((20, 30), np.uint8)
    grey[0, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: displayed rotated 90 degrees clockwise
    data = _png(grey, exif=exif)
    with pytest.raises(masks.MaskError, match="The mask is 20x30"):
        masks.read_mask(data, width=30, height=20)
    mask = masks.read_mask(data, width=20, height=30)
    assert np.array_equal(mask, np.rot90(grey, -1))


def test_binary_and_coverage_threshold_at_127():
    mask = np.array([[0, 127, 128, 255]], np.uint8)
    assert masks.binary(mask).tolist() == [[False, False, True, True]]
    assert masks.coverage(mask) == 0.5


def test_boundary_ratio_is_lower_for_blocks_than_for_scattered_pixels():
    square = np.zeros((100, 100), np.uint8)
    square[10:90, 10:90] = 255
    checker = np.zeros((100, 100), np.uint8)
    checker[::2, ::2] = 255
    assert masks.boundary_ratio(checker) == 1.0
    assert masks.boundary_ratio(square) == pytest.approx(4 * 79 / 80**2)
    with pytest.raises(ValueError):
        masks.boundary_ratio(np.zeros((4, 4), np.uint8))


@pytest.mark.skipif(not (DATA / "masks").is_dir(), reason="shared test data absent")
def test_read_mask_reads_the_real_masks_and_refuses_the_murals():
    for path in sorted((DATA / "masks").glob("*.png")):
        width, height = Image.open(path).size
        mask = masks.read_mask(path.read_bytes(), width=width, height=height)
        assert mask.shape == (height, width) and mask.dtype == np.uint8
        assert 0 < masks.coverage(mask) < 1
    for name in ["dh_muralnet_000740.jpg", "dh_qinglv_landscape_dh1.jpg"]:
        path = DATA / "murals" / name
        width, height = Image.open(path).size
        with pytest.raises(masks.MaskError, match="photograph"):
            masks.read_mask(path.read_bytes(), width=width, height=height)
