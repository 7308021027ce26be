"""Exemplar inpainting: multi-scale PatchMatch and EM voting that copy texture from the image."""

# Written here rather than taken from PyPI: PyPatchMatch and patchmatch-cython are one blocking
# native call each, with no progress callback and no way to cancel between iterations.
#
# Method: Wexler, Shechtman & Irani, "Space-time completion of video" (2007) for the
# coarse-to-fine expectation-maximisation (each damaged pixel becomes the weighted vote of the
# best-matching intact patches of every patch covering it), with the nearest-neighbour field
# found by PatchMatch (Barnes et al. 2009). PatchMatch runs for all patches at once: propagation
# jumps 4, 2, 1 pixels in the four directions (jump-flood style) instead of the sequential scan,
# and patch distances are squared distances between PCA projections of the patches, computed
# for the whole image with a few small convolutions.

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from restoration.engines.base import Engine, EngineError, Param, ProgressCallback, Restored

# Patch descriptor length: the leading principal components of the intact patches.
FEATURES = 12
# The coarsest scale is at least this many pixels on its short side.
COARSEST_SIDE = 32
# A window (crop around damage) or scale needs this many wholly intact patches to copy from.
MIN_SOURCES = 16
# Intact context around each damaged region: MARGIN_PATCHES patch sides, at least MIN_MARGIN.
MARGIN_PATCHES = 8
MIN_MARGIN = 64
# Longest side of a window; larger damaged areas are cut into overlapping tiles.
MAX_WINDOW = 1024
# Wexler's confidence decay per pixel of distance into the hole (patches near intact pixels
# are more trustworthy than ones deep inside it).
CONFIDENCE_DECAY = 1.3
# PatchMatch passes per EM iteration: more on the first iteration of a scale, whose field is
# random (coarsest) or upsampled (finer).
FIRST_PASSES = 3
PASSES = 1
# Votes are weighted exp(-d / 2s), s the distance at this percentile (Wexler's choice).
VOTE_PERCENTILE = 75
PREVIEW_SIDE = 512


@dataclass(frozen=True)
class _Window:
    rows: slice  # the crop processed at once
    cols: slice
    core: np.ndarray  # (h, w) bool, damaged pixels of the crop that this window writes
    levels: int  # scales used, finest included


def _centre_region(height: int, width: int, radius: int) -> np.ndarray:
    """(h, w) bool, True where a patch of that radius fits entirely inside the image."""
    inside = np.zeros((height, width), dtype=bool)
    inside[radius : height - radius, radius : width - radius] = True
    return inside


def _sources(intact: np.ndarray, patch: int) -> np.ndarray:
    """(h, w) bool, True at the centres of wholly intact patches inside the image."""
    kernel = np.ones((patch, patch), dtype=np.uint8)
    whole = cv2.erode(intact.astype(np.uint8), kernel, borderValue=0).astype(bool)
    return whole & _centre_region(*intact.shape, patch // 2)


def _shrink_mask(mask: np.ndarray) -> np.ndarray:
    """Half-size bool mask, True where any of the covered full-size pixels is True."""
    height, width = mask.shape
    size = ((width + 1) // 2, (height + 1) // 2)
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0


def _shrink_image(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Half-size float32 image averaging only known pixels (others are left at 0)."""
    height, width = known.shape
    size = ((width + 1) // 2, (height + 1) // 2)
    weight = known.astype(np.float32)
    total = cv2.resize(image * weight[..., None], size, interpolation=cv2.INTER_AREA)
    count = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)[..., None]
    return np.where(count > 0, total / np.maximum(count, 1e-6), 0).astype(np.float32)


def _count_levels(fill: np.ndarray, intact: np.ndarray, patch: int, most: int) -> int:
    """Scales to use: halve while the image stays >= COARSEST_SIDE and has sources to copy."""
    levels = 1
    least = max(COARSEST_SIDE, 3 * patch)
    while most == 0 or levels < most:
        if min((fill.shape[0] + 1) // 2, (fill.shape[1] + 1) // 2) < least:
            break
        fill, intact = _shrink_mask(fill), ~_shrink_mask(~intact)
        if np.count_nonzero(_sources(intact, patch)) < MIN_SOURCES:
            break
        levels += 1
    return levels


def _plan(mask: np.ndarray, patch: int, most_levels: int) -> list[_Window]:
    """Windows covering the damage: each region's box grown by a margin, merged, tiled.

    Raises EngineError when no window can find enough wholly intact patches.
    """
    height, width = mask.shape
    margin = max(MARGIN_PATCHES * patch, MIN_MARGIN)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, dtype=np.uint8))
    # Merging boxes can make new overlaps, so fill the boxes and look again until stable.
    while True:
        count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        boxes = np.zeros_like(grown)
        for x, y, w, h in stats[1:, :4]:
            boxes[y : y + h, x : x + w] = 1
        if np.array_equal(boxes, grown):
            break
        grown = boxes
    intact = ~mask
    sources = _sources(intact, patch)
    tile = MAX_WINDOW - 2 * margin
    done = np.zeros_like(mask)
    windows = []
    for x, y, w, h in stats[1:, :4].tolist():
        ny = 1 if h <= MAX_WINDOW else math.ceil(h / tile)
        nx = 1 if w <= MAX_WINDOW else math.ceil(w / tile)
        for i in range(ny):
            for j in range(nx):
                y0, y1 = y + i * h // ny, y + (i + 1) * h // ny
                x0, x1 = x + j * w // nx, x + (j + 1) * w // nx
                piece = mask[y0:y1, x0:x1] & ~done[y0:y1, x0:x1]
                if not piece.any():
                    continue
                grow = margin if (ny, nx) != (1, 1) else 0
                while True:
                    rows = slice(max(0, y0 - grow), min(height, y1 + grow))
                    cols = slice(max(0, x0 - grow), min(width, x1 + grow))
                    r = patch // 2
                    found = np.count_nonzero(sources[rows, cols][r : -r or None, r : -r or None])
                    whole = rows == slice(0, height) and cols == slice(0, width)
                    if found >= MIN_SOURCES or whole:
                        break
                    grow = max(2 * grow, margin)
                if found < MIN_SOURCES:
                    raise EngineError(
                        f"Too little intact area to copy texture from: fewer than {MIN_SOURCES} "
                        f"wholly intact {patch}x{patch} patches; use a smaller patch_size "
                        "or another engine"
                    )
                fill = mask[rows, cols] & ~done[rows, cols]
                core = np.zeros_like(fill)
                core[y0 - rows.start : y1 - rows.start, x0 - cols.start : x1 - cols.start] = piece
                levels = _count_levels(fill, intact[rows, cols], patch, most_levels)
                windows.append(_Window(rows, cols, core, levels))
                done[y0:y1, x0:x1] |= piece
    return windows


class _Preview:
    """A small copy of the whole image into which window estimates are pasted."""

    def __init__(self, image: np.ndarray) -> None:
        height, width = image.shape[:2]
        self.scale = min(1.0, PREVIEW_SIDE / max(height, width))
        size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.canvas = cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def paste(self, rows: slice, cols: slice, estimate: np.ndarray, fill: np.ndarray) -> None:
        """Paste a window's current estimate (any size) over its damaged pixels."""
        y0, y1 = (min(round(v * self.scale), self.canvas.shape[0]) for v in (rows.start, rows.stop))
        x0, x1 = (min(round(v * self.scale), self.canvas.shape[1]) for v in (cols.start, cols.stop))
        if y1 <= y0 or x1 <= x0:
            return
        small = cv2.resize(estimate, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        where = cv2.resize(fill.astype(np.float32), (x1 - x0, y1 - y0)) > 0.5
        region = self.canvas[y0:y1, x0:x1]
        region[where] = np.clip(small[where] + 0.5, 0, 255).astype(np.uint8)

    def renderer(
        self, rows: slice, cols: slice, estimate: np.ndarray, fill: np.ndarray
    ) -> Callable[[], np.ndarray]:
        """A zero-argument renderer that pastes this estimate and returns the canvas."""

        def render() -> np.ndarray:
            self.paste(rows, cols, estimate, fill)
            return self.canvas

        return render


class _Scale:
    """One scale of one window: its masks, target patches and nearest-neighbour field."""

    def __init__(self, fill: np.ndarray, intact: np.ndarray, patch: int) -> None:
        self.height, self.width = fill.shape
        self.fill_flat = np.flatnonzero(fill)
        radius = patch // 2
        self.valid = _sources(intact, patch).ravel()
        self.source_list = np.flatnonzero(self.valid)
        touches = cv2.dilate(fill.astype(np.uint8), np.ones((patch, patch), dtype=np.uint8))
        targets = touches.astype(bool) & _centre_region(self.height, self.width, radius)
        self.targets = np.flatnonzero(targets)
        self.ty, self.tx = np.divmod(self.targets, self.width)
        dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        self.offsets = (dy * self.width + dx).ravel()
        # Patches deep inside the hole get less say in the vote (Wexler's alpha).
        distance = cv2.distanceTransform(fill.astype(np.uint8), cv2.DIST_L2, 3).ravel()
        self.confidence = CONFIDENCE_DECAY ** -distance[self.targets]
        self.radius = radius
        self.ny = self.nx = np.empty(0, dtype=np.int64)


class _Solver:
    """EM inpainting of one window, coarse to fine."""

    def __init__(self, patch: int, rng: np.random.Generator) -> None:
        self.patch = patch
        self.rng = rng

    def basis(self, image: np.ndarray, scale: _Scale) -> np.ndarray:
        """(k, p, p, 3) float32 principal directions of a sample of the intact patches."""
        take = min(len(scale.source_list), 2048)
        centres = self.rng.choice(scale.source_list, size=take, replace=False)
        flat = image.reshape(-1, 3)
        samples = flat[centres[:, None] + scale.offsets[None, :]].reshape(take, -1)
        samples = samples.astype(np.float64) - samples.mean(axis=0)
        _, _, vt = np.linalg.svd(samples, full_matrices=False)
        k = min(FEATURES, vt.shape[0])
        return vt[:k].reshape(k, self.patch, self.patch, 3).astype(np.float32)

    @staticmethod
    def features(image: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """(h * w, k) float32 projection of the patch centred on every pixel."""
        channels = [np.ascontiguousarray(image[..., c]) for c in range(3)]
        maps = [
            sum(cv2.filter2D(channels[c], -1, component[..., c]) for c in range(3))
            for component in basis
        ]
        return np.stack(maps, axis=-1).reshape(-1, len(basis))

    def match(self, scale: _Scale, feats: np.ndarray, passes: int) -> np.ndarray:
        """Improve the field (scale.ny, scale.nx) in place; returns the patch distances."""
        h, w, r = scale.height, scale.width, scale.radius
        own = feats[scale.targets]
        cost = np.full(len(scale.targets), np.inf, dtype=np.float32)

        def attempt(cy: np.ndarray, cx: np.ndarray) -> None:
            np.clip(cy, r, h - r - 1, out=cy)
            np.clip(cx, r, w - r - 1, out=cx)
            where = cy * w + cx
            diff = own - feats[where]
            dist = np.einsum("ij,ij->i", diff, diff)
            better = scale.valid[where] & (dist < cost)
            scale.ny[better], scale.nx[better] = cy[better], cx[better]
            cost[better] = dist[better]

        attempt(scale.ny.copy(), scale.nx.copy())
        # Non-targets keep their own position, which is never a valid source.
        grid_y, grid_x = np.divmod(np.arange(h * w, dtype=np.int64), w)
        radii = [2**i for i in range(int(math.log2(max(h, w))), -1, -1)]
        for _ in range(passes):
            for jump in (4, 2, 1):
                for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                    grid_y[scale.targets], grid_x[scale.targets] = scale.ny, scale.nx
                    my = np.clip(scale.ty + dy * jump, 0, h - 1)
                    mx = np.clip(scale.tx + dx * jump, 0, w - 1)
                    neighbour = my * w + mx
                    attempt(grid_y[neighbour] - dy * jump, grid_x[neighbour] - dx * jump)
            for radius in radii:
                shift = self.rng.integers(-radius, radius + 1, size=(2, len(cost)))
                attempt(scale.ny + shift[0], scale.nx + shift[1])
            pick = self.rng.choice(scale.source_list, size=len(cost))
            attempt(*np.divmod(pick, w))
        return cost

    def vote(self, image: np.ndarray, scale: _Scale, cost: np.ndarray, best: bool = False) -> None:
        """Replace the damaged pixels of image (in place) by the patch votes.

        The weighted mean of the votes, or with `best` the vote of the highest weight.
        """
        finite = cost[np.isfinite(cost)]
        spread = max(float(np.percentile(finite, VOTE_PERCENTILE)), 1e-6) if finite.size else 1.0
        log_weight = -np.minimum(cost, 1e30).astype(np.float64) / (2 * spread)
        log_weight += np.log(scale.confidence)
        # float64 and a floor keep every pixel's weights from all underflowing to zero.
        weight = np.exp(np.maximum(log_weight - log_weight.max(), -700.0))
        flat = image.reshape(-1, 3)
        sources = scale.ny * scale.width + scale.nx
        holes = scale.fill_flat
        if best:
            top = np.full(len(flat), -1.0)
            chosen = np.zeros_like(flat)
            for offset in scale.offsets:
                at = scale.targets + offset
                better = weight > top[at]
                top[at[better]] = weight[better]
                chosen[at[better]] = flat[sources[better] + offset]
            flat[holes] = chosen[holes]
            return
        total = np.zeros(flat.shape, dtype=np.float64)
        weights = np.zeros(len(flat), dtype=np.float64)
        for offset in scale.offsets:
            # Each target pixel appears once per offset, so fancy-index += adds no duplicates.
            total[scale.targets + offset] += flat[sources + offset] * weight[:, None]
            weights[scale.targets + offset] += weight
        flat[holes] = total[holes] / np.maximum(weights[holes], 1e-300)[:, None]


class ExemplarEngine(Engine):
    """Patch-based inpainting that copies texture from the intact parts of the same image."""

    name = "exemplar"
    version = "1"
    params = {
        "patch_size": Param(
            int, 7, minimum=3, maximum=15, help="Side of the compared patches in pixels (odd)"
        ),
        "iterations": Param(
            int, 5, minimum=1, maximum=20, help="Match-and-vote iterations at each scale"
        ),
        "levels": Param(
            int,
            0,
            minimum=0,
            maximum=8,
            help="Most scales of the coarse-to-fine pyramid; 0 = as many as the size allows",
        ),
    }

    @classmethod
    def clean_params(cls, params: Mapping[str, object] | None) -> dict[str, Any]:
        """Like Engine.clean_params, and patch_size must be odd. Raises EngineError."""
        cleaned = super().clean_params(params)
        if cleaned["patch_size"] % 2 == 0:
            raise EngineError(
                f"Parameter 'patch_size' must be an odd integer from 3 to 15, "
                f"got {cleaned['patch_size']}"
            )
        return cleaned

    def restore(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        *,
        seed: int,
        params: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> Restored:
        """Fill the damage with texture from wholly intact patches of the same image.

        image (H, W, 3) uint8 RGB, mask (H, W) bool (True = damaged). Works at full resolution
        on crops around the damage (a margin of max(8 * patch_size, 64) pixels), tiled with
        that overlap when a crop passes MAX_WINDOW (1024) pixels; the intact pixels are never
        downscaled except to build the coarse scales. Progress: (0, n) first, then one report
        per EM iteration per scale (n = iterations x scales, summed over crops), each with a
        preview renderer of the whole image (at most 512 pixels). Returns the (H, W, 3) uint8
        RGB image with info {"method", "windows", "levels"}. Raises EngineError for too little
        intact area.
        """
        patch, iterations = int(params["patch_size"]), int(params["iterations"])
        windows = _plan(mask, patch, int(params["levels"]))
        total = sum(window.levels * iterations for window in windows)
        rng = np.random.default_rng(seed)
        solver = _Solver(patch, rng)
        output = np.array(image, copy=True)
        done = np.zeros_like(mask)
        preview = _Preview(image)
        step = 0
        on_progress(step, total)
        for window in windows:
            rows, cols = window.rows, window.cols
            fill = mask[rows, cols] & ~done[rows, cols]
            result = None
            for estimate, _last in self._window(
                solver,
                output[rows, cols].astype(np.float32),
                fill,
                ~mask[rows, cols],
                window,
                iterations,
            ):
                step += 1
                on_progress(step, total, preview=preview.renderer(rows, cols, estimate, fill))
                result = estimate
            assert result is not None
            # Kept in the preview for the windows that follow, whether or not it was asked for.
            preview.paste(rows, cols, result, fill)
            region = output[rows, cols]
            region[window.core] = np.clip(result[window.core] + 0.5, 0, 255).astype(np.uint8)
            done[rows, cols] |= window.core
        info = {
            "method": "multi-scale PatchMatch + EM voting (Wexler 2007, Barnes 2009)",
            "windows": len(windows),
            "levels": [window.levels for window in windows],
        }
        return Restored(output, info)

    @staticmethod
    def _window(
        solver: _Solver,
        image: np.ndarray,
        fill: np.ndarray,
        intact: np.ndarray,
        window: _Window,
        iterations: int,
    ) -> Iterator[tuple[np.ndarray, bool]]:
        """Yield (estimate, is_last) after every EM iteration, coarse to fine."""
        fills, intacts, images = [fill], [intact], [image]
        for _ in range(window.levels - 1):
            images.append(_shrink_image(images[-1], ~fills[-1]))
            fills.append(_shrink_mask(fills[-1]))
            intacts.append(~_shrink_mask(~intacts[-1]))
        previous: _Scale | None = None
        estimate = images[-1]
        for level in range(window.levels - 1, -1, -1):
            scale = _Scale(fills[level], intacts[level], solver.patch)
            height, width = fills[level].shape
            if previous is None:
                seed_image = np.clip(estimate + 0.5, 0, 255).astype(np.uint8)
                guess = cv2.inpaint(seed_image, fills[level].astype(np.uint8), 3, cv2.INPAINT_TELEA)
                current = images[level].copy()
                current[fills[level]] = guess[fills[level]]
                pick = solver.rng.choice(scale.source_list, size=len(scale.targets))
                scale.ny, scale.nx = np.divmod(pick, width)
            else:
                current = images[level].copy()
                upsampled = cv2.resize(estimate, (width, height), interpolation=cv2.INTER_LINEAR)
                current[fills[level]] = upsampled[fills[level]]
                scale.ny, scale.nx = _upsample_field(previous, scale)
                invalid = ~scale.valid[scale.ny * width + scale.nx]
                pick = solver.rng.choice(scale.source_list, size=int(invalid.sum()))
                scale.ny[invalid], scale.nx[invalid] = np.divmod(pick, width)
            basis = solver.basis(current, scale)
            if previous is not None:
                # Vote once with the upsampled field: sharper than the interpolated estimate.
                cost = solver.match(scale, solver.features(current, basis), passes=0)
                solver.vote(current, scale, cost)
            for iteration in range(iterations):
                passes = FIRST_PASSES if iteration == 0 else PASSES
                cost = solver.match(scale, solver.features(current, basis), passes)
                # Averaging votes blurs; at full size each pixel instead comes from the most
                # similar patch covering it, which keeps the texture's grain.
                solver.vote(current, scale, cost, best=level == 0)
                yield current, level == 0 and iteration == iterations - 1
            previous, estimate = scale, current


def _upsample_field(coarse: _Scale, fine: _Scale) -> tuple[np.ndarray, np.ndarray]:
    """The coarse field doubled onto the fine targets; (ny, nx) int64 arrays."""
    grid_y, grid_x = np.divmod(
        np.arange(coarse.height * coarse.width, dtype=np.int64), coarse.width
    )
    grid_y[coarse.targets], grid_x[coarse.targets] = coarse.ny, coarse.nx
    cy = np.minimum(fine.ty // 2, coarse.height - 1)
    cx = np.minimum(fine.tx // 2, coarse.width - 1)
    at = cy * coarse.width + cx
    r = fine.radius
    ny = np.clip(2 * grid_y[at] + fine.ty % 2, r, fine.height - r - 1)
    nx = np.clip(2 * grid_x[at] + fine.tx % 2, r, fine.width - r - 1)
    return ny, nx
