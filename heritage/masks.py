"""Damage masks: simulated protocols, reading, writing and measuring."""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO

import cv2
import numpy as np
from PIL import ExifTags, Image

CANVAS = 256  # seed 003 draws dust- and jelly-like masks on a 256x256 canvas
DUST_STEPS = 10_000

# The 8 neighbour moves (row, column) of the dust-like random walk.
_MOVES = np.array(
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64
)

# Channel spread (max - min, 0-255) above which a pixel counts as coloured, and the share of
# coloured pixels above which an RGB file is a photograph; the slack absorbs JPEG chroma noise.
_COLOUR_SPREAD = 32
_COLOURED_SHARE = 0.005

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


_UNREADABLE = "The mask file is not a readable image"
# What Pillow's decoders raise for garbage or truncated data.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


class MaskError(ValueError):
    """A mask file that cannot be used; the message is meant for the person who uploaded it."""


class MaskSizeError(MaskError):
    """A mask of another size than its motif's. `resizable`: it has the motif's proportions (up
    to whole-pixel rounding) and few enough pixels, so `resize=True` would accept it."""

    def __init__(self, message: str, *, size: tuple[int, int], expected: tuple[int, int]):
        super().__init__(message)
        self.size = size
        self.expected = expected
        self.resizable = same_proportions(size, expected) and _decodable(size, expected)


# A mask resized to its motif may have at most this many times the motif's pixels: a mask is
# decoded whole, and Pillow's own decompression-bomb limit is off (uploads are checked first).
RESIZE_MAX_PIXEL_RATIO = 4


def _decodable(size: tuple[int, int], expected: tuple[int, int]) -> bool:
    return size[0] * size[1] <= RESIZE_MAX_PIXEL_RATIO * expected[0] * expected[1]


def same_proportions(size: tuple[int, int], expected: tuple[int, int]) -> bool:
    """True when one of the two (width, height) sizes is the other scaled, each side rounded
    to whole pixels (512x512 and 720x720; 1000x667 and 3000x2000), so a nearest-neighbour
    resize puts every mask pixel over the part of the motif it was drawn on."""
    (w, h), (big_w, big_h) = size, expected
    # Scaling (W, H) by s and rounding moves each side by at most half a pixel, which moves
    # w * H - h * W by at most (W + H) / 2 (or (w + h) / 2 the other way round); tiny masks,
    # where half a pixel is a large share, must also stay within 1% of the motif's aspect.
    difference = abs(w * big_h - h * big_w)
    return 2 * difference <= max(w + h, big_w + big_h) and 100 * difference <= h * big_w


def _check_int(name: str, value: object, *, minimum: int) -> int:
    # bool is an int subclass, but True as a width is a bug, not a size.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_size(width: object, height: object) -> tuple[int, int]:
    return _check_int("width", width, minimum=1), _check_int("height", height, minimum=1)


def _scale(canvas: np.ndarray, width: int, height: int) -> np.ndarray:
    if canvas.shape == (height, width):
        return canvas
    return cv2.resize(canvas, (width, height), interpolation=cv2.INTER_NEAREST)


def _dust_canvas(seed: int, steps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, CANVAS, size=2)
    path = start + np.cumsum(_MOVES[rng.integers(0, len(_MOVES), size=steps)], axis=0)
    # Folding the unbounded walk with period 2*(n-1) is the same walk reflected at the borders.
    period = 2 * (CANVAS - 1)
    path = np.mod(np.vstack([start, path]), period)
    path = np.where(path > CANVAS - 1, period - path, path)
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    canvas[path[:, 0], path[:, 1]] = 255
    return canvas


def dust(*, width: int, height: int, seed: int, steps: int = DUST_STEPS) -> np.ndarray:
    """Dust-like mask (seed 003): a random walk on a 256x256 canvas, scaled to the image.

    The walk starts at a uniformly random pixel and takes `steps` 8-neighbour moves, reflected
    at the borders; every visited pixel (revisits allowed) is damaged, so at most steps + 1
    pixels of the canvas are. The canvas is scaled to (width, height) with nearest-neighbour
    interpolation (a non-square image stretches it). Pure function of its arguments.

    Returns uint8 (height, width), 255 = damaged, 0 = intact.
    Raises ValueError for a non-integer or non-positive width, height or steps, or a negative seed.
    """
    width, height = _check_size(width, height)
    seed = _check_int("seed", seed, minimum=0)
    steps = _check_int("steps", steps, minimum=1)
    return _scale(_dust_canvas(seed, steps), width, height)


def _ellipse(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def jelly(*, width: int, height: int, seed: int, steps: int = DUST_STEPS) -> np.ndarray:
    """Jelly-like mask (seed 003): the dust-like walk of the same seed cleaned into blobs.

    Recipe, on the 256x256 canvas, all kernels elliptical: dilate 3x3 (thickens the 1-pixel walk
    so that short walks survive the cleanup), close 9x9 (merges the dense parts of the walk into
    block-like regions), open 7x7 (removes thin strands and specks), erode 3x3 (seed 003's
    erosion), then drop 8-connected components under 32 pixels. If that leaves nothing (only for
    very short walks, a few hundred steps), the dilated-and-closed walk is kept instead so the
    mask is never empty. Then scaled like `dust`. The result has far fewer boundary pixels per
    damaged pixel than `dust` (see `boundary_ratio`).

    Returns uint8 (height, width), 255 = damaged, 0 = intact.
    Raises ValueError like `dust`.
    """
    width, height = _check_size(width, height)
    seed = _check_int("seed", seed, minimum=0)
    steps = _check_int("steps", steps, minimum=1)
    walk = cv2.dilate(_dust_canvas(seed, steps), _ellipse(3))
    closed = cv2.morphologyEx(walk, cv2.MORPH_CLOSE, _ellipse(9))
    cleaned = cv2.erode(cv2.morphologyEx(closed, cv2.MORPH_OPEN, _ellipse(7)), _ellipse(3))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cleaned, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 32
    canvas = np.where(keep[labels], 255, 0).astype(np.uint8)
    if not canvas.any():
        canvas = closed
    return _scale(canvas, width, height)


def blocks(
    *,
    width: int,
    height: int,
    seed: int,
    min_fraction: float = 0.30,
    max_fraction: float = 0.65,
) -> np.ndarray:
    """Block-patch mask (seed 000): random rectangles until 30-65% of the area is damaged.

    A target coverage is drawn uniformly in [min_fraction, max_fraction]; axis-aligned
    rectangles of 5-25% of each side are added at uniform positions until the damaged share
    reaches it. A rectangle that would push the share above max_fraction is cut down (fewer
    rows, then fewer columns) so that it does not, hence min_fraction <= coverage <= max_fraction
    always. Pure function of its arguments.

    Returns uint8 (height, width), 255 = damaged, 0 = intact.
    Raises ValueError for a bad size or seed, fractions outside 0 < min <= max < 1, or an image
    too small to have any pixel count between the two fractions.
    """
    width, height = _check_size(width, height)
    seed = _check_int("seed", seed, minimum=0)
    if not 0 < min_fraction <= max_fraction < 1:
        raise ValueError(
            f"need 0 < min_fraction <= max_fraction < 1, got {min_fraction} and {max_fraction}"
        )
    total = width * height
    lowest, highest = math.ceil(min_fraction * total), math.floor(max_fraction * total)
    if lowest > highest:
        raise ValueError(
            f"a {width}x{height} image cannot be {min_fraction:.0%}-{max_fraction:.0%} damaged"
        )
    rng = np.random.default_rng(seed)
    target = min(max(math.ceil(rng.uniform(min_fraction, max_fraction) * total), lowest), highest)
    mask = np.zeros((height, width), dtype=np.uint8)
    damaged = 0
    while damaged < target:
        w = max(1, round(rng.uniform(0.05, 0.25) * width))
        h = max(1, round(rng.uniform(0.05, 0.25) * height))
        x = int(rng.integers(0, width - w + 1))
        y = int(rng.integers(0, height - h + 1))
        fresh = mask[y : y + h, x : x + w] == 0
        room = highest - damaged
        per_rows = np.cumsum(fresh.sum(axis=1))
        if per_rows[-1] > room:
            # Keep as many whole rows as fit; if not even one does, cut the first row short.
            h = int(np.searchsorted(per_rows, room, side="right"))
            if h == 0:
                h = 1
                w = int(np.searchsorted(np.cumsum(fresh[0]), room, side="right"))
        mask[y : y + h, x : x + w] = 255
        damaged += int(fresh[:h, :w].sum())
    return mask


PROTOCOLS: dict[str, Callable[..., np.ndarray]] = {"dust": dust, "jelly": jelly, "blocks": blocks}


def simulate(protocol: str, *, width: int, height: int, seed: int) -> np.ndarray:
    """Simulated damage mask of one protocol ("dust", "jelly" or "blocks") with its defaults.

    Returns uint8 (height, width), 255 = damaged, 0 = intact.
    Raises ValueError for an unknown protocol, a bad size or a negative seed.
    """
    if protocol not in PROTOCOLS:
        names = ", ".join(sorted(PROTOCOLS))
        raise ValueError(f"Unknown damage protocol {protocol!r}; valid protocols: {names}")
    _check_size(width, height)
    return PROTOCOLS[protocol](width=width, height=height, seed=seed)


def _orientation(image: Image.Image) -> int:
    # Pillow sees a PNG eXIf chunk placed after the pixel data only once it has decoded them;
    # the PNG spec wants eXIf before the pixels, and decoding first would defeat the size check.
    # So only EXIF readable from the header counts.
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return orientation if orientation in _TRANSPOSE else 1


def oriented_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) of an opened image as displayed, i.e. after its EXIF orientation.

    Reads headers only (no pixel decoding), so it is safe before any size check.
    """
    width, height = image.size
    return (height, width) if _orientation(image) >= 5 else (width, height)


def _as_grey(image: Image.Image) -> np.ndarray:
    """uint8 (height, width) grey levels of a decoded image; MaskError for photos and odd modes."""
    mode = image.mode
    if mode == "L":
        return np.array(image)
    if mode == "1":
        return np.array(image.convert("L"))
    if mode.startswith("I"):
        # 16-bit greyscale; 0-65535 maps onto 0-255 exactly for 8-bit values stored as v * 257.
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise MaskError("The mask file has 32-bit values; save it as an 8-bit greyscale PNG")
        return ((values * 255 + 32767) // 65535).astype(np.uint8)
    if mode == "F":
        raise MaskError(
            "The mask file has floating-point pixels; save it as an 8-bit greyscale PNG"
        )
    if mode == "LA":
        pixels = np.asarray(image)
        colour, alpha = pixels[..., 0], pixels[..., 1]
    else:
        has_alpha = "A" in mode or "a" in mode or "transparency" in image.info
        try:
            pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
        except ValueError as exc:
            raise MaskError(
                f"The mask file has an unsupported pixel format ({mode}); "
                "save it as a greyscale PNG"
            ) from exc
        alpha = pixels[..., 3] if has_alpha else None
        rgb = pixels[..., :3].astype(np.int16)
        visible = rgb if alpha is None else rgb[alpha > 0]
        spread = visible.max(axis=-1) - visible.min(axis=-1)
        if spread.size and np.mean(spread > _COLOUR_SPREAD) > _COLOURED_SHARE:
            raise MaskError(
                "The mask file looks like a photograph, not a mask: a mask must be black, white "
                "or grey (white = damaged)"
            )
        colour = ((rgb.sum(axis=-1) + 1) // 3).astype(np.uint8)
    if alpha is None or alpha.min() == 255:
        return colour
    if colour.min() == colour.max():
        # One colour painted on transparency: the alpha channel is the drawing.
        return alpha.copy()
    # Strokes on a transparent background: transparent counts as intact (composited on black).
    return ((colour.astype(np.uint32) * alpha + 127) // 255).astype(np.uint8)


def read_mask(
    data: bytes | bytearray | memoryview | BinaryIO,
    *,
    width: int,
    height: int,
    resize: bool = False,
) -> np.ndarray:
    """Decode a mask file (PNG or any Pillow format) that must be width x height pixels.

    `resize=True` also accepts a mask of the same proportions but another size (the 512x512
    mask of a 720x720 motif), scaled to width x height with nearest-neighbour interpolation
    (values are kept, none is blended); `read_mask_sized` also says which size the file had.

    EXIF orientation is applied. Modes are converted on purpose: 1/L/P/RGB(A) with equal
    channels/CMYK to 8-bit grey, 16-bit grey scaled to 0-255; grey levels 1-254 are kept (fading
    strength). Transparency: a single colour on a transparent background is read from its alpha
    channel; otherwise transparent pixels count as intact (composited on black).

    Returns uint8 (height, width), 255 = damaged, 0 = intact.
    Raises MaskError (a ValueError) with a message for the uploader: not a readable image or
    truncated, too large to decode, wrong size (MaskSizeError, whose `resizable` says whether
    resize=True would accept it), colour photograph, unsupported pixel format; ValueError for a
    bad width or height.
    """
    return read_mask_sized(data, width=width, height=height, resize=resize)[0]


def read_mask_sized(
    data: bytes | bytearray | memoryview | BinaryIO,
    *,
    width: int,
    height: int,
    resize: bool = False,
) -> tuple[np.ndarray, tuple[int, int]]:
    """`read_mask`, and the (width, height) the file had (after its EXIF orientation)."""
    width, height = _check_size(width, height)
    stream = io.BytesIO(bytes(data)) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        image = Image.open(stream)
        # Read before decoding, for the reason given in _orientation.
        orientation = _orientation(image)
    except Image.DecompressionBombError as exc:
        raise MaskError("The mask file is too large to decode") from exc
    except _DECODE_ERRORS as exc:
        raise MaskError(_UNREADABLE) from exc
    size = image.size[::-1] if orientation >= 5 else image.size
    # Checked before decoding, so an oversized file is refused without spending memory on it.
    if size != (width, height):
        error = _size_error(size, (width, height))
        if not (resize and error.resizable):
            raise error
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise MaskError(_UNREADABLE) from exc
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    return _scale(_as_grey(image), width, height), size


def _size_error(size: tuple[int, int], expected: tuple[int, int]) -> MaskSizeError:
    (w, h), (big_w, big_h) = size, expected
    told = f"The mask is {w}x{h} pixels but the motif is {big_w}x{big_h}"
    if not same_proportions(size, expected):
        message = (
            f"{told}: a mask must have the motif's size, or at least its proportions to be "
            "resized to it"
        )
    elif not _decodable(size, expected):
        message = (
            f"{told}: the mask has more than {RESIZE_MAX_PIXEL_RATIO} times the motif's pixels; "
            f"export it at {big_w}x{big_h}"
        )
    else:
        message = (
            f"{told}; it has the motif's proportions, so it can be resized to {big_w}x{big_h} "
            "(nearest neighbour, which keeps its values)"
        )
    return MaskSizeError(message, size=size, expected=expected)


def binary(mask: np.ndarray) -> np.ndarray:
    """Boolean damaged map (same shape): True where mask > 127, as engines receive it."""
    return np.asarray(mask) > 127


def coverage(mask: np.ndarray) -> float:
    """Share of damaged pixels (value > 127), in [0, 1]. Raises ValueError for an empty array."""
    mask = np.asarray(mask)
    if mask.size == 0:
        raise ValueError("cannot measure the coverage of an empty array")
    return float(np.count_nonzero(mask > 127)) / mask.size


def encode_png(mask: np.ndarray) -> bytes:
    """Optimised single-channel ("L") PNG bytes of a uint8 (height, width) mask.

    Raises ValueError for another dtype or number of dimensions, or an empty array.
    """
    mask = np.asarray(mask)
    if mask.dtype != np.uint8 or mask.ndim != 2 or mask.size == 0:
        raise ValueError(
            f"a mask must be a non-empty 2-D uint8 array, got {mask.dtype} {mask.shape}"
        )
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def boundary_ratio(mask: np.ndarray) -> float:
    """Damaged pixels with an intact 4-neighbour, divided by damaged pixels, in (0, 1].

    Lower means smoother, blockier damage. Pixels past the image edge do not count as intact.
    Raises ValueError for a mask with no damaged pixel.
    """
    damaged = binary(mask).astype(np.uint8)
    total = int(damaged.sum())
    if total == 0:
        raise ValueError("boundary_ratio needs at least one damaged pixel")
    inner = cv2.erode(
        damaged,
        cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)),
        borderType=cv2.BORDER_REPLICATE,
    )
    return (total - int(inner.sum())) / total
