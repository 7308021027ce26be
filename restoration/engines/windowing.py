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


def bounding_box(damaged: np.ndarray) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the smallest rectangle holding every True pixel of an (H, W) bool
    map; None when it holds none."""
    rows = np.flatnonzero(damaged.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(damaged.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def windows(mask: np.ndarray, size: int, overlap: int | None = None) -> list[tuple[int, int]]:
    """Top-left corners of size x size windows that together cover every damaged pixel.

    The windows tile the damage's bounding box with the given overlap (clamped inside the
    image) and only those holding damage are kept, so a small damaged area in a huge image
    costs what that area costs. mask: (H, W) bool; the image is at least size x size.
    """
    height, width = mask.shape
    overlap = min(OVERLAP, size // 4) if overlap is None else overlap
    box = bounding_box(mask)
    if box is None:
        return []
    rows, cols = box
    stride = size - overlap

    def starts(first: int, last: int, extent: int) -> list[int]:
        span = last - first + 1
        count = max(1, math.ceil(max(span - size, 0) / stride) + 1)
        centre = (first + last + 1) / 2
        begin = round(centre - (size + (count - 1) * stride) / 2)
        return sorted({min(max(begin + i * stride, 0), extent - size) for i in range(count)})

    found = []
    for y in starts(rows.start, rows.stop - 1, height):
        for x in starts(cols.start, cols.stop - 1, width):
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

    work: (H, W, 3) uint8 image (read, never written); damaged: (H, W) bool, the pixels windows
    may write; the preview and result are cut to (height, width), the image before padding.
    overlap: the windows' overlap, over which the blending weights ramp (default: `feather`'s).
    The blend is kept only over the bounding box of the damage, the only pixels it can change,
    so a small damaged area in a huge image costs memory and time in proportion to that area.
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
        self.output = work
        self.size = size
        self.height, self.width = height, width
        self.weight = feather(size, overlap)
        self.box = bounding_box(damaged) or (slice(0, 0), slice(0, 0))
        self.damaged = damaged[self.box]
        self.accumulated = np.zeros((*self.damaged.shape, 3), np.float32)
        self.weights = np.zeros(self.damaged.shape, np.float32)
        self.current: dict[tuple[int, int], np.ndarray] = {}

    def _overlap(self, corner: tuple[int, int]) -> tuple[slice, slice, slice, slice] | None:
        """(rows, cols) of the window at `corner` inside the box, then inside the window;
        None when the window misses the box."""
        box_rows, box_cols = self.box
        top, left = box_rows.start, box_cols.start
        y, x = corner
        y0, y1 = max(y, top), min(y + self.size, box_rows.stop)
        x0, x1 = max(x, left), min(x + self.size, box_cols.stop)
        if y0 >= y1 or x0 >= x1:
            return None
        return (
            slice(y0 - top, y1 - top),
            slice(x0 - left, x1 - left),
            slice(y0 - y, y1 - y),
            slice(x0 - x, x1 - x),
        )

    def _blend(self, accumulated, weights, corner, tile) -> None:
        spans = self._overlap(corner)
        if spans is None:
            return
        rows, cols, tile_rows, tile_cols = spans
        weight = self.weight[tile_rows, tile_cols]
        accumulated[rows, cols] += tile[tile_rows, tile_cols].astype(np.float32) * weight[..., None]
        weights[rows, cols] += weight

    def estimate(self, corner: tuple[int, int], tile: np.ndarray) -> None:
        """The current (unfinished) estimate of one window, shown by `render`."""
        self.current[corner] = tile.astype(np.float32)

    def add(self, corner: tuple[int, int], tile: np.ndarray) -> None:
        """A finished window (size, size, 3), blended in for good."""
        self.current.pop(corner, None)
        self._blend(self.accumulated, self.weights, corner, tile)

    def _compose(self, accumulated: np.ndarray, weights: np.ndarray) -> np.ndarray:
        composed = np.array(self.output, copy=True)
        region = self.damaged & (weights > 0)
        filled = accumulated[region] / weights[region][:, None]
        composed[self.box][region] = np.clip(np.rint(filled), 0, 255).astype(np.uint8)
        return composed[: self.height, : self.width]

    def render(self) -> np.ndarray:
        """The whole image: finished windows and the current estimates in the damage."""
        accumulated, weights = self.accumulated.copy(), self.weights.copy()
        for corner, tile in self.current.items():
            self._blend(accumulated, weights, corner, tile)
        return self._compose(accumulated, weights)

    def result(self) -> np.ndarray:
        """The finished image: every damaged pixel from the blend of its windows."""
        return self._compose(self.accumulated, self.weights)
