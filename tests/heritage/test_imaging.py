"""imaging.inspect: bad uploads are refused with a clear message, odd modes converted on purpose."""

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from heritage import imaging
from tests import factories

LIMIT = 150_000_000


def _encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _inspect(data: bytes, *, max_pixels: int = LIMIT) -> imaging.InspectedImage:
    return imaging.inspect(io.BytesIO(data), max_pixels=max_pixels)


def _rejection(data: bytes, *, max_pixels: int = LIMIT) -> str:
    with pytest.raises(imaging.ImageRejected) as caught:
        _inspect(data, max_pixels=max_pixels)
    return str(caught.value)


def test_inspect_refuses_an_empty_file():
    assert "empty" in _rejection(b"")


def test_inspect_refuses_text_that_is_not_an_image():
    message = _rejection(b"Mogao Cave 285, west wall\n" * 20)
    assert "not an image" in message
    assert "JPEG, PNG, TIFF or WebP" in message


@pytest.mark.parametrize("format", ["GIF", "BMP"])
def test_inspect_refuses_other_formats_naming_the_accepted_ones(format):
    noisy = Image.open(io.BytesIO(factories.png_bytes(32, 24)))
    message = _rejection(_encode(noisy, format))
    assert format in message
    assert "JPEG, PNG, TIFF or WebP" in message


@pytest.mark.parametrize("builder", [factories.jpeg_bytes, factories.png_bytes])
def test_inspect_refuses_a_truncated_file(builder):
    data = builder(64, 48)
    assert "truncated" in _rejection(data[: len(data) // 2])


def _with_declared_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with its IHDR claiming another size (CRC recomputed so it still parses)."""
    assert png[12:16] == b"IHDR"
    header = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    return png[:16] + header + crc + png[33:]


def test_inspect_refuses_a_decompression_bomb_without_decoding_it():
    bomb = _with_declared_size(_encode(Image.new("1", (8, 8)), "PNG"), 30_000, 30_000)
    assert len(bomb) < 1_000

    message = _rejection(bomb)
    assert "bomb" in message or "30000x30000" in message


@pytest.mark.parametrize("max_pixels", [2_500, 1_000])
def test_inspect_refuses_an_image_over_max_pixels_as_too_large(max_pixels):
    # 64x48 = 3,072 pixels of incompressible noise: a big image, not a bomb.
    message = _rejection(factories.png_bytes(64, 48), max_pixels=max_pixels)
    assert "at most" in message
    assert "HERITAGE_MAX_IMAGE_PIXELS" in message
    assert "bomb" not in message


def test_inspect_accepts_an_image_at_exactly_max_pixels():
    inspected = _inspect(factories.png_bytes(64, 48), max_pixels=64 * 48)
    assert (inspected.width, inspected.height) == (64, 48)


def test_inspect_leaves_pillows_global_pixel_limit_as_it_was():
    before = Image.MAX_IMAGE_PIXELS
    _rejection(factories.png_bytes(64, 48), max_pixels=2_500)
    _inspect(factories.png_bytes(64, 48), max_pixels=10_000)
    assert Image.MAX_IMAGE_PIXELS == before


def test_inspect_plain_rgb_jpeg_needs_no_conversion():
    inspected = _inspect(factories.jpeg_bytes(64, 48))
    assert inspected.format == "JPEG"
    assert inspected.mode == "RGB"
    assert (inspected.width, inspected.height) == (64, 48)
    assert inspected.conversions == []
    assert inspected.needs_working_copy is False


def test_inspect_rgb_tiff_needs_a_working_copy_for_browsers():
    noisy = Image.open(io.BytesIO(factories.png_bytes(32, 24)))
    inspected = _inspect(_encode(noisy, "TIFF"))
    assert inspected.format == "TIFF"
    assert inspected.conversions == []
    assert inspected.needs_working_copy is True


def test_inspect_applies_exif_orientation_6():
    # Stored 40x20 with a red block in the top-left corner; orientation 6 means "rotate 90
    # degrees clockwise to display", so upright it is 20x40 with the block top-right.
    pixels = np.full((20, 40, 3), 200, dtype=np.uint8)
    pixels[:8, :8] = (255, 0, 0)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6
    inspected = _inspect(_encode(image, "JPEG", exif=exif.tobytes(), quality=95))

    assert (inspected.width, inspected.height) == (20, 40)
    assert inspected.rgb.size == (20, 40)
    assert any("EXIF orientation 6" in step for step in inspected.conversions)
    assert inspected.needs_working_copy is True
    upright = np.asarray(inspected.rgb).astype(int)
    assert np.abs(upright[3, 16] - (255, 0, 0)).max() < 20  # top-right: red
    assert np.abs(upright[3, 3] - (200, 200, 200)).max() < 20  # top-left: background
    assert np.abs(upright[36, 16] - (200, 200, 200)).max() < 20  # bottom-right: background


def test_inspect_converts_cmyk_jpeg_to_rgb():
    inspected = _inspect(_encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"))
    assert inspected.mode == "CMYK"
    assert inspected.rgb.mode == "RGB"
    assert "CMYK converted to RGB" in inspected.conversions
    assert inspected.needs_working_copy is True
    red = np.asarray(inspected.rgb)[8, 8].astype(int)
    assert np.abs(red - (255, 0, 0)).max() < 20


def test_inspect_scales_16_bit_greyscale_by_its_range():
    values = np.array([[65535, 32768, 0, 257]], dtype=np.uint16)
    inspected = _inspect(_encode(Image.fromarray(values), "PNG"))

    assert inspected.mode.startswith("I;16")
    assert "16-bit greyscale scaled to 8 bits" in inspected.conversions
    rgb = np.asarray(inspected.rgb)
    assert rgb.dtype == np.uint8
    assert rgb.shape == (1, 4, 3)
    assert rgb[0, :, 0].tolist() == [255, 128, 0, 1]
    # Greyscale stays grey: the three channels are equal.
    assert (rgb == rgb[:, :, :1]).all()


def test_inspect_expands_a_palette_png_and_flattens_its_transparency_onto_white():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((0, 0), 1)
    inspected = _inspect(_encode(image, "PNG", transparency=1))

    assert inspected.mode == "P"
    assert "palette colours expanded to RGB" in inspected.conversions
    assert "transparent areas flattened onto white" in inspected.conversions
    rgb = np.asarray(inspected.rgb)
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[0, 1].tolist() == [255, 0, 0]


def test_inspect_flattens_transparent_rgba_pixels_onto_white():
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[...] = (20, 120, 60, 255)
    pixels[0, 0] = (20, 120, 60, 0)
    inspected = _inspect(_encode(Image.fromarray(pixels, "RGBA"), "PNG"))

    assert inspected.mode == "RGBA"
    assert inspected.conversions == ["transparent areas flattened onto white"]
    rgb = np.asarray(inspected.rgb)
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[2, 2].tolist() == [20, 120, 60]


def test_inspect_expands_greyscale_to_rgb():
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    inspected = _inspect(_encode(Image.fromarray(grey, "L"), "PNG"))

    assert inspected.mode == "L"
    assert inspected.conversions == ["greyscale expanded to RGB"]
    assert inspected.needs_working_copy is True
    rgb = np.asarray(inspected.rgb)
    assert rgb.shape == (4, 4, 3)
    assert (rgb[:, :, 0] == grey).all()
    assert (rgb[:, :, 2] == grey).all()


def test_sha256_of_leaves_the_stream_at_its_start():
    stream = io.BytesIO(b"original bytes")
    stream.seek(5)
    assert imaging.sha256_of(stream) == hashlib.sha256(b"original bytes").hexdigest()
    assert stream.tell() == 0
