"""What the app writes or sends of an upload carries none of its metadata (camera, GPS, text)."""

import io

import numpy as np
import pytest
from PIL import Image

from heritage import imaging, services
from heritage.models import Motif

CAMERA = "Heritage Test Camera"


def _exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CAMERA
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (40.0, 2.0, 30.0)}
    return exif


def _photo(format: str, **params) -> tuple[bytes, Image.Image]:
    pixels = np.random.default_rng(7).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue(), image


def _assert_clean(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert not dict(image.getexif())
    assert not {"exif", "comment", "xmp", "XML:com.adobe.xmp"} & set(image.info)
    assert CAMERA.encode() not in data and b"secret" not in data
    return image


@pytest.mark.parametrize(
    "format, params",
    [
        ("JPEG", {"exif": _exif(), "comment": b"secret place", "quality": 95}),
        ("JPEG", {"exif": _exif(), "progressive": True, "quality": 90}),
        ("PNG", {"exif": _exif()}),
        ("WEBP", {"exif": _exif(), "xmp": b"<x:xmpmeta>secret</x:xmpmeta>", "lossless": True}),
    ],
)
def test_without_metadata_keeps_every_pixel_and_drops_exif_xmp_and_comments(format, params):
    data, _ = _photo(format, **params)
    assert CAMERA.encode() in data
    sent = b"".join(imaging.without_metadata(io.BytesIO(data)))
    clean = _assert_clean(sent)
    original = Image.open(io.BytesIO(data))
    assert np.array_equal(np.asarray(clean), np.asarray(original.convert(clean.mode)))


def test_without_metadata_leaves_out_what_follows_the_first_jpeg_image():
    first, _ = _photo("JPEG", exif=_exif())
    second, _ = _photo("JPEG", exif=_exif(), comment=b"secret second frame")
    sent = b"".join(imaging.without_metadata(io.BytesIO(first + second)))
    _assert_clean(sent)
    assert sent.endswith(b"\xff\xd9") and len(sent) < len(first)


def test_derived_renderings_of_a_camera_photo_carry_no_metadata(db, curator, media):
    # Rotated by EXIF, so a working copy is made too; with a comment and GPS.
    data, _ = _photo("JPEG", exif=_exif(orientation=6), comment=b"secret place")
    motif = services.motif_create(
        uploaded_by=curator,
        file=io.BytesIO(data),
        filename="IMG_0001.JPG",
        site=services.site_get_or_create(name="Test site"),
        title="Rotated",
    )
    motif = Motif.objects.get(pk=motif.pk)
    assert motif.working, "an EXIF-rotated upload gets an upright working copy"
    for file in (motif.working, motif.preview, motif.thumbnail):
        with file.open("rb") as handle:
            _assert_clean(handle.read())
    with motif.original.open("rb") as handle:
        assert handle.read() == data, "the original is stored untouched"
