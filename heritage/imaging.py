"""Reading uploaded images safely and deriving RGB, preview and thumbnail renderings."""

import hashlib
import io
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
    if getattr(image, "n_frames", 1) > 1 and image.format != "TIFF":
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


def encode_png(image: Image.Image) -> bytes:
    """Lossless PNG bytes of an image."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def encode_resized_jpeg(image: Image.Image, *, longest_side: int, quality: int = 85) -> bytes:
    """JPEG bytes of `image` shrunk (never enlarged) to fit `longest_side`."""
    resized = image.copy()
    resized.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True)
    return buffer.getvalue()
