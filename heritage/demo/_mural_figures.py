"""Dunhuang mural figures: flying apsaras, seated Buddhas and standing bodhisattvas."""

from __future__ import annotations

import numpy as np

from ._draw import Canvas, Colour, band, petal, place, profile, spline
from ._mural_ornament import Palette, ellipse_poly, flames, flower, lotus_seat, lw_for


def apsara(
    cv: Canvas,
    rng: np.random.Generator,
    centre: np.ndarray,
    length: float,
    angle: float,
    flip: bool,
    pal: Palette,
    colours: tuple[Colour, Colour, Colour],
) -> None:
    """A flying apsara with streaming scarves; `length` is roughly head-to-feet in pixels."""
    lw = lw_for(0.6 * length)
    robe, scarf1, scarf2 = colours

    def pt(x: float, y: float) -> np.ndarray:
        return place(np.array([[x, y]]), centre, length, angle, flip)[0]

    def at(pts: list[tuple[float, float]], n: int = 48, wobble: float = 0.01) -> np.ndarray:
        local = np.asarray(pts) + rng.normal(0, wobble, (len(pts), 2))
        return place(spline(local, n), centre, length, angle, flip)

    def leaf(base: tuple[float, float], tip: tuple[float, float], width: float, bend: float = 0.0):
        return place(petal(base, tip, width, bend), centre, length, angle, flip)

    back = at(
        [
            (0.32, -0.08),
            (0.30, -0.26),
            (0.12, -0.36),
            (-0.12, -0.27),
            (-0.38, -0.36),
            (-0.64, -0.22),
            (-0.88, -0.30),
        ],
        72,
        0.03,
    )
    cv.shape(
        [band(back, profile(72, 0.03, 0.045, 0.035, 0.02, 0.004) * length)], scarf1, pal.line, lw
    )
    if rng.random() < 0.5:
        cv.circle(pt(0.40, -0.13), 0.1 * length, scarf2, pal.line, lw)
        cv.circle(pt(0.40, -0.13), 0.075 * length, pal.lighter(scarf2, 0.4))
    for base, tip in (((-0.2, 0.06), (-0.46, 0.13)), ((-0.24, -0.0), (-0.5, -0.02))):
        cv.shape([leaf(base, tip, 0.08, 0.25)], pal.lighter(robe, 0.3), pal.line, lw)
    skirt = at([(0.17, 0.02), (0.05, 0.055), (-0.14, 0.06), (-0.33, -0.04)], 48, 0.006)
    cv.shape([band(skirt, profile(48, 0.13, 0.15, 0.12, 0.07) * length)], robe, pal.line, lw)
    folds = [
        at([(0.1 - k * 0.09, 0.0), (0.02 - k * 0.09, 0.06), (0.06 - k * 0.09, 0.1)], 12, 0.004)
        for k in range(3)
    ]
    cv.lines(folds, pal.line, lw)
    cv.shape([leaf((-0.31, -0.04), (-0.42, -0.13), 0.05)], pal.skin, pal.line, lw)
    raised = at([(0.31, -0.06), (0.22, -0.16), (0.30, -0.25)], 24, 0.006)
    cv.shape([band(raised, profile(24, 0.04, 0.032, 0.026) * length)], pal.skin, pal.line, lw)
    torso = at([(0.35, -0.06), (0.27, -0.02), (0.17, 0.02)], 24, 0.003)
    cv.shape([band(torso, profile(24, 0.11, 0.12, 0.1) * length)], pal.skin, pal.line, lw)
    necklace = at([(0.36, -0.03), (0.33, 0.0), (0.29, -0.01)], 12, 0.0)
    cv.lines([necklace], pal.ochre, 1.2 * lw)
    cv.circle(pt(0.40, -0.125), 0.052 * length, pal.skin, pal.line, lw)
    cv.shape([leaf((0.36, -0.12), (0.39, -0.205), 0.07, -0.4)], pal.dark)
    cv.circle(pt(0.365, -0.19), 0.028 * length, pal.dark)
    if length > 150:
        cv.lines([at([(0.415, -0.13), (0.44, -0.125)], 6, 0.0)], pal.dark, lw)
        cv.circle(pt(0.445, -0.095), 0.006 * length, pal.red)
    reach = at([(0.35, -0.04), (0.45, 0.03), (0.55, -0.02)], 24, 0.006)
    cv.shape([band(reach, profile(24, 0.04, 0.032, 0.026) * length)], pal.skin, pal.line, lw)
    flower(cv, pt(0.58, -0.04), 0.035 * length, pal.red, pal)
    front = at(
        [(0.31, -0.03), (0.25, 0.12), (0.05, 0.17), (-0.22, 0.12), (-0.48, 0.2), (-0.76, 0.09)],
        72,
        0.03,
    )
    cv.shape(
        [band(front, profile(72, 0.03, 0.04, 0.03, 0.015, 0.003) * length)], scarf2, pal.line, lw
    )


def buddha(
    cv: Canvas,
    cx: float,
    base: float,
    size: float,
    pal: Palette,
    colours: tuple[Colour, Colour, Colour],
    aureole: bool = False,
) -> None:
    """A seated Buddha in meditation with head halo and body mandorla; `size` is its height."""
    u, lw = size / 10.0, lw_for(size)
    robe, halo, mandorla = colours

    def p(x: float, y: float) -> np.ndarray:
        return np.array([cx + x * u, base - y * u])

    if aureole:
        flames(cv, p(0, 4.6), (3.4 * u, 4.7 * u), pal, (pal.red, pal.ochre, pal.green))
    cv.shape([ellipse_poly(p(0, 4.6), 3.4 * u, 4.7 * u)], mandorla, pal.line, lw)
    cv.shape([ellipse_poly(p(0, 4.6), 2.7 * u, 4.0 * u)], pal.lighter(mandorla, 0.3), None)
    cv.circle(p(0, 7.9), 1.75 * u, halo, pal.line, lw)
    cv.circle(p(0, 7.9), 1.3 * u, pal.lighter(halo, 0.4), pal.line, lw)
    body = np.array(
        [
            p(-1.3, 6.8),
            p(1.3, 6.8),
            p(2.1, 5.0),
            p(2.5, 2.4),
            p(3.0, 1.5),
            p(-3.0, 1.5),
            p(-2.5, 2.4),
            p(-2.1, 5.0),
        ]
    )
    cv.shape([spline(np.vstack([body, body[:1]]), 64)], robe, pal.line, lw)
    cv.shape([np.array([p(-0.75, 6.7), p(0.75, 6.7), p(0, 5.0)])], pal.green, pal.line, lw)
    folds = [
        spline(
            [
                p(-1.6 + 0.25 * k, 6.2 - 0.5 * k),
                p(0, 4.6 - 0.55 * k),
                p(1.6 - 0.25 * k, 6.2 - 0.5 * k),
            ],
            16,
        )
        for k in range(3)
    ]
    cv.lines(folds, pal.line, lw)
    cv.shape([ellipse_poly(p(0, 1.7), 3.2 * u, 0.95 * u)], pal.lighter(robe, 0.15), pal.line, lw)
    cv.shape([ellipse_poly(p(0, 2.5), 0.9 * u, 0.35 * u)], pal.skin, pal.line, lw)
    cv.shape([np.array([p(-0.3, 6.75), p(0.3, 6.75), p(0.3, 7.2), p(-0.3, 7.2)])], pal.skin)
    for side in (-1, 1):
        cv.shape([ellipse_poly(p(side * 0.85, 7.75), 0.18 * u, 0.42 * u)], pal.skin, pal.line, lw)
    cv.shape([ellipse_poly(p(0, 7.8), 0.82 * u, 1.02 * u)], pal.skin, pal.line, lw)
    cv.shape([ellipse_poly(p(0, 8.35), 0.86 * u, 0.55 * u, top=True)], pal.dark)
    cv.circle(p(0, 8.95), 0.42 * u, pal.dark)
    if size > 50:
        eyes = [
            spline([p(s * 0.18, 7.85), p(s * 0.38, 7.78), p(s * 0.58, 7.85)], 8) for s in (-1, 1)
        ]
        cv.lines(eyes, pal.line, max(1.0, 0.5 * lw))
    if size > 120:
        brows = [spline([p(s * 0.15, 8.1), p(s * 0.4, 8.22), p(s * 0.65, 8.1)], 8) for s in (-1, 1)]
        cv.lines(brows, pal.line, lw)
        cv.shape([ellipse_poly(p(0, 7.15), 0.2 * u, 0.07 * u)], pal.red)
    lotus_seat(cv, p(0, 0.9), 6.6 * u, pal, pal.lighter(pal.red, 0.3))


def bodhisattva(
    cv: Canvas,
    cx: float,
    base: float,
    size: float,
    pal: Palette,
    colours: tuple[Colour, Colour, Colour],
) -> None:
    """A standing bodhisattva with halo, crown, jewelled chest, long skirt and looping scarf."""
    u, lw = size / 10.0, lw_for(size)
    skirt, scarf, halo = colours

    def p(x: float, y: float) -> np.ndarray:
        return np.array([cx + x * u, base - y * u])

    cv.circle(p(0, 8.7), 1.25 * u, halo, pal.line, lw)
    cv.circle(p(0, 8.7), 0.95 * u, pal.lighter(halo, 0.4))
    lotus_seat(cv, p(0, 0.35), 3.4 * u, pal, pal.lighter(pal.red, 0.3))
    for side in (-1, 1):
        path = spline(
            [p(side * 1.0, 7.4), p(side * 1.75, 5.6), p(side * 1.45, 3.2), p(side * 1.9, 1.0)], 40
        )
        cv.shape([band(path, profile(40, 0.45, 0.35, 0.3, 0.22) * u)], scarf, pal.line, lw)
    dress = np.array(
        [
            p(-0.8, 5.2),
            p(0.8, 5.2),
            p(1.15, 2.8),
            p(1.4, 0.55),
            p(0.0, 0.7),
            p(-1.4, 0.55),
            p(-1.15, 2.8),
        ]
    )
    cv.shape([spline(np.vstack([dress, dress[:1]]), 56)], skirt, pal.line, lw)
    pleats = [spline([p(x, 4.8), p(x * 1.2, 2.8), p(x * 1.4, 0.9)], 12) for x in (-0.45, 0.0, 0.45)]
    cv.lines(pleats, pal.line, lw)
    loop = spline([p(-1.1, 4.8), p(-0.6, 3.2), p(0.0, 2.7), p(0.6, 3.2), p(1.1, 4.8)], 40)
    cv.shape([band(loop, 0.32 * u)], pal.lighter(scarf, 0.25), pal.line, lw)
    cv.shape(
        [np.array([p(-0.85, 5.5), p(0.85, 5.5), p(0.7, 4.85), p(-0.7, 4.85)])],
        pal.ochre,
        pal.line,
        lw,
    )
    torso = spline(
        [
            p(-1.0, 7.55),
            p(1.0, 7.55),
            p(0.78, 6.3),
            p(0.6, 5.3),
            p(-0.6, 5.3),
            p(-0.78, 6.3),
            p(-1.0, 7.55),
        ],
        40,
    )
    arm_l = band(spline([p(-0.95, 7.35), p(-1.3, 6.0), p(-0.45, 5.6)], 20), 0.36 * u)
    arm_r = band(spline([p(0.95, 7.35), p(1.35, 6.2), p(1.05, 4.6)], 20), 0.36 * u)
    cv.shape([torso, arm_l, arm_r], pal.skin, pal.line, lw)
    cv.lines([spline([p(-0.6, 7.4), p(0, 6.7), p(0.6, 7.4)], 16)], pal.ochre, 2 * lw)
    cv.shape(
        [petal(p(1.05, 4.6), p(1.15, 5.8), 0.65 * u, 0.0, 0.45)],
        pal.lighter(pal.red, 0.4),
        pal.line,
        lw,
    )
    cv.shape([ellipse_poly(p(0, 8.5), 0.56 * u, 0.72 * u)], pal.skin, pal.line, lw)
    cv.shape([ellipse_poly(p(0, 8.85), 0.6 * u, 0.42 * u, top=True)], pal.dark)
    crown = [petal(p(x, 9.2), p(x * 1.4, 9.95), 0.4 * u, 0.0, 0.5) for x in (-0.35, 0.0, 0.35)]
    cv.shape(crown, pal.ochre, pal.line, lw)
    if size > 120:
        eyes = [np.array([p(s * 0.12, 8.55), p(s * 0.38, 8.55)]) for s in (-1, 1)]
        cv.lines(eyes, pal.line, lw)
        cv.shape([ellipse_poly(p(0, 8.05), 0.14 * u, 0.05 * u)], pal.red)
