"""Dunhuang mural ornament: palettes, flowers, clouds, lotuses, flames, border bands, valances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._draw import Canvas, Colour, band, circle_poly, fill, petal, profile, spline


@dataclass(frozen=True)
class Palette:
    ground: Colour
    line: Colour
    skin: Colour
    green: Colour
    blue: Colour
    red: Colour
    ochre: Colour
    white: Colour
    dark: Colour

    @classmethod
    def from_hex(cls, spec: str) -> Palette:
        """Nine space-separated RRGGBB colours, in field order."""
        return cls(*(tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4)) for h in spec.split()))

    def lighter(self, c: Colour, k: float = 0.35) -> Colour:
        return tuple(v + (1.0 - v) * k for v in c)  # type: ignore[return-value]

    def accents(self) -> tuple[Colour, ...]:
        return (self.green, self.blue, self.red, self.ochre)


def lw_for(size: float) -> float:
    return max(1.0, 0.008 * size)


def ellipse_poly(c: np.ndarray, ax: float, ay: float, top: bool = False) -> np.ndarray:
    t = np.linspace(np.pi, 2 * np.pi, 32) if top else np.linspace(0, 2 * np.pi, 64, endpoint=False)
    return c + np.stack([np.cos(t) * ax, np.sin(t) * ay], axis=1)


def flower(cv: Canvas, c: np.ndarray, r: float, colour: Colour, pal: Palette) -> None:
    """A small five-petalled falling flower."""
    lw = lw_for(4 * r)
    for a in np.linspace(0, 2 * np.pi, 5, endpoint=False) + 0.3:
        cv.circle(c + 0.55 * r * np.array([np.cos(a), np.sin(a)]), 0.5 * r, colour, pal.line, lw)
    cv.circle(c, 0.35 * r, pal.ochre)


def cloud(
    cv: Canvas,
    rng: np.random.Generator,
    c: np.ndarray,
    r: float,
    colour: Colour,
    pal: Palette,
    flip: bool,
) -> None:
    """A ruyi scroll cloud: curled heads with stepped inner tones and a trailing tail."""
    lw = lw_for(3 * r)
    d = -1.0 if flip else 1.0
    tail = spline(
        c + r * np.array([[0, 0.2], [-1.3 * d, 0.55], [-2.5 * d, 0.1], [-3.6 * d, 0.45]]), 40
    )
    cv.shape([band(tail, profile(40, 1.0, 0.55, 0.25, 0.04) * r)], colour, pal.line, lw)
    heads = [(0.0, 0.0, 1.0), (-0.85 * d, 0.3, 0.72), (0.8 * d, 0.35, 0.66)]
    m = np.zeros(cv.size, np.uint8)
    for dx, dy, k in heads:
        fill(m, circle_poly(c + r * np.array([dx, dy]), k * r))
    cv.region(m, colour, pal.line, lw)
    inner = pal.lighter(colour, 0.45)
    for dx, dy, k in heads:
        hc = c + r * np.array([dx, dy + 0.08])
        cv.circle(hc, 0.55 * k * r, inner)
        t = np.linspace(0, 1.7 * np.pi, 40)
        rad = 0.55 * k * r * (1 - t / (2.4 * np.pi))
        t0 = rng.uniform(0, 2 * np.pi)
        spiral = hc + np.stack([np.cos(t + t0), np.sin(t + t0)], axis=1) * rad[:, None]
        cv.lines([spiral], pal.line, lw)


def rosette(cv: Canvas, c: np.ndarray, r: float, pal: Palette, colours: tuple[Colour, ...]) -> None:
    """A lotus seen from above, as in the caisson ceilings: rings of plump two-tone petals."""
    lw = lw_for(r)
    for i, (k, n, off) in enumerate(((1.0, 8, np.pi / 8), (0.78, 8, 0.0), (0.55, 8, np.pi / 8))):
        colour = colours[i % len(colours)]
        for a in np.linspace(0, 2 * np.pi, n, endpoint=False) + off:
            d = np.array([np.cos(a), np.sin(a)])
            tip = c + k * r * d
            cv.shape([petal(c + 0.15 * r * d, tip, 0.62 * k * r, 0.0, 0.4)], colour, pal.line, lw)
            inner = petal(c + 0.35 * r * d, c + (k - 0.1) * r * d, 0.32 * k * r, 0.0, 0.4)
            cv.shape([inner], pal.lighter(colour, 0.45), None)
    cv.circle(c, 0.25 * r, pal.ochre, pal.line, lw)
    for a in np.linspace(0, 2 * np.pi, 7, endpoint=False):
        cv.circle(c + 0.14 * r * np.array([np.cos(a), np.sin(a)]), 0.035 * r, pal.dark)


def lotus_seat(cv: Canvas, c: np.ndarray, width: float, pal: Palette, colour: Colour) -> None:
    """A lotus pedestal seen from the side: a fan of petals in two tones."""
    lw = lw_for(width)
    for k, tone in ((9, pal.lighter(colour, 0.4)), (7, colour)):
        for a in np.linspace(-1.25, 1.25, k):
            tip = c + 0.5 * width * np.array([np.sin(a) * 1.1, -0.55 * np.cos(a)])
            cv.shape([petal(c, tip, 0.28 * width, 0.1 * np.sign(a))], tone, pal.line, lw)


def flames(
    cv: Canvas, c: np.ndarray, axes: tuple[float, float], pal: Palette, colours: tuple[Colour, ...]
) -> None:
    """Flame tongues licking outwards around a halo or mandorla."""
    n = max(10, int(2 * np.pi * max(axes) / (0.22 * max(axes) + 6)))
    for j, a in enumerate(np.linspace(0, 2 * np.pi, n, endpoint=False)):
        base = c + np.array([np.cos(a) * axes[0], np.sin(a) * axes[1]]) * 0.92
        tip = c + np.array([np.cos(a + 0.12) * axes[0], np.sin(a + 0.12) * axes[1]]) * 1.16
        width = 2.6 * np.pi * max(axes) / n
        cv.shape(
            [petal(base, tip, width, 0.35)], colours[j % len(colours)], pal.line, lw_for(max(axes))
        )


def border(cv: Canvas, box: tuple[float, float, float, float], pal: Palette, kind: str) -> None:
    """A horizontal ornamental band inside `box` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    bh = y1 - y0
    lw = lw_for(3 * bh)
    accents = pal.accents()
    if kind == "blocks":
        n = max(2, int((x1 - x0) / (1.3 * bh)))
        xs = np.linspace(x0, x1, n + 1)
        for i in range(n):
            col = accents[i % len(accents)]
            rect = np.array([[xs[i], y0], [xs[i + 1], y0], [xs[i + 1], y1], [xs[i], y1]])
            cv.shape([rect], col, pal.line, lw)
            inset = np.array(
                [
                    [xs[i] + 0.18 * bh, y0 + 0.25 * bh],
                    [xs[i + 1] - 0.18 * bh, y0 + 0.25 * bh],
                    [xs[i + 1] - 0.18 * bh, y1 - 0.25 * bh],
                    [xs[i] + 0.18 * bh, y1 - 0.25 * bh],
                ]
            )
            cv.shape([inset], pal.lighter(col, 0.4), None)
    elif kind == "scroll":
        cv.shape([np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])], pal.red, pal.line, lw)
        period = 1.6 * bh
        x = np.linspace(x0, x1, int((x1 - x0) / 3) + 2)
        stem = np.stack(
            [x, (y0 + y1) / 2 + 0.22 * bh * np.sin(2 * np.pi * (x - x0) / period)], axis=1
        )
        cv.shape([band(stem, 0.09 * bh)], pal.green, pal.line, lw)
        for i, xc in enumerate(np.arange(x0 + period / 4, x1, period / 2)):
            sign = 1 if i % 2 == 0 else -1
            basept = np.array([xc, (y0 + y1) / 2 - sign * 0.22 * bh])
            tip = basept + np.array([0.55 * bh, sign * 0.3 * bh])
            col = pal.green if i % 2 else pal.blue
            cv.shape(
                [petal(basept, tip, 0.32 * bh, -0.3 * sign)], pal.lighter(col, 0.2), pal.line, lw
            )
    elif kind == "beads":
        cv.shape([np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])], pal.dark, None)
        for xc in np.arange(x0 + 0.5 * bh, x1, 0.75 * bh):
            cv.circle((xc, (y0 + y1) / 2), 0.24 * bh, pal.white, pal.line, lw)
    else:
        cv.shape([np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])], pal.ochre, None)
        step = 1.1 * bh
        for i, xc in enumerate(np.arange(x0 + step / 2, x1, step)):
            diamond = np.array(
                [
                    [xc - step / 2, (y0 + y1) / 2],
                    [xc, y0 + 0.08 * bh],
                    [xc + step / 2, (y0 + y1) / 2],
                    [xc, y1 - 0.08 * bh],
                ]
            )
            cv.shape([diamond], accents[i % 3], pal.line, lw)
    edge = [np.array([[x0, y0], [x1, y0]]), np.array([[x0, y1], [x1, y1]])]
    cv.lines(edge, pal.line, 1.5 * lw)


def valance(cv: Canvas, x0: float, x1: float, y: float, depth: float, pal: Palette) -> None:
    """The hanging drapery of triangles and bells that tops many cave walls."""
    lw = lw_for(3 * depth)
    n = max(3, int((x1 - x0) / depth))
    xs = np.linspace(x0, x1, n + 1)
    accents = pal.accents()
    for i in range(n):
        tri = np.array([[xs[i], y], [xs[i + 1], y], [(xs[i] + xs[i + 1]) / 2, y + depth]])
        cv.shape([tri], accents[i % len(accents)], pal.line, lw)
        cv.circle(((xs[i] + xs[i + 1]) / 2, y + depth * 1.08), 0.1 * depth, pal.ochre, pal.line, lw)
