"""`manage.py restore`: one engine on one image file from the command line, no database."""

import io
import re

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from heritage import masks

WIDTH, HEIGHT = 64, 48


@pytest.fixture
def picture():
    """A textured RGB image: gradients plus noise, so every engine has something to copy."""
    rng = np.random.default_rng(7)
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([rows * 4, cols * 3, (rows + cols) * 2], axis=-1)
    return np.clip(base + rng.integers(0, 40, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def damage():
    """A 12x10 damaged rectangle away from the borders (uint8, 255 = damaged)."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[18:28, 26:38] = 255
    return mask


@pytest.fixture
def files(tmp_path, picture, damage):
    """Paths of the input PNG, its mask PNG and the output to write."""
    image_path = tmp_path / "mural.png"
    Image.fromarray(picture).save(image_path)
    mask_path = tmp_path / "mask.png"
    mask_path.write_bytes(masks.encode_png(damage))
    return image_path, mask_path, tmp_path / "restored.png"


def restore(image, mask, out, *extra: str, engine: str = "telea") -> str:
    """Run the command; returns what it printed."""
    stdout = io.StringIO()
    call_command(
        "restore",
        str(image),
        "--mask",
        str(mask),
        "--engine",
        engine,
        "--out",
        str(out),
        *extra,
        stdout=stdout,
    )
    return stdout.getvalue()


@pytest.mark.parametrize("engine", ["telea", "navier_stokes", "exemplar"])
def test_restore_keeps_intact_pixels_byte_identical(files, picture, damage, engine):
    image, mask, out = files

    restore(image, mask, out, engine=engine)

    result = np.asarray(Image.open(out))
    assert result.shape == picture.shape
    intact = damage == 0
    assert np.array_equal(result[intact], picture[intact])
    assert not np.array_equal(result[~intact], picture[~intact])


def test_restore_prints_the_seconds(files):
    printed = restore(*files)

    assert re.search(r"in \d+\.\d\d s", printed)
    assert "restored.png" in printed and "telea" in printed


def test_restore_with_colour_correction_keeps_intact_pixels(files, picture, damage):
    image, mask, out = files

    restore(image, mask, out, "--colour-correction")

    result = np.asarray(Image.open(out))
    assert np.array_equal(result[damage == 0], picture[damage == 0])


def test_restore_accepts_an_engine_parameter(files, tmp_path):
    image, mask, out = files
    default_out = tmp_path / "default.png"

    restore(image, mask, out, "--param", "radius=9")
    restore(image, mask, default_out)

    # The parameter reaches the engine: a wider neighbourhood fills the hole differently.
    assert out.read_bytes() != default_out.read_bytes()


def test_restore_rejects_an_unknown_parameter(files):
    with pytest.raises(CommandError, match="'nope'"):
        restore(*files, "--param", "nope=1")


def test_restore_rejects_a_parameter_without_value(files):
    with pytest.raises(CommandError, match="KEY=VALUE"):
        restore(*files, "--param", "radius")


def test_restore_rejects_an_out_of_range_parameter(files):
    with pytest.raises(CommandError, match="radius"):
        restore(*files, "--param", "radius=500")


def test_restore_rejects_an_unknown_engine_listing_the_known_ones(files):
    with pytest.raises(CommandError) as raised:
        restore(*files, engine="magic")

    message = str(raised.value)
    assert "'magic'" in message
    for name in ("exemplar", "navier_stokes", "telea"):
        assert name in message


def test_restore_rejects_a_mask_of_another_size_naming_both(files, tmp_path):
    image, _, out = files
    small = tmp_path / "small.png"
    small.write_bytes(masks.encode_png(np.full((20, 30), 255, dtype=np.uint8)))

    with pytest.raises(CommandError) as raised:
        restore(image, small, out)

    assert "30x20" in str(raised.value) and f"{WIDTH}x{HEIGHT}" in str(raised.value)
    assert not out.exists()


def test_restore_rejects_an_empty_mask(files, tmp_path):
    image, _, out = files
    empty = tmp_path / "empty.png"
    empty.write_bytes(masks.encode_png(np.zeros((HEIGHT, WIDTH), dtype=np.uint8)))

    with pytest.raises(CommandError, match="no damage"):
        restore(image, empty, out)
    assert not out.exists()


def test_restore_rejects_steps_for_an_engine_without_steps(files):
    # Telea has no denoising steps; the command must say so rather than ignore --steps.
    with pytest.raises(CommandError) as raised:
        restore(*files, "--steps", "20")

    message = str(raised.value)
    assert "steps" in message and "telea" in message


def test_restore_rejects_a_file_that_is_not_an_image(files, tmp_path):
    _, mask, out = files
    text = tmp_path / "notes.png"
    text.write_text("not a picture")

    with pytest.raises(CommandError, match="notes.png"):
        restore(text, mask, out)


def test_restore_rejects_a_missing_input(files, tmp_path):
    _, mask, out = files

    with pytest.raises(CommandError, match="Cannot read"):
        restore(tmp_path / "absent.png", mask, out)


def test_restore_rejects_a_missing_output_folder(files, tmp_path):
    image, mask, _ = files

    with pytest.raises(CommandError, match="does not exist"):
        restore(image, mask, tmp_path / "nowhere" / "out.png")


def test_restore_same_seed_gives_identical_files_for_exemplar(files, tmp_path):
    image, mask, first = files
    second = tmp_path / "again.png"

    restore(image, mask, first, "--seed", "5", engine="exemplar")
    restore(image, mask, second, "--seed", "5", engine="exemplar")

    assert first.read_bytes() == second.read_bytes()


def test_restore_refuses_a_lossy_or_unknown_output_before_running(tmp_path):
    from django.core.management import CommandError, call_command

    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(image)
    damage = np.zeros((32, 32), np.uint8)
    damage[8:16, 8:16] = 255
    Image.fromarray(damage).save(mask)
    for name in ("out.jpg", "out", "out.xyz"):
        with pytest.raises(CommandError, match="lossless"):
            call_command(
                "restore", str(image), mask=str(mask), engine="telea", out=str(tmp_path / name)
            )
        assert not (tmp_path / name).exists()


def test_restore_runs_an_engine_with_weights_from_a_path(files, tmp_path, settings, damage):
    from tests.restoration import fakes

    fakes.with_test_engines(settings)
    weights = tmp_path / "fill.bin"
    weights.write_bytes(bytes([77]) * 16)
    image, mask, out = files

    printed = restore(
        image, mask, out, "--checkpoint", str(weights), "--device", "cpu", engine="weights"
    )

    restored = np.asarray(Image.open(out))
    assert (restored[damage > 127] == 77).all()
    assert ", cpu) in" in printed
    assert 'Engine details: {"device": "cpu", "fill": 77}' in printed


def test_restore_refuses_an_engine_that_needs_weights_without_them(files, settings):
    from tests.restoration import fakes

    fakes.with_test_engines(settings)
    with pytest.raises(CommandError, match="Engine 'weights' needs a checkpoint"):
        restore(*files, "--device", "cpu", engine="weights")


def test_restore_refuses_an_unknown_device(files):
    with pytest.raises(CommandError, match="HERITAGE_DEVICE must be auto, cpu or cuda"):
        restore(*files, "--device", "tpu")
