"""Click-to-segment damaged patches for the damage editor (seed 003, sec. 3.4)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MAX_CLICKS = 10
# Longest side the work is done at; larger images are segmented on a downscaled copy so a
# 1024x1024 image stays well under 0.5 s.
WORK_SIDE = 512
GRABCUT_ITERATIONS = 3
# Most pixels GrabCut works on (about 192x192), which bounds its time; see _grabcut.
GRABCUT_PIXELS = 192 * 192
# Radius (work pixels) of the disc around each click forced to foreground or background.
_CLICK_RADIUS = 2
# GrabCut fits 5-component colour models; k-means needs at least 5 samples a side, and tiny
# spots (a 2-3 pixel radius after downscaling) still deserve the refinement.
_MIN_MODEL_PIXELS = 10
# Flood pixels this far (GrabCut px) inside the flood's edge are definite foreground: where damage
# and paint share colours, GrabCut would otherwise shrink a good flood to the clicked disc.
_CORE = 2
# Enclosed holes up to this share of the region are filled (pinholes in textured damage).
_HOLE_SHARE = 0.1

Point = tuple[int, int]


def _check_points(name: str, points: Sequence[Point], width: int, height: int) -> list[Point]:
    checked = []
    for point in points:
        if (
            not isinstance(point, Sequence)
            or len(point) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in point)
        ):
            raise ValueError(f"{name} clicks must be (x, y) pairs of integers, got {point!r}")
        x, y = int(point[0]), int(point[1])
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(
                f"{name} click ({x}, {y}) is outside the {width}x{height} image; "
                f"x must be in 0..{width - 1} and y in 0..{height - 1}"
            )
        checked.append((x, y))
    return checked


def _disc(mask: np.ndarray, points: list[Point], value: int) -> None:
    for x, y in points:
        cv2.circle(mask, (x, y), _CLICK_RADIUS, value, thickness=-1)


def _flood(smooth: np.ndarray, points: list[Point], tolerance: int) -> np.ndarray:
    """Union (uint8 0/1, work size) of the fixed-range floods from each point."""
    height, width = smooth.shape[:2]
    filled = np.zeros((height + 2, width + 2), dtype=np.uint8)
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    spread = (tolerance,) * 3
    for x, y in points:
        if not filled[y + 1, x + 1]:
            cv2.floodFill(smooth, filled, (x, y), 0, spread, spread, flags)
    return np.ascontiguousarray(filled[1:-1, 1:-1])


def _grabcut(
    image: np.ndarray, candidate: np.ndarray, positive: list[Point], negative: list[Point]
) -> np.ndarray:
    """GrabCut refinement (uint8 0/1) of the candidate, on a crop around it and the clicks."""
    height, width = candidate.shape
    box_x, box_y, box_w, box_h = cv2.boundingRect(candidate)
    left = min([box_x] + [x for x, _ in positive])
    right = max([box_x + box_w - 1] + [x for x, _ in positive])
    top = min([box_y] + [y for _, y in positive])
    bottom = max([box_y + box_h - 1] + [y for _, y in positive])
    # The margin gives GrabCut enough surrounding background to model without paying for the
    # whole image; pixels past it are background by construction.
    margin = max(16, (max(right - left, bottom - top) + 1) // 4)
    left, top = max(0, left - margin), max(0, top - margin)
    right, bottom = min(width - 1, right + margin), min(height - 1, bottom + margin)
    crop = np.s_[top : bottom + 1, left : right + 1]
    crop_w, crop_h = right - left + 1, bottom - top + 1

    # GrabCut's cost grows faster than its pixel count on busy images (measured on a photo:
    # 1.6 s at 512x512, 0.1-0.25 s at 256x256), so large crops are cut on a smaller copy.
    factor = min(1.0, (GRABCUT_PIXELS / (crop_w * crop_h)) ** 0.5)
    size = (max(1, round(crop_w * factor)), max(1, round(crop_h * factor)))
    pixels = np.ascontiguousarray(image[crop])
    seeds = candidate[crop] * np.uint8(255)
    if factor < 1.0:
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        seeds = cv2.resize(seeds, size, interpolation=cv2.INTER_AREA)

    def place(points: list[Point]) -> list[Point]:
        inside = [
            (x - left, y - top) for x, y in points if left <= x <= right and top <= y <= bottom
        ]
        return [
            (min(size[0] - 1, int(x * factor)), min(size[1] - 1, int(y * factor)))
            for x, y in inside
        ]

    labels = np.where(seeds > 127, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    core = cv2.erode(
        (seeds > 127).astype(np.uint8),
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _CORE + 1, 2 * _CORE + 1)),
        borderType=cv2.BORDER_REPLICATE,
    )
    labels[core > 0] = cv2.GC_FGD
    # The crop's inner edges (not the image's) are far from the candidate: definite background.
    ring = np.zeros(labels.shape, dtype=bool)
    ring[0, :], ring[-1, :] = top > 0, bottom < height - 1
    ring[:, 0] |= left > 0
    ring[:, -1] |= right < width - 1
    labels[ring & (labels == cv2.GC_PR_BGD)] = cv2.GC_BGD
    _disc(labels, place(negative), cv2.GC_BGD)
    _disc(labels, place(positive), cv2.GC_FGD)

    foreground = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if min(np.count_nonzero(foreground), np.count_nonzero(~foreground)) >= _MIN_MODEL_PIXELS:
        cv2.setRNGSeed(0)  # GrabCut seeds its k-means from OpenCV's RNG
        models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(pixels, labels, None, *models, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
        foreground = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    # else: too few samples on one side for GrabCut's colour models; the flood stands as it is.
    cut = foreground.astype(np.uint8) * np.uint8(255)
    if factor < 1.0:
        cut = cv2.resize(cut, (crop_w, crop_h), interpolation=cv2.INTER_LINEAR)
    result = np.zeros_like(candidate)
    result[crop] = cut > 127
    return result


def _split_from_negatives(
    region: np.ndarray, positive: list[Point], negative: list[Point]
) -> np.ndarray:
    """Region minus the part nearer, along paths inside it, to a negative click than a positive.

    Watershed on an image flat inside the region floods the click markers breadth-first at the
    same pace, a geodesic Voronoi split; the outside (a marker too) sits behind a 255 step, so it
    only takes what no click reaches. The image's own edges are not used on purpose: inside a
    patch that GrabCut could not split they are noise, and following them cuts at random places.
    """
    passable = region > 0
    # GrabCut leaves a hole around a negative click; the click's front must cross it to compete.
    _, holes = cv2.connectedComponents((~passable).astype(np.uint8), connectivity=4)
    outer = set(np.unique(np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]])))
    for x, y in negative:
        if holes[y, x] and holes[y, x] not in outer:
            passable |= holes == holes[y, x]
    markers = np.where(passable, 0, 2).astype(np.int32)
    walls = np.where(passable, 0, 255).astype(np.uint8)
    for value, points in ((2, negative), (1, positive)):
        _disc(markers, points, value)
        _disc(walls, points, 0)
    cv2.watershed(cv2.merge([walls, walls, walls]), markers)
    return ((markers == 1) & (region > 0)).astype(np.uint8)


def _fill_holes(region: np.ndarray, negative: list[Point]) -> np.ndarray:
    background = (region == 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    height, width = region.shape
    limit = _HOLE_SHARE * max(1, int(region.sum()))
    x, y, w, h, area = (stats[:, i] for i in range(5))
    inside = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
    fill = inside & (area <= limit)
    fill[0] = False
    fill[[labels[y, x] for x, y in negative]] = False  # the user said these are intact
    return np.where(fill[labels], 1, region).astype(np.uint8)


def _keep_clicked(region: np.ndarray, positive: list[Point]) -> np.ndarray:
    _, labels = cv2.connectedComponents(region, connectivity=8)
    clicked = {int(labels[y, x]) for x, y in positive} - {0}
    return np.isin(labels, list(clicked)).astype(np.uint8)


def segment(
    image: np.ndarray,
    *,
    positive: Sequence[Point],
    negative: Sequence[Point] = (),
    tolerance: int = 20,
) -> np.ndarray:
    """Mask of the damaged patch(es) under the positive clicks, without the negative ones.

    image: uint8 RGB (H, W, 3). Clicks are (x, y) = (column, row) pixel coordinates, at least one
    positive, at most MAX_CLICKS in all. tolerance (0-255): how far, per channel, a lightly
    smoothed colour may differ from the clicked one and still join the patch.
    Steps: on a copy downscaled to at most WORK_SIDE px, flood-fill from each positive click
    (fixed range), refine with GrabCut on a crop around the flood (clicks are definite
    foreground/background), split off what is nearer (inside the patch) to a negative click,
    fill small enclosed holes, keep the components under a positive click, scale back and
    re-threshold.
    Deterministic (OpenCV's RNG is reseeded).

    Returns uint8 (H, W): 255 = damaged, 0 = intact.
    Raises ValueError for a bad image, click or tolerance.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have shape (height, width, 3), got {image.shape}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | np.integer):
        raise ValueError(f"tolerance must be an integer, got {tolerance!r}")
    if not 0 <= tolerance <= 255:
        raise ValueError(f"tolerance must be in 0..255, got {tolerance}")
    height, width = image.shape[:2]
    if len(positive) == 0:
        raise ValueError("at least one positive click is needed")
    if len(positive) + len(negative) > MAX_CLICKS:
        raise ValueError(
            f"at most {MAX_CLICKS} clicks are allowed, got {len(positive) + len(negative)}"
        )
    positive = _check_points("positive", positive, width, height)
    negative = _check_points("negative", negative, width, height)
    if set(positive) & set(negative):
        raise ValueError("a point cannot be both a positive and a negative click")

    scale = min(1.0, WORK_SIDE / max(height, width))
    work = np.ascontiguousarray(image)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    work_h, work_w = work.shape[:2]

    def to_work(points: list[Point]) -> list[Point]:
        return [
            (min(work_w - 1, int((x + 0.5) * scale)), min(work_h - 1, int((y + 0.5) * scale)))
            for x, y in points
        ]

    work_positive, work_negative = to_work(positive), to_work(negative)
    if set(work_positive) & set(work_negative):
        raise ValueError("a positive and a negative click are too close together")
    # Smoothing lets the flood cross fine texture (cracks, pigment grain) inside a patch.
    smooth = cv2.GaussianBlur(work, (5, 5), 0)
    region = _flood(smooth, work_positive, tolerance)
    region = _grabcut(work, region, work_positive, work_negative)
    if work_negative:
        region = _split_from_negatives(region, work_positive, work_negative)
    region = _keep_clicked(_fill_holes(region, work_negative), work_positive)

    mask = region * np.uint8(255)
    if scale < 1.0:
        # Linear upscaling then thresholding gives smoother edges than blocky nearest pixels.
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        mask = np.where(mask > 127, 255, 0).astype(np.uint8)
    return mask
