"""Noise, curves and painting primitives shared by the demo artwork generators."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Colour = tuple[float, float, float]

# cv2 draws with fixed-point coordinates; 4 fractional bits keep small curves smooth.
_SHIFT = 4
_ONE = float(1 << _SHIFT)


def fbm(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    cells: float = 4.0,
    octaves: int = 5,
    gain: float = 0.5,
    stretch: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """Fractal value noise of `shape`, standardised to mean 0 and std 1 (float32)."""
    h, w = shape
    side = max(h, w)
    total = np.zeros((h, w), np.float32)
    amp = 1.0
    for octave in range(octaves):
        c = cells * 2.0**octave
        gx = max(2, int(np.ceil(c * w / side * stretch[0])) + 1)
        gy = max(2, int(np.ceil(c * h / side * stretch[1])) + 1)
        grid = rng.random((gy, gx), dtype=np.float32)
        total += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= gain
    return standardise(total)


def standardise(a: np.ndarray) -> np.ndarray:
    return ((a - a.mean()) / (a.std() + 1e-6)).astype(np.float32)


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), max(sigma, 0.3))


def spline(ctrl: Sequence[Sequence[float]] | np.ndarray, n: int = 48) -> np.ndarray:
    """Catmull-Rom curve through the control points, as an (n, 2) float array."""
    p = np.asarray(ctrl, np.float64)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    segs = len(p) - 3
    t = np.linspace(0.0, segs, n)
    i = np.minimum(t.astype(int), segs - 1)
    u = (t - i)[:, None]
    p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
    return 0.5 * (
        2 * p1
        + (p2 - p0) * u
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
        + (3 * p1 - p0 - 3 * p2 + p3) * u**3
    )


def band(path: np.ndarray, widths: float | np.ndarray) -> np.ndarray:
    """Outline polygon of a stroke of varying width along `path`."""
    d = np.gradient(path, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    half = np.broadcast_to(np.asarray(widths, np.float64), (len(path),))[:, None] / 2
    return np.vstack([path + normal * half, (path - normal * half)[::-1]])


def profile(n: int, *stops: float) -> np.ndarray:
    """Widths along a stroke, linearly interpolated between evenly spaced stops."""
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(stops)), stops)


def petal(
    base: Sequence[float],
    tip: Sequence[float],
    width: float,
    bend: float = 0.0,
    fullness: float = 0.7,
) -> np.ndarray:
    """A pointed leaf or petal from base to tip; lower `fullness` gives a plumper shape."""
    b, t = np.asarray(base, float), np.asarray(tip, float)
    axis = t - b
    side = np.array([-axis[1], axis[0]]) * bend
    path = spline([b, b + axis * 0.5 + side * 0.5, t + side], 24)
    s = np.linspace(0, 1, 24)
    bulge = np.sin(np.pi * np.clip(s * 0.95 + 0.04, 0, 1)) ** fullness
    return band(path, width * bulge * (1.1 - s))


def circle_poly(centre: Sequence[float], radius: float, ry: float | None = None) -> np.ndarray:
    n = int(np.clip(radius, 12, 90))
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ry = radius if ry is None else ry
    return np.asarray(centre, float) + np.stack([np.cos(t) * radius, np.sin(t) * ry], axis=1)


def place(
    local: np.ndarray, origin: Sequence[float], scale: float, angle: float = 0.0, flip: bool = False
) -> np.ndarray:
    """Map figure-local coordinates onto the image: mirror, rotate (radians), scale, move."""
    p = np.asarray(local, np.float64) * scale
    if flip:
        p = p * np.array([-1.0, 1.0])
    c, s = np.cos(angle), np.sin(angle)
    return p @ np.array([[c, s], [-s, c]]) + np.asarray(origin, np.float64)


def _fix(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def fill(mask: np.ndarray, *polys: np.ndarray, value: int = 255) -> None:
    cv2.fillPoly(mask, [_fix(p) for p in polys], value, cv2.LINE_AA, _SHIFT)


def stroke(
    mask: np.ndarray, path: np.ndarray, width: float, value: int = 255, closed: bool = False
) -> None:
    cv2.polylines(mask, [_fix(path)], closed, value, max(1, round(width)), cv2.LINE_AA, _SHIFT)


def ellipse(
    mask: np.ndarray,
    centre: Sequence[float],
    axes: tuple[float, float],
    angle_deg: float = 0.0,
    value: int = 255,
    width: int = -1,
) -> None:
    c = tuple(int(v) for v in _fix(centre).ravel())
    ax = (max(1, round(axes[0] * _ONE)), max(1, round(axes[1] * _ONE)))
    cv2.ellipse(mask, c, ax, angle_deg, 0, 360, value, width, cv2.LINE_AA, _SHIFT)


def disc(mask: np.ndarray, centre: Sequence[float], radius: float, value: int = 255) -> None:
    ellipse(mask, centre, (radius, radius), 0.0, value)


def ring(mask: np.ndarray, centre: Sequence[float], radius: float, width: float) -> None:
    ellipse(mask, centre, (radius, radius), 0.0, 255, max(1, round(width)))


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


class Canvas:
    """A float RGB surface painted with slightly uneven, flat mineral colours."""

    def __init__(self, rgb: np.ndarray, rng: np.random.Generator) -> None:
        self.rgb = rgb
        h, w = rgb.shape[:2]
        self.size = (h, w)
        # paint density varies at two scales: brush loads and pigment grain
        self.density = 0.7 * fbm(rng, (h, w), cells=5, octaves=3) + 0.3 * fbm(
            rng, (h, w), cells=70, octaves=2
        )
        # painted by hand: every outline wanders a little from its ideal geometry
        amp = 0.9 * min(h, w) / 512.0
        self._wobble = np.stack(
            [
                fbm(rng, (h, w), cells=24, octaves=2) * amp,
                fbm(rng, (h, w), cells=24, octaves=2) * amp,
            ],
            axis=2,
        )
        # scratch mask, kept all-zero between calls so no shape pays for clearing the image
        self._mask = np.zeros((h, w), np.uint8)

    def hand(self, p: np.ndarray) -> np.ndarray:
        h, w = self.size
        ix = np.clip(p[:, 0].astype(int), 0, w - 1)
        iy = np.clip(p[:, 1].astype(int), 0, h - 1)
        return p + self._wobble[iy, ix]

    def _window(self, pts: np.ndarray, pad: float) -> tuple[slice, slice] | None:
        h, w = self.size
        lo = np.floor(pts.min(axis=0) - pad).astype(int)
        hi = np.ceil(pts.max(axis=0) + pad).astype(int) + 1
        x0, y0 = max(lo[0], 0), max(lo[1], 0)
        x1, y1 = min(hi[0], w), min(hi[1], h)
        return (slice(y0, y1), slice(x0, x1)) if x1 > x0 and y1 > y0 else None

    def _flush(self, win: tuple[slice, slice] | None, colour: Colour, opacity: float) -> None:
        if win is None:
            return
        m = self._mask[win]
        a = m.astype(np.float32) * (opacity / 255.0)
        a *= np.clip(1.0 + 0.14 * self.density[win], 0.0, 1.0 / max(opacity, 1e-3))
        region = self.rgb[win]
        region += (np.asarray(colour, np.float32) - region) * a[..., None]
        m[:] = 0

    def shape(
        self,
        polys: Sequence[np.ndarray],
        colour: Colour | None,
        line: Colour | None = None,
        width: float = 1.5,
        opacity: float = 0.93,
    ) -> None:
        """Fill polygons with a colour, then outline them as the painters did."""
        polys = [self.hand(np.asarray(p, float)) for p in polys]
        pts = np.vstack(polys)
        if colour is not None:
            fill(self._mask, *polys)
            self._flush(self._window(pts, 2), colour, opacity)
        if line is not None:
            for p in polys:
                stroke(self._mask, p, width, closed=True)
            self._flush(self._window(pts, width + 2), line, 0.9)

    def lines(self, paths: Sequence[np.ndarray], colour: Colour, width: float) -> None:
        paths = [self.hand(np.asarray(p, float)) for p in paths]
        for p in paths:
            stroke(self._mask, p, width)
        self._flush(self._window(np.vstack(paths), width + 2), colour, 0.9)

    def circle(
        self,
        centre: Sequence[float],
        radius: float,
        colour: Colour | None,
        line: Colour | None = None,
        width: float = 1.5,
    ) -> None:
        self.shape([circle_poly(centre, radius)], colour, line, width)

    def region(
        self, mask: np.ndarray, colour: Colour, line: Colour | None = None, width: float = 1.5
    ) -> None:
        """Paint an arbitrary mask (e.g. a union of shapes), outlining its outer edge."""
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0:
            return
        pad = int(width) + 2
        box = np.array([[x, y], [x + w, y + h]], float)
        win = self._window(box, pad)
        self._mask[win] = mask[win]
        self._flush(win, colour, 0.93)
        if line is not None:
            k = max(3, 2 * round(width / 2) + 1)
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
            self._mask[win] = cv2.morphologyEx(mask[win], cv2.MORPH_GRADIENT, kernel)
            self._flush(win, line, 0.9)
