"""Huashan rock-art figures: squatting people, processions, dogs, bronze drums, suns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._draw import disc, fill, ring, spline, stroke

HEADDRESS = ("none", "twin", "plume", "bun")
Box = tuple[float, float, float, float]


def _frontal(
    m: np.ndarray,
    rng: np.random.Generator,
    cx: float,
    top: float,
    height: float,
    headdress: str = "none",
    sword: bool = False,
) -> None:
    """Frontal squatting figure: arms raised at the elbows, knees bent outwards."""
    u = height / 10.0

    def p(x: float, y: float) -> np.ndarray:
        return np.array([cx + x * u, top + y * u])

    fill(m, np.array([p(-1.3, 2.3), p(1.3, 2.3), p(0.75, 5.7), p(-0.75, 5.7)]))
    stroke(m, np.array([p(0, 1.6), p(0, 2.6)]), 0.8 * u)
    disc(m, p(0, 1.35), 0.8 * u)
    for side in (-1.0, 1.0):
        jit = rng.normal(0.0, 0.2, 6)
        elbow, hand = p(side * (3.0 + jit[0]), 2.9 + jit[1]), p(side * (3.1 + jit[2]), 0.4 + jit[3])
        stroke(m, np.array([p(side * 1.0, 2.6), elbow, hand]), 0.8 * u)
        knee = p(side * (3.0 + jit[4]), 6.4 + jit[5])
        ankle, toe = p(side * 2.8, 9.4), p(side * 3.7, 9.6)
        stroke(m, np.array([p(side * 0.5, 5.4), knee, ankle, toe]), 0.9 * u)
        if u > 3.5:
            for a in (-0.5, 0.0, 0.5):
                tip = hand + np.array([np.sin(a) * side, -np.cos(a)]) * 0.8 * u
                stroke(m, np.array([hand, tip]), 0.3 * u)
        if headdress == "twin":
            stroke(m, np.array([p(side * 0.25, 0.7), p(side * 0.75, -1.0)]), 0.28 * u)
            disc(m, p(side * 0.8, -1.15), 0.3 * u)
    if headdress == "plume":
        for a in (-0.45, 0.0, 0.45):
            stroke(m, np.array([p(0, 0.7), p(np.sin(a) * 1.6, 0.7 - np.cos(a) * 1.6)]), 0.35 * u)
    elif headdress == "bun":
        disc(m, p(0, 0.35), 0.45 * u)
    if sword:
        # worn across the waist, so it shows between arm and thigh
        stroke(m, np.array([p(-0.9, 5.0), p(3.9, 4.4)]), 0.45 * u)
        ring(m, p(-1.45, 5.05), 0.5 * u, max(1.0, 0.25 * u))


def _profile(m: np.ndarray, cx: float, top: float, height: float, facing: float) -> None:
    """Side-view figure with both arms raised forwards, as in the Huashan processions."""
    u = height / 10.0

    def p(x: float, y: float) -> np.ndarray:
        return np.array([cx + facing * x * u, top + y * u])

    disc(m, p(0.2, 1.2), 0.75 * u)
    stroke(m, np.array([p(0.1, 2.0), p(-0.3, 5.4)]), 1.2 * u)
    stroke(m, np.array([p(0.2, 2.6), p(1.6, 2.2), p(2.0, 0.2)]), 0.55 * u)
    stroke(m, np.array([p(0.1, 2.9), p(1.9, 3.1), p(2.9, 1.4)]), 0.55 * u)
    stroke(m, np.array([p(-0.3, 5.3), p(1.6, 6.0), p(1.3, 9.3), p(2.0, 9.5)]), 0.7 * u)
    stroke(m, np.array([p(-0.4, 5.5), p(0.9, 6.6), p(0.2, 9.4), p(0.9, 9.6)]), 0.7 * u)
    stroke(m, np.array([p(-0.4, 5.4), p(-1.3, 6.4)]), 0.5 * u)


def _dog(m: np.ndarray, cx: float, cy: float, length: float, facing: float) -> None:
    u = length / 10.0

    def p(x: float, y: float) -> np.ndarray:
        return np.array([cx + facing * x * u, cy + y * u])

    stroke(m, np.array([p(-3, 0), p(0, 0.25), p(3, -0.2)]), 1.8 * u)
    stroke(m, np.array([p(3, -0.2), p(4.1, -1.5), p(5.6, -1.1)]), 1.2 * u)
    fill(m, np.array([p(3.7, -1.7), p(4.2, -3.1), p(4.7, -1.6)]))
    for x, dx in ((-2.8, -0.4), (-2.0, 0.1), (2.3, 0.2), (3.0, 0.6)):
        stroke(m, np.array([p(x, 0.2), p(x + dx, 2.8)]), 0.6 * u)
    stroke(m, spline([p(-3, -0.3), p(-4.2, -1.2), p(-3.9, -2.6)], 12), 0.55 * u)


def _drum(m: np.ndarray, rng: np.random.Generator, c: np.ndarray, r: float, sun: bool) -> None:
    """Bronze drum face (rayed star in a rim) or a sun disc with short rays."""
    if sun:
        disc(m, c, 0.55 * r)
        for a in np.linspace(0, 2 * np.pi, int(rng.integers(8, 14)), endpoint=False):
            d = np.array([np.cos(a), np.sin(a)])
            stroke(m, np.array([c + d * 0.72 * r, c + d * 1.0 * r]), 0.12 * r)
        return
    ring(m, c, 0.9 * r, 0.2 * r)
    disc(m, c, 0.28 * r)
    n = int(rng.integers(8, 13))
    for a in np.linspace(0, 2 * np.pi, n, endpoint=False):
        d, q = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        fill(
            m,
            np.array(
                [c + d * 0.25 * r + q * 0.12 * r, c + d * 0.7 * r, c + d * 0.25 * r - q * 0.12 * r]
            ),
        )


def compose(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, list[Box], dict]:
    """Lay out figures without overlaps; returns their mask, boxes and a content summary."""
    m = np.zeros((h, w), np.uint8)
    boxes: list[Box] = []
    info = {"main": None, "frontal": 0, "profile": 0, "dogs": 0, "drums": 0, "suns": 0}

    def put(box: Box, draw: Callable[..., None], *args: object) -> bool:
        x0, y0, x1, y1 = box
        if x0 < -0.05 * w or x1 > 1.05 * w or y0 < 0.01 * h or y1 > 0.99 * h:
            return False
        pad = 0.02 * h
        for b in boxes:
            if x0 < b[2] + pad and b[0] < x1 + pad and y0 < b[3] + pad and b[1] < y1 + pad:
                return False
        draw(m, *args)
        boxes.append(box)
        return True

    if rng.random() < 0.85:
        hh = h * rng.uniform(0.42, 0.6)
        cx, top = w * rng.uniform(0.3, 0.7), rng.uniform(0.04 * h, 0.9 * h - hh)
        dress, sword = str(rng.choice(HEADDRESS)), bool(rng.random() < 0.7)
        put((cx - 0.4 * hh, top, cx + 0.4 * hh, top + hh), _frontal, rng, cx, top, hh, dress, sword)
        info["main"] = (dress, sword)
        ln, f = 0.5 * hh, float(rng.choice([-1, 1]))
        y = top + hh + 0.34 * ln + 0.02 * h
        if y + 0.3 * ln < h and rng.random() < 0.7:
            box = (cx - 0.6 * ln, y - 0.3 * ln, cx + 0.6 * ln, y + 0.28 * ln)
            info["dogs"] += put(box, _dog, cx - 0.1 * f * ln, y, ln, f)
    for _ in range(int(rng.integers(1, 4))):
        hs, side = h * rng.uniform(0.1, 0.17), bool(rng.random() < 0.45)
        facing = float(rng.choice([-1, 1]))
        gap = hs * (0.55 if side else 0.85) * rng.uniform(1.0, 1.3)
        y, x = rng.uniform(0.02 * h, h - 1.05 * hs), rng.uniform(-0.02 * w, 0.6 * w)
        for i in range(int(rng.integers(3, 10))):
            bx, by = x + i * gap + rng.normal(0, 0.05 * hs), y + rng.normal(0, 0.04 * hs)
            if side:
                x0 = bx - (0.15 if facing > 0 else 0.3) * hs
                box = (x0, by, x0 + 0.45 * hs, by + hs)
                info["profile"] += put(box, _profile, bx, by, hs, facing)
            else:
                box = (bx - 0.38 * hs, by, bx + 0.38 * hs, by + hs)
                info["frontal"] += put(box, _frontal, rng, bx, by, hs)
    for _ in range(int(rng.integers(3, 9))):
        for _try in range(12):
            hs = h * rng.uniform(0.12, 0.28)
            bx, by = rng.uniform(0, w), rng.uniform(0, h - hs)
            box = (bx - 0.38 * hs, by, bx + 0.38 * hs, by + hs)
            if put(box, _frontal, rng, bx, by, hs, str(rng.choice(HEADDRESS))):
                info["frontal"] += 1
                break
    for _ in range(int(rng.integers(1, 4))):
        for _try in range(12):
            r, sun = h * rng.uniform(0.035, 0.075), bool(rng.random() < 0.3)
            c = rng.uniform([r, r], [w - r, h - r])
            if put((c[0] - r, c[1] - r, c[0] + r, c[1] + r), _drum, rng, c, r, sun):
                info["suns" if sun else "drums"] += 1
                break
    for _ in range(int(rng.integers(0, 3))):
        for _try in range(12):
            ln, f = h * rng.uniform(0.12, 0.2), float(rng.choice([-1, 1]))
            c = rng.uniform([0.6 * ln, 0.3 * ln], [w - 0.6 * ln, h - 0.3 * ln])
            box = (c[0] - 0.6 * ln, c[1] - 0.3 * ln, c[0] + 0.6 * ln, c[1] + 0.28 * ln)
            if put(box, _dog, c[0] - 0.1 * f * ln, c[1], ln, f):
                info["dogs"] += 1
                break
    return m, boxes, info
