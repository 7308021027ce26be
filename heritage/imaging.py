"""Reading uploaded images safely and deriving RGB, preview and thumbnail renderings."""

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# A truncated upload must be refused, never silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ACCEPTED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "WEBP": "WebP"}
BROWSER_FORMATS = {"JPEG", "PNG", "WEBP"}
# Photographs and scans take well over a byte per 250 pixels even when nearly flat (a flat
# JPEG needs a few bits per 8x8 block); fewer means a file built to expand in memory (a
# decompression bomb: PNG's deflate reaches about 1,000 pixels per byte in greyscale).
BOMB_PIXELS_PER_BYTE = 250
# Below this many pixels (about 6 MB decoded as RGB) decoding is cheap whatever the file size,
# so tiny flat images (icons, solid test cards) are not mistaken for bombs.
BOMB_MIN_PIXELS = 2_000_000


class ImageRejected(ValueError):
    """An upload that is not an image the catalogue can hold; the message is for the user."""


@dataclass(frozen=True)
class InspectedImage:
    """An upload that passed every check, with its RGB rendering (EXIF orientation applied)."""

    format: str
    mode: str
    width: int
    height: int
    rgb: Image.Image
    conversions: list[str] = field(default_factory=list)

    @property
    def needs_working_copy(self) -> bool:
        """True when the original cannot stand in for the RGB image engines and browsers use."""
        return bool(self.conversions) or self.format not in BROWSER_FORMATS


def sha256_of(stream: BinaryIO) -> str:
    """Hex sha256 of a stream's whole content; leaves the stream at its start."""
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def inspect(stream: BinaryIO, *, max_pixels: int) -> InspectedImage:
    """Decode an upload fully and convert it to RGB on purpose, recording each conversion.

    Raises ImageRejected for empty files, non-images, formats other than JPEG/PNG/TIFF/WebP,
    truncated files, decompression bombs and images over `max_pixels`.
    """
    stream.seek(0, io.SEEK_END)
    if stream.tell() == 0:
        raise ImageRejected("The file is empty.")
    stream.seek(0)
    image = _open_checked(stream, max_pixels)
    return _to_rgb(image)


def _open_checked(stream: BinaryIO, max_pixels: int) -> Image.Image:
    try:
        # Image.open reads headers only; the pixel count is checked below before decoding.
        image = Image.open(stream)
    except Image.DecompressionBombError as exc:
        # Only when a process lowered Pillow's global limit (the app lifts it at start-up).
        raise ImageRejected(f"The image has too many pixels to be decoded safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            "The file is not an image this catalogue can read (use JPEG, PNG, TIFF or WebP)."
        ) from exc
    except OSError as exc:
        if "truncated" in str(exc).lower():
            raise ImageRejected(
                "The image file is truncated (incomplete upload or damaged file)."
            ) from exc
        raise ImageRejected(f"The image file could not be read: {exc}.") from exc
    multi_picture = image.format == "MPO"
    if multi_picture:
        # Cameras (stereo, many phones) write Multi-Picture JPEGs: a JPEG whose first frame is
        # the photograph, followed by previews or a second view. Any JPEG reader shows that
        # first frame, and so does the catalogue: it is stored and used as a JPEG.
        image.seek(0)
        image.format = "JPEG"
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(f"{image.format} images are not accepted; use JPEG, PNG, TIFF or WebP.")
    width, height = image.size
    # The bomb check applies at every size, not only above the pixel limit: a small file that
    # expands to a large image costs the server memory whatever the limit is.
    position = stream.tell()
    file_size = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    if width * height > BOMB_MIN_PIXELS and file_size * BOMB_PIXELS_PER_BYTE < width * height:
        raise ImageRejected(
            f"The file declares a {width}x{height} image in only {file_size:,} bytes "
            "(a decompression bomb) and was refused."
        )
    if width * height > max_pixels:
        raise ImageRejected(_too_large_message(image.size, max_pixels))
    if getattr(image, "n_frames", 1) > 1 and image.format != "TIFF" and not multi_picture:
        raise ImageRejected("Animated images are not accepted; upload a single still image.")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        message = str(exc)
        if "truncated" in message or "broken data stream" in message or "EOF" in message:
            raise ImageRejected(
                "The image file is truncated (incomplete upload or damaged file)."
            ) from exc
        raise ImageRejected(
            f"The image data is damaged and could not be decoded: {message}."
        ) from exc
    return image


def _too_large_message(size: tuple[int, int], max_pixels: int) -> str:
    width, height = size
    return (
        f"The image is {width}x{height} ({width * height:,} pixels); this installation "
        f"accepts at most {max_pixels:,} pixels (HERITAGE_MAX_IMAGE_PIXELS)."
    )


def _to_rgb(image: Image.Image) -> InspectedImage:
    conversions: list[str] = []
    source_format, source_mode = image.format, image.mode

    orientation = image.getexif().get(0x0112, 1)
    if orientation not in (1, None):
        image = ImageOps.exif_transpose(image)
        conversions.append(f"rotated/flipped upright from EXIF orientation {orientation}")

    mode = image.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        image = _high_bit_depth_to_l(image)
        conversions.append(f"{_depth_label(mode)} greyscale scaled to 8 bits")
        mode = "L"
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        conversions.append("palette colours expanded to RGB")
        mode = image.mode
    if mode in {"RGBA", "LA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[:, :, 3]
        if alpha.min() < 255:
            conversions.append("transparent areas flattened onto white")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba).convert("RGB")
        mode = "RGB"
    if mode == "CMYK":
        image = image.convert("RGB")
        conversions.append("CMYK converted to RGB")
        mode = "RGB"
    if mode in {"L", "1"}:
        image = image.convert("RGB")
        conversions.append("greyscale expanded to RGB" if mode == "L" else "1-bit expanded to RGB")
        mode = "RGB"
    if mode in {"YCbCr", "LAB", "HSV"}:
        image = image.convert("RGB")
        conversions.append(f"{mode} converted to RGB")
        mode = "RGB"
    if mode != "RGB":
        raise ImageRejected(f"Images in colour mode {mode} are not supported.")

    return InspectedImage(
        format=source_format,
        mode=source_mode,
        width=image.width,
        height=image.height,
        rgb=image,
        conversions=conversions,
    )


def _depth_label(mode: str) -> str:
    return {"F": "32-bit float", "I": "32-bit"}.get(mode, "16-bit")


def _high_bit_depth_to_l(image: Image.Image) -> Image.Image:
    # Scale by the type's range, not the image's own min/max, so dark scans stay dark.
    array = np.asarray(image)
    if image.mode == "F":
        scaled = np.clip(array, 0.0, 1.0 if array.max() <= 1.0 else 65535.0)
        scale = 255.0 / (1.0 if array.max() <= 1.0 else 65535.0)
    else:
        scaled = np.clip(array, 0, 65535)
        scale = 255.0 / 65535.0
    return Image.fromarray(np.round(scaled * scale).astype(np.uint8), mode="L")


def _without_info(image: Image.Image) -> Image.Image:
    """A copy that carries none of the source's metadata (EXIF and its GPS, XMP, comments)."""
    clean = image.copy()
    clean.info = {}
    return clean


def encode_png(image: Image.Image) -> bytes:
    """Lossless PNG bytes of an image, with no metadata."""
    buffer = io.BytesIO()
    _without_info(image).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def encode_resized_jpeg(image: Image.Image, *, longest_side: int, quality: int = 85) -> bytes:
    """JPEG bytes of `image` shrunk (never enlarged) to fit `longest_side`, with no metadata."""
    resized = _without_info(image)
    resized.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True)
    return buffer.getvalue()


# Lossless removal of metadata from stored originals, for the full-resolution photograph of a
# published work: the pixels are sent as uploaded, EXIF (camera, GPS), XMP, IPTC and comments not.
# Streams in chunks: an original of hundreds of megabytes is never read into memory at once.

_CHUNK = 1 << 20
# JPEG segments kept before the image data: JFIF (APP0), ICC profile (APP2), Adobe (APP14).
_JPEG_KEEP_APP = {0xE0, 0xEE}
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
_WEBP_DROP = {b"EXIF", b"XMP "}


def without_metadata(stream: BinaryIO) -> Iterator[bytes]:
    """The bytes of a stored JPEG, PNG or WebP with every metadata segment or chunk left out.

    Raises ImageRejected for other formats (TIFF originals always have a working copy).
    """
    stream.seek(0)
    head = stream.read(12)
    stream.seek(0)
    if head[:3] == b"\xff\xd8\xff":
        return _jpeg_without_metadata(stream)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_without_metadata(stream)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_without_metadata(stream)
    raise ImageRejected("Only JPEG, PNG and WebP files can be sent without their metadata.")


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ImageRejected("The image file is truncated.")
    return data


def _copy(stream: BinaryIO, size: int) -> Iterator[bytes]:
    while size > 0:
        data = _read_exactly(stream, min(size, _CHUNK))
        size -= len(data)
        yield data


def _jpeg_without_metadata(stream: BinaryIO) -> Iterator[bytes]:
    yield _read_exactly(stream, 2)  # SOI
    while True:
        marker = _read_exactly(stream, 2)
        if marker[0] != 0xFF:
            raise ImageRejected("The JPEG file is damaged (no marker where one was expected).")
        while marker[1] == 0xFF:  # fill bytes before a marker
            marker = marker[1:] + _read_exactly(stream, 1)
        code = marker[1]
        if code == 0xD9:  # EOI with no image data
            yield marker
            return
        length_bytes = _read_exactly(stream, 2)
        length = int.from_bytes(length_bytes, "big")
        if code == 0xDA:  # start of scan: the image data follows, copied up to its EOI
            yield marker + length_bytes
            yield from _jpeg_scan_data(stream)
            return
        is_app = 0xE0 <= code <= 0xEF
        if code == 0xE2:
            payload = _read_exactly(stream, length - 2)
            if payload.startswith(b"ICC_PROFILE\x00"):
                yield marker + length_bytes + payload
            continue
        if code == 0xFE or (is_app and code not in _JPEG_KEEP_APP):
            stream.seek(length - 2, io.SEEK_CUR)
            continue
        yield marker + length_bytes
        yield from _copy(stream, length - 2)


def _jpeg_scan_data(stream: BinaryIO) -> Iterator[bytes]:
    """Everything up to and including the first EOI (0xFFD9 never occurs inside scan data);
    what follows it (an MPO's second image, with its own EXIF) is left out."""
    carry = b""
    while True:
        data = stream.read(_CHUNK)
        if not data:
            if carry:
                yield carry
            return
        data = carry + data
        end = data.find(b"\xff\xd9")
        if end >= 0:
            yield data[: end + 2]
            return
        carry = data[-1:]
        yield data[:-1]


def _png_without_metadata(stream: BinaryIO) -> Iterator[bytes]:
    yield _read_exactly(stream, 8)
    while True:
        header = stream.read(8)
        if not header:
            return
        if len(header) != 8:
            raise ImageRejected("The image file is truncated.")
        length, kind = int.from_bytes(header[:4], "big"), header[4:]
        if kind in _PNG_DROP:
            stream.seek(length + 4, io.SEEK_CUR)
            continue
        yield header
        yield from _copy(stream, length + 4)
        if kind == b"IEND":
            return


def _webp_without_metadata(stream: BinaryIO) -> Iterator[bytes]:
    riff_size = int.from_bytes(_read_exactly(stream, 12)[4:8], "little")
    # First pass over the chunk headers: how many bytes are left out, for the RIFF size.
    chunks, position, end, dropped = [], 12, 8 + riff_size, 0
    while position + 8 <= end:
        stream.seek(position)
        header = _read_exactly(stream, 8)
        size = int.from_bytes(header[4:], "little")
        padded = size + (size & 1)
        chunks.append((position, header[:4], padded))
        if header[:4] in _WEBP_DROP:
            dropped += 8 + padded
        position += 8 + padded
    yield b"RIFF" + (riff_size - dropped).to_bytes(4, "little") + b"WEBP"
    for start, kind, padded in chunks:
        if kind in _WEBP_DROP:
            continue
        stream.seek(start)
        if kind == b"VP8X":
            header = _read_exactly(stream, 8)
            flags = _read_exactly(stream, 1)[0] & ~0x0C  # no EXIF (0x08), no XMP (0x04)
            yield header + bytes([flags])
            yield from _copy(stream, padded - 1)
        else:
            yield from _copy(stream, 8 + padded)
