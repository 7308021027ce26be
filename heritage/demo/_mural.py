"""Dunhuang-style mural panels on clay plaster, with cracks, flaking, losses and fading."""

from __future__ import annotations

import cv2
import numpy as np

from . import _mural_figures as fig
from . import _mural_ornament as orn
from ._common import (
    DAMAGE_KINDS,
    DemoArtwork,
    blobs,
    check_args,
    crack_paths,
    finish,
    inside,
    listing,
    ring_of,
    shift,
    streams,
)
from ._draw import Canvas, Colour, blur, fbm, stroke

# colours as hex: ground, line, skin, malachite, azurite, cinnabar, ochre, lead white, ink
_ERAS = tuple(
    (short, era, orn.Palette.from_hex(colours))
    for short, era, colours in (
        (
            "Northern Wei",
            "Northern Wei (439-534)",
            "945e42 291c17 6b544c 54856e 4c6687 a8452b c49659 dbd1b8 2b211f",
        ),
        (
            "Western Wei",
            "Western Wei (535-556)",
            "d6c7a8 2e1f1a dbb899 548f75 456694 ad4229 c79957 ebe3cc 29211f",
        ),
        ("Sui", "Sui (581-618)", "bd9169 33211a d6b08f 4f8c73 406191 ab4026 cc9e5c e6dbc2 291f1c"),
        (
            "Early Tang",
            "Early Tang (618-704)",
            "dbccab 6b2e1f e6c4a3 5c9e85 4273a1 ba4a30 d1a661 f0e8d4 2e2421",
        ),
        (
            "High Tang",
            "High Tang (705-781)",
            "d9c49e 662b1f e8c4a1 579980 406b9e bd452b d4a35c f0e6d1 2b211f",
        ),
        (
            "Late Tang",
            "Late Tang (848-907)",
            "ccb58c 5c291c e0bd99 4c8f75 477094 ad422b cc9e5c ebe0c9 2b211f",
        ),
        (
            "Western Xia",
            "Western Xia (1036-1227)",
            "b8b894 38291f dbbd99 458a6e 4c758f a3472e c7a366 e6e0cc 29211f",
        ),
    )
)
_BANDS = ("blocks", "scroll", "beads", "lozenge")
_BAND_WORDS = {
    "blocks": "colour-block",
    "scroll": "scrolling-vine",
    "beads": "pearl-roundel",
    "lozenge": "lozenge",
}
_PLASTER = np.array([0.85, 0.80, 0.69], np.float32)


def _ground(rng: np.random.Generator, h: int, w: int, pal: orn.Palette) -> np.ndarray:
    mottle = fbm(rng, (h, w), cells=3, octaves=6, gain=0.55)
    fine = blur(rng.standard_normal((h, w)).astype(np.float32), 0.7)
    return np.array(pal.ground, np.float32) * (1 + 0.05 * mottle + 0.02 * fine)[..., None]


def _age(rng: np.random.Generator, rgb: np.ndarray, s: float) -> np.ndarray:
    """Centuries of soot, yellowed glue and dulled pigment: part of the intact artwork itself."""
    h, w = rgb.shape[:2]
    grime = np.clip(0.5 + 0.45 * fbm(rng, (h, w), cells=2.5, octaves=5), 0, 1)
    lum = rgb.mean(axis=2, keepdims=True)
    rgb = rgb + (lum - rgb) * 0.3
    rgb = rgb * (1 - 0.16 * grime)[..., None] * np.array([1.0, 0.96, 0.88], np.float32)
    # the plaster's own grain and pits show through thin paint
    fine = blur(rng.standard_normal((h, w)).astype(np.float32), 0.6 * s)
    pits = np.clip(fbm(rng, (h, w), cells=max(h, w) / (3 * s), octaves=1) - 2.0, 0, 1)
    return np.clip(rgb * (1 + 0.035 * fine - 0.25 * pits)[..., None], 0, 1)


def _compose(rng: np.random.Generator, cv: Canvas, pal: orn.Palette, s: float) -> dict:
    """Paint borders and one of four classic compositions; returns what was painted."""
    h, w = cv.size
    bh = h * rng.uniform(0.06, 0.09)
    bands = [str(b) for b in rng.choice(_BANDS, size=2)]
    top, bottom = bh, h - bh
    orn.border(cv, (0, 0, w, top), pal, bands[0])
    orn.border(cv, (0, bottom, w, h), pal, bands[1])
    fh = bottom - top
    kind = str(
        rng.choice(["apsaras", "preaching", "caisson", "thousand"], p=[0.35, 0.25, 0.2, 0.2])
    )
    info = {"kind": kind, "bands": bands, "apsaras": 0}
    acc = pal.accents()

    def scarves() -> tuple[Colour, Colour, Colour]:
        i = rng.permutation(4)
        return acc[i[0]], acc[i[1]], acc[i[2]]

    def sky(n_clouds: int, n_flowers: int, x0: float = 0, x1: float = w) -> None:
        for _ in range(n_clouds):
            c = rng.uniform([x0 + 0.05 * w, top + 0.1 * fh], [x1 - 0.05 * w, bottom - 0.1 * fh])
            colour = (pal.green, pal.blue, pal.white)[int(rng.integers(3))]
            orn.cloud(
                cv, rng, c, fh * rng.uniform(0.045, 0.07), colour, pal, bool(rng.random() < 0.5)
            )
        for _ in range(n_flowers):
            c = rng.uniform([x0 + 8 * s, top + 8 * s], [x1 - 8 * s, bottom - 8 * s])
            orn.flower(cv, c, fh * rng.uniform(0.015, 0.025), acc[int(rng.integers(4))], pal)

    if kind == "apsaras":
        if rng.random() < 0.5:
            orn.valance(cv, 0, w, top, 0.07 * fh, pal)
        sky(int(rng.integers(3, 7)), int(rng.integers(8, 18)))
        n, flip = int(rng.integers(2, 4)), bool(rng.random() < 0.5)
        length = min(w / n * 1.1, fh * 1.35)
        for i in range(n):
            c = (w * (i + 0.5) / n, top + fh * (0.5 + (0.12 if i % 2 else -0.1)))
            ang = rng.uniform(-0.3, 0.1) * (-1 if flip else 1)
            fig.apsara(cv, rng, np.array(c), length, ang, flip, pal, scarves())
        info["apsaras"] = n
    elif kind == "preaching":
        sky(int(rng.integers(0, 3)), int(rng.integers(6, 14)))
        size, cx = fh * 0.92, w * rng.uniform(0.45, 0.55)
        for side in (-1, 1):
            fig.bodhisattva(
                cv, cx + side * 0.5 * size, bottom - 0.02 * fh, 0.74 * fh, pal, scarves()
            )
            c = np.array([cx + side * 0.82 * size, top + 0.17 * fh])
            fig.apsara(cv, rng, c, 0.42 * fh, 0.2 * side, side > 0, pal, scarves())
        fig.buddha(
            cv, cx, bottom - 0.02 * fh, size, pal, (pal.red, pal.green, pal.blue), aureole=True
        )
        info["apsaras"] = 2
    elif kind == "caisson":
        side = min(fh, w) * 0.96
        cx, cy = w / 2, (top + bottom) / 2
        order = [acc[i] for i in rng.permutation(4)]
        for k, colour in zip((0.5, 0.44, 0.4), order[:3], strict=True):
            sq = np.array(
                [
                    [cx - k * side, cy - k * side],
                    [cx + k * side, cy - k * side],
                    [cx + k * side, cy + k * side],
                    [cx - k * side, cy + k * side],
                ]
            )
            cv.shape([sq], colour, pal.line, orn.lw_for(side))
        d = 0.4 * side
        diamond = np.array([[cx, cy - d], [cx + d, cy], [cx, cy + d], [cx - d, cy]])
        cv.shape([diamond], order[3], pal.line, orn.lw_for(side))
        orn.rosette(cv, np.array([cx, cy]), 0.3 * side, pal, (pal.white, order[0], order[1]))
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            orn.flower(
                cv,
                np.array([cx + sx * 0.32 * side, cy + sy * 0.32 * side]),
                0.05 * side,
                pal.red,
                pal,
            )
        if cx - 0.5 * side > 0.3 * fh:
            _thousand(cv, pal, (0, top, cx - 0.5 * side, bottom), 2)
            _thousand(cv, pal, (cx + 0.5 * side, top, w, bottom), 2)
    else:
        _thousand(cv, pal, (0, top, w, bottom), int(rng.integers(3, 5)))
    return info


def _thousand(
    cv: Canvas, pal: orn.Palette, box: tuple[float, float, float, float], rows: int
) -> None:
    """Rows of small seated Buddhas whose colours shift along each row, as on the cave walls."""
    x0, y0, x1, y1 = box
    cell = (y1 - y0) / rows
    cols = max(1, int((x1 - x0) / (0.85 * cell)))
    pitch = (x1 - x0) / cols
    acc = pal.accents()
    for r in range(rows):
        for c in range(cols):
            k = r + c
            colours = (acc[k % 4], acc[(k + 1) % 4], acc[(k + 2) % 4])
            fig.buddha(
                cv, x0 + (c + 0.5) * pitch, y0 + (r + 0.97) * cell, 0.88 * cell, pal, colours
            )


def _damage(
    rng: np.random.Generator, intact: np.ndarray, s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The damaged image and, per pixel, 1 + the index in DAMAGE_KINDS of the damage drawn last."""
    h, w = intact.shape[:2]
    side = max(h, w)
    extra = rng.choice(
        ["loss", "fading", "stain", "salt"], size=int(rng.integers(1, 4)), replace=False
    )
    chosen = {"crack", "flaking", *extra}
    out = intact.copy()
    owner = np.zeros((h, w), np.int8)

    def mark(kind: str, region: np.ndarray, new: np.ndarray) -> None:
        out[region] = new[region]
        owner[region] = DAMAGE_KINDS.index(kind) + 1

    def spots(n: int) -> np.ndarray:
        return rng.uniform([0, 0], [w, h], (n, 2))

    if "fading" in chosen:
        n = int(rng.integers(1, 3))
        region = blobs(rng, (h, w), spots(n), rng.uniform(45, 95, n) * s, rough=1.2)
        depth = rng.uniform(0.45, 0.7) * inside(region, 30 * s)[..., None]
        washed = out + (out.mean(axis=2, keepdims=True) * 0.4 + 0.6 * _PLASTER - out) * depth
        mark("fading", region, washed)
    if "stain" in chosen:
        n = int(rng.integers(1, 3))
        region = blobs(rng, (h, w), spots(n), rng.uniform(35, 80, n) * s, rough=1.3)
        # water dries leaving most of its load, and a darker tide line, at the edge
        edge = 1 - inside(region, 22 * s)
        tint = (
            np.array([0.80, 0.68, 0.52], np.float32)
            + 0.05 * fbm(rng, (h, w), cells=8, octaves=3)[..., None]
        )
        strength = (0.35 + 0.45 * edge)[..., None]
        mark("stain", region, out * (1 - strength * (1 - tint)))
    if "salt" in chosen:
        n = int(rng.integers(1, 3))
        region = blobs(rng, (h, w), spots(n), rng.uniform(30, 60, n) * s)
        speck = fbm(rng, (h, w), cells=side / (1.5 * s), octaves=1)
        haze = 0.3 + 0.15 * fbm(rng, (h, w), cells=side / (10 * s), octaves=2)
        a = np.clip(haze * inside(region, 14 * s) + 0.6 * (speck > 1.9), 0, 0.9) * region
        mark("salt", region, out + (np.array([0.95, 0.94, 0.91], np.float32) - out) * a[..., None])
    n = int(rng.integers(3, 6))
    paths = crack_paths(
        rng, (h, w), count=n, steps=int(0.5 * side / (3 * s)), step=3 * s, curl=0.22, branching=0.6
    )
    cm = np.zeros((h, w), np.uint8)
    for path, depth in paths:
        stroke(cm, path, max(1.0, (1.7 - 0.5 * depth) * s))
    # a crack's width, and so its darkness, varies along its length
    c = (
        cm.astype(np.float32)
        / 255.0
        * np.clip(0.65 + 0.3 * fbm(rng, (h, w), cells=14, octaves=2), 0.25, 1)
    )
    lip = shift(c, -1, -1) * (1 - c)
    mark("crack", (cm > 0) | (lip > 0), out * (1 - 0.7 * c)[..., None] + (0.12 * lip)[..., None])
    # paint flakes off along cracks and in zones where its bond to the plaster failed,
    # leaving islands of paint in the lost areas
    along = np.vstack([p for p, _ in paths])
    picks = along[rng.integers(len(along), size=int(rng.integers(3, 7)))]
    seeds = np.vstack([picks, spots(int(rng.integers(2, 5)))])
    zone = blobs(rng, (h, w), seeds, rng.uniform(18, 45, len(seeds)) * s, rough=1.4)
    islands = fbm(rng, (h, w), cells=side / (9 * s), octaves=3)
    near_crack = (
        cv2.distanceTransform((cm == 0).astype(np.uint8), cv2.DIST_L2, 3)
        < (1.5 + 1.5 * islands) * s
    )
    region = (zone & (islands + 1.6 * inside(zone, 16 * s) > 0.9)) | (near_crack & (islands > 0.8))
    region = (
        cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    )
    grain = fbm(rng, (h, w), cells=side / (3 * s), octaves=2)
    plaster = np.array([0.80, 0.74, 0.63], np.float32) * (0.96 + 0.04 * grain)[..., None]
    flaked = plaster * 0.82 + out * 0.18
    # the broken paint edge reads as a thin dark line around each flake
    flaked[ring_of(region, 1)] *= 0.78
    mark("flaking", region, flaked)
    if "loss" in chosen:
        n = int(rng.integers(1, 3))
        edge = rng.integers(4, size=n)
        c = rng.uniform([0, 0], [w, h], (n, 2))
        c[edge == 0, 1], c[edge == 1, 1] = h * 0.97, h * 0.03
        c[edge == 2, 0], c[edge == 3, 0] = w * 0.03, w * 0.97
        region = blobs(rng, (h, w), c, rng.uniform(35, 75, n) * s, rough=1.6)
        clay = (
            np.array([0.56, 0.46, 0.35], np.float32)
            * (0.9 + 0.08 * fbm(rng, (h, w), cells=side / (6 * s), octaves=3))[..., None]
        )
        # chopped straw was mixed into the clay as a binder; it shows in the broken surface
        n_straw = int(300 * w * h / 393216)
        mid = rng.uniform([0, 0], [w, h], (n_straw, 2))
        ang = rng.uniform(0, np.pi, n_straw)
        half = np.stack([np.cos(ang), np.sin(ang)], axis=1) * rng.uniform(2, 6, (n_straw, 1)) * s
        straw = np.zeros((h, w), np.uint8)
        cv2.polylines(
            straw,
            list(np.round(np.stack([mid - half, mid + half], 1)).astype(np.int32)),
            False,
            255,
            1,
            cv2.LINE_AA,
        )
        clay += (np.array([0.76, 0.66, 0.45], np.float32) - clay) * (straw[..., None] / 255.0 * 0.6)
        kk = max(2, round(3 * s))
        clay[region & ~shift(region, kk, kk)] *= 0.6
        clay[ring_of(region, max(2, round(4 * s)))] = _PLASTER
        mark("loss", region, clay)
    return out, owner


_SUBJECTS = {
    "apsaras": ("Flying apsaras among scroll clouds", "Flying apsaras scattering flowers"),
    "preaching": (
        "Preaching Buddha with attendant bodhisattvas",
        "Seated Buddha in a flaming mandorla",
    ),
    "caisson": ("Lotus caisson with thousand Buddhas", "Lotus medallion ceiling panel"),
    "thousand": ("Thousand Buddhas", "Rows of seated Buddhas"),
}
_CONTENT = {
    "apsaras": "{n} flying apsaras with streaming scarves among scroll clouds and falling flowers",
    "preaching": "a Buddha seated on a lotus throne in a flaming mandorla, flanked by two "
    "bodhisattvas and two flying apsaras",
    "caisson": "a lotus medallion in a square caisson frame between rows of small seated Buddhas",
    "thousand": "rows of small seated Buddhas in haloes whose colours shift along each row",
}
_DAMAGE_WORDS = {
    "crack": "cracks",
    "flaking": "flaking paint exposing the plaster",
    "loss": "plaster losses down to the clay-and-straw layer",
    "fading": "washed-out, faded areas",
    "stain": "water stains with tide lines",
    "salt": "salt efflorescence",
}


def mural_panel(
    *, seed: int, width: int = 768, height: int = 512, damaged: bool = True
) -> DemoArtwork:
    """A Dunhuang-style mural panel on plaster, with the true mask of the damage drawn.

    Raises ValueError for a negative seed or a side outside 64..4096 pixels.
    """
    check_args(seed, width, height)
    art, hurt, meta = streams(seed, "mural_panel")
    h, w, s = height, width, min(width, height) / 512.0
    short, era, pal = _ERAS[int(art.integers(len(_ERAS)))]
    cv = Canvas(_ground(art, h, w, pal), art)
    info = _compose(art, cv, pal, s)
    intact = _age(art, cv.rgb, s)
    out, owner = _damage(hurt, intact, s) if damaged else (None, None)
    image, mask = finish(intact, out, None if owner is None else owner > 0)
    kinds = () if owner is None else tuple(DAMAGE_KINDS[i - 1] for i in np.unique(owner[mask > 0]))
    wall = str(meta.choice(["north", "south", "east", "west"]))
    title = (
        f"{meta.choice(_SUBJECTS[info['kind']])}, {wall} wall, panel {int(meta.integers(1, 40))}"
    )
    ground = (
        "pale"
        if np.mean(pal.ground) > 0.72
        else "ochre"
        if np.mean(pal.ground) > 0.52
        else "red-brown"
    )
    bands = sorted({_BAND_WORDS[b] for b in info["bands"]})
    damage = (
        "Rendered damage: " + listing([_DAMAGE_WORDS[k] for k in kinds]) + "."
        if kinds
        else "Intact variant: no damage rendered."
    )
    description = (
        f"Synthetic demonstration image (seed {seed}) generated procedurally in the manner of a "
        f"{short} wall painting in the Mogao caves, Dunhuang: "
        f"{_CONTENT[info['kind']].format(n=info['apsaras'])}, between {listing(bands)} border "
        f"bands, in malachite green, azurite blue, cinnabar and red ochre with ink outlines on a "
        f"{ground} earth ground. {damage} Not a photograph of a real mural."
    )
    return DemoArtwork(
        image=image,
        damage=mask,
        damage_kinds=kinds,
        title=title,
        style=f"Dunhuang {short} mural",
        era=era,
        medium="Mineral pigments (malachite, azurite, cinnabar, red ochre, lead white) and ink "
        "in animal glue on clay-and-straw plaster",
        description=description,
    )
