"""Restoring a large image window by window around its damage, with feathered blending.

Learned engines work at a fixed size. They restore size x size windows that together cover the
damage (so the cost follows the damaged area, never the image area, and intact pixels are never
downscaled) and blend overlapping windows with weights that fade towards each window's edge.
`WindowedCanvas` keeps the blend and renders the live preview of the whole image.
"""

from __future__ import annotations

import math

import numpy as np

OVERLAP = 64


def windows(mask: np.ndarray, size: int, overlap: int | None = None) -> list[tuple[int, int]]:
    """Top-left corners of size x size windows that together cover every damaged pixel.

    The windows tile the damage's bounding box with the given overlap (clamped inside the
    image) and only those holding damage are kept, so a small damaged area in a huge image
    costs what that area costs. mask: (H, W) bool; the image is at least size x size.
    """
    height, width = mask.shape
    overlap = min(OVERLAP, size // 4) if overlap is None else overlap
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    stride = size - overlap

    def starts(first: int, last: int, extent: int) -> list[int]:
        span = last - first + 1
        count = max(1, math.ceil(max(span - size, 0) / stride) + 1)
        centre = (first + last + 1) / 2
        begin = round(centre - (size + (count - 1) * stride) / 2)
        return sorted({min(max(begin + i * stride, 0), extent - size) for i in range(count)})

    found = []
    for y in starts(int(rows[0]), int(rows[-1]), height):
        for x in starts(int(cols[0]), int(cols[-1]), width):
            if mask[y : y + size, x : x + size].any():
                found.append((y, x))
    return found


def grid(
    height: int, width: int, size: int, overlap: int | None = None, multiple: int = 1
) -> list[tuple[int, int]]:
    """Top-left corners of size x size windows that together cover a whole height x width image.

    Along each side the windows are spread evenly from edge to edge, neighbours overlapping
    by at least `overlap` (less up to multiple - 1 pixels where corners are rounded down to a
    multiple of `multiple`, which keeps every window on the grid of a network's downsampling).
    The image is at least size x size; with height, width and size multiples of `multiple`
    every corner is one too.
    """
    overlap = min(OVERLAP, size // 4) if overlap is None else overlap
    if not 0 <= overlap < size or height < size or width < size:
        raise ValueError(
            f"cannot tile {height}x{width} with {size}-pixel windows, overlap {overlap}"
        )
    stride = size - overlap

    def starts(extent: int) -> list[int]:
        count = math.ceil((extent - size) / stride) + 1
        if count == 1:
            return [0]
        spacing = (extent - size) / (count - 1)
        corners = [int(i * spacing) // multiple * multiple for i in range(count - 1)]
        return [*corners, extent - size]

    return [(y, x) for y in starts(height) for x in starts(width)]


def feather(size: int, overlap: int | None = None) -> np.ndarray:
    """(size, size) blending weights: 1 inside, ramping down to a small floor at the edges."""
    overlap = min(OVERLAP, size // 4) if overlap is None else overlap
    ramp = np.minimum(np.arange(size) + 1, np.arange(size)[::-1] + 1) / max(overlap, 1)
    ramp = np.clip(ramp, 0.02, 1.0).astype(np.float32)
    return np.outer(ramp, ramp)


class WindowedCanvas:
    """The blend of restored windows over one (padded) image, and its live preview.

    work: (H, W, 3) uint8 image; damaged: (H, W) bool, the pixels windows may write; the
    preview and result are cut to (height, width), the image before padding. overlap: the
    windows' overlap, over which the blending weights ramp (default: `feather`'s).
    """

    def __init__(
        self,
        work: np.ndarray,
        damaged: np.ndarray,
        size: int,
        *,
        height: int,
        width: int,
        overlap: int | None = None,
    ):
        self.output = np.array(work, copy=True)
        self.damaged = damaged
        self.size = size
        self.height, self.width = height, width
        self.weight = feather(size, overlap)
        self.accumulated = np.zeros(work.shape, np.float32)
        self.weights = np.zeros(work.shape[:2], np.float32)
        self.current: dict[tuple[int, int], np.ndarray] = {}

    def estimate(self, corner: tuple[int, int], tile: np.ndarray) -> None:
        """The current (unfinished) estimate of one window, shown by `render`."""
        self.current[corner] = tile.astype(np.float32)

    def add(self, corner: tuple[int, int], tile: np.ndarray) -> None:
        """A finished window (size, size, 3), blended in for good."""
        y, x = corner
        self.current.pop(corner, None)
        self.accumulated[y : y + self.size, x : x + self.size] += (
            tile.astype(np.float32) * self.weight[..., None]
        )
        self.weights[y : y + self.size, x : x + self.size] += self.weight

    def _compose(self, accumulated: np.ndarray, weights: np.ndarray) -> np.ndarray:
        filled = accumulated / np.maximum(weights, 1e-6)[..., None]
        composed = np.array(self.output, copy=True)
        region = self.damaged & (weights > 0)
        composed[region] = np.clip(np.rint(filled[region]), 0, 255).astype(np.uint8)
        return composed[: self.height, : self.width]

    def render(self) -> np.ndarray:
        """The whole image: finished windows and the current estimates in the damage."""
        accumulated, weights = self.accumulated.copy(), self.weights.copy()
        for (y, x), tile in self.current.items():
            accumulated[y : y + self.size, x : x + self.size] += tile * self.weight[..., None]
            weights[y : y + self.size, x : x + self.size] += self.weight
        return self._compose(accumulated, weights)

    def result(self) -> np.ndarray:
        """The finished image: every damaged pixel from the blend of its windows."""
        return self._compose(self.accumulated, self.weights)
