"""The demo artwork record, argument checks, random streams and shared damage shapes."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ._draw import blur, ellipse, fbm, to_u8

DAMAGE_KINDS = ("crack", "flaking", "loss", "fading", "stain", "salt", "other")
MIN_SIDE, MAX_SIDE = 64, 4096


@dataclass(frozen=True)
class DemoArtwork:
    """A generated artwork photograph, its true damage mask and catalogue metadata."""

    image: Image.Image
    damage: np.ndarray
    damage_kinds: tuple[str, ...]
    title: str
    style: str
    era: str
    medium: str
    description: str


def check_args(seed: int, width: int, height: int) -> None:
    """Raise ValueError for a negative seed or a size outside 64..4096 pixels."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {v!r}")
        if not MIN_SIDE <= v <= MAX_SIDE:
            raise ValueError(f"{name} must be between {MIN_SIDE} and {MAX_SIDE}, got {v}")


def streams(seed: int, name: str) -> tuple[np.random.Generator, ...]:
    """Independent generators for the artwork, its damage and its metadata.

    Separate streams keep the artwork identical whether or not damage is drawn.
    """
    root = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])
    return tuple(np.random.default_rng(s) for s in root.spawn(3))


def crack_paths(
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    count: int,
    steps: int,
    step: float,
    curl: float = 0.2,
    heading: float | None = None,
    starts: np.ndarray | None = None,
    branching: float = 1.0,
) -> list[tuple[np.ndarray, int]]:
    """Branching random-walk cracks as (polyline, depth) pairs; depth 0 is a main crack."""
    h, w = size
    paths: list[tuple[np.ndarray, int]] = []

    def walk(p: np.ndarray, angle: float, n: int, depth: int) -> None:
        ang = angle + np.cumsum(rng.normal(0.0, curl, n))
        moves = np.stack([np.cos(ang), np.sin(ang)], axis=1) * step
        pts = np.vstack([p, p + np.cumsum(moves, axis=0)])
        paths.append((pts, depth))
        if depth >= 2:
            return
        for _ in range(rng.poisson(branching * (1.6 if depth == 0 else 0.7))):
            j = int(rng.integers(1, n))
            turn = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.2)
            walk(pts[j], ang[j - 1] + turn, max(4, int(n * rng.uniform(0.2, 0.5))), depth + 1)

    for i in range(count):
        p = starts[i] if starts is not None else rng.uniform([0, 0], [w, h])
        a = rng.uniform(0, 2 * np.pi) if heading is None else heading + rng.normal(0, 0.5)
        walk(np.asarray(p, float), a, steps, 0)
    return paths


def blobs(
    rng: np.random.Generator,
    size: tuple[int, int],
    centres: np.ndarray,
    radii: np.ndarray,
    *,
    rough: float = 1.0,
) -> np.ndarray:
    """Irregular patches around the given centres, as a boolean mask."""
    h, w = size
    m = np.zeros((h, w), np.uint8)
    for (x, y), r in zip(centres, radii, strict=True):
        axes = (r * rng.uniform(0.6, 1.3), r * rng.uniform(0.5, 1.0))
        ellipse(m, (x, y), axes, rng.uniform(0, 180))
    if not len(radii):
        return m > 0
    r = float(np.mean(radii))
    soft = blur(m.astype(np.float32) / 255.0, 0.35 * r)
    edge = fbm(rng, size, cells=max(w, h) / (1.4 * r), octaves=3)
    # the noise only frays the patches' edges; it must not seed patches of its own
    return (soft + 0.22 * rough * edge * np.clip(4.0 * soft, 0, 1)) > 0.5


def shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`a` moved by (dy, dx) pixels, filling the uncovered border with zeros."""
    out = np.zeros_like(a)
    h, w = a.shape[:2]
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def inside(region: np.ndarray, depth: float) -> np.ndarray:
    """0 at the edge of `region`, rising to 1 at `depth` pixels inside it."""
    d = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(d / depth, 0, 1)


def ring_of(region: np.ndarray, width: int) -> np.ndarray:
    """The band of `region` within `width` pixels of its edge."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return region & ~cv2.erode(region.astype(np.uint8), k).astype(bool)


def listing(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def finish(
    intact: np.ndarray, damaged: np.ndarray | None, region: np.ndarray | None
) -> tuple[Image.Image, np.ndarray]:
    """Quantise to RGB and keep only damage that changed a pixel, so the mask is exact."""
    base = to_u8(intact)
    h, w = base.shape[:2]
    if damaged is None or region is None:
        return Image.fromarray(base, "RGB"), np.zeros((h, w), np.uint8)
    hurt = to_u8(damaged)
    changed = region & (hurt != base).any(axis=2)
    out = np.where(changed[..., None], hurt, base)
    return Image.fromarray(out, "RGB"), changed.astype(np.uint8) * 255
