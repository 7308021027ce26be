"""Huashan-style red ochre rock art painted on a weathered limestone cliff."""

from __future__ import annotations

import cv2
import numpy as np

from ._common import (
    DAMAGE_KINDS,
    DemoArtwork,
    blobs,
    check_args,
    crack_paths,
    finish,
    inside,
    listing,
    shift,
    streams,
)
from ._draw import blur, fbm, standardise, stroke
from ._rock_figures import Box, compose

_ROCKS = (  # (light, dark) tones of the cliff face
    ((0.78, 0.75, 0.70), (0.42, 0.41, 0.39)),
    ((0.80, 0.74, 0.65), (0.47, 0.43, 0.38)),
    ((0.74, 0.71, 0.67), (0.38, 0.37, 0.36)),
    ((0.79, 0.71, 0.62), (0.46, 0.40, 0.35)),
)
_PIGMENTS = ((0.56, 0.19, 0.11), (0.62, 0.24, 0.13), (0.50, 0.17, 0.11), (0.64, 0.28, 0.16))
_LICHENS = ((0.62, 0.64, 0.56), (0.86, 0.85, 0.80), (0.20, 0.20, 0.19), (0.62, 0.55, 0.32))


def _facets(rng: np.random.Generator, h: int, w: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Fractured limestone breaks into planes: a tone offset per facet and some open joints."""
    n, q = int(rng.integers(10, 22)), 2
    hs, ws = -(-h // q), -(-w // q)
    pts = rng.uniform([0, 0], [w, h], (n, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32) * q
    # warped distances make the facet edges wander like real fractures
    xx += fbm(rng, (hs, ws), cells=5, octaves=4) * 12 * s
    yy += fbm(rng, (hs, ws), cells=5, octaves=4) * 12 * s
    d = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
    label = cv2.resize(d.argmin(axis=2).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    tone = rng.normal(0, 1, n).astype(np.float32)[label]
    # only some facet boundaries are open joints; the rest are just changes of plane
    open_pair = np.triu(rng.random((n, n)) < 0.3)
    hi = cv2.dilate(label, np.ones((3, 3), np.uint8))
    lo = cv2.erode(label, np.ones((3, 3), np.uint8))
    joint = ((hi != lo) & open_pair[lo, hi]).astype(np.float32)
    return blur(tone, 2.0 * s), blur(joint, 0.9 * s)


def _cliff(rng: np.random.Generator, h: int, w: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Limestone colour and the standardised small-scale relief (for pigment wear)."""
    light, dark = (np.array(c, np.float32) for c in _ROCKS[rng.integers(len(_ROCKS))])
    relief = fbm(rng, (h, w), cells=6.0, octaves=6, gain=0.6)
    tone = fbm(rng, (h, w), cells=2.0, octaves=5, gain=0.6)
    facet, joint = _facets(rng, h, w, s)
    t = 1.0 / (1.0 + np.exp(-(1.0 * tone + 0.35 * facet + 0.25 * relief)))
    rgb = dark + (light - dark) * t[..., None]
    # iron seeping from the joints tints parts of the face orange-brown
    rust = np.clip(fbm(rng, (h, w), cells=3.0, octaves=4) - 0.6, 0, 1) * 0.35
    rgb += (np.array([0.62, 0.44, 0.30], np.float32) - rgb) * rust[..., None]
    # run-off stains the cliff in vertical streaks, strongest below the overhang
    streak = fbm(rng, (h, w), cells=3.0, octaves=5, stretch=(5.0, 0.3))
    fall = np.linspace(1.0, 0.4, h, dtype=np.float32)[:, None]
    rgb *= 1.0 - (np.clip((streak - 0.5) * 0.35, 0, 0.5) * fall)[..., None]
    vein_field = fbm(rng, (h, w), cells=1.6, octaves=4)
    vein = np.exp(-((vein_field / 0.03) ** 2)) * np.clip(fbm(rng, (h, w), cells=3, octaves=2), 0, 1)
    rgb += (np.array([0.90, 0.88, 0.83], np.float32) - rgb) * (0.4 * vein)[..., None]
    for k in rng.choice(len(_LICHENS), size=2, replace=False):
        spots = fbm(rng, (h, w), cells=max(w, h) / (14 * s), octaves=3)
        zone = fbm(rng, (h, w), cells=2.5, octaves=2)
        a = np.clip((0.8 * spots + 0.8 * zone - 2.2) * 1.3, 0, 0.7)
        rgb += (np.array(_LICHENS[k], np.float32) - rgb) * a[..., None]
    # raking light over fine relief makes the surface read as rough stone, not a print
    height = relief * (3.0 * s)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    lx, ly, lz = -0.55, -0.62, 0.56
    shade = (-gx * lx - gy * ly + lz) / np.sqrt(gx * gx + gy * gy + 1.0) / lz
    grain = blur(rng.standard_normal((h, w)).astype(np.float32), 0.6) * 0.06
    rgb *= np.clip(0.45 + 0.55 * shade + grain - 0.3 * joint, 0.2, 1.4)[..., None]
    bumps = standardise(relief - blur(relief, 4.0 * s))
    return np.clip(rgb, 0, 1), bumps


def _pigment_alpha(
    rng: np.random.Generator, figures: np.ndarray, bumps: np.ndarray, s: float
) -> np.ndarray:
    """Opacity of the ochre: ragged edges, thin patches, worn off the raised grains."""
    h, w = figures.shape
    side = max(w, h)
    soft = blur(figures.astype(np.float32) / 255.0, 1.0 * s)
    edge = 0.6 * fbm(rng, (h, w), cells=side / (4.0 * s), octaves=2) + 0.4 * fbm(
        rng, (h, w), cells=side / (14.0 * s), octaves=2
    )
    shape = np.clip((soft - 0.5 + 0.2 * edge) * 4.0 + 0.5, 0, 1)
    fine = fbm(rng, (h, w), cells=side / (2.5 * s), octaves=1)
    density = (
        0.76
        + 0.12 * fbm(rng, (h, w), cells=5, octaves=3)
        + 0.05 * fine
        - 0.12 * np.clip(bumps, 0, None)
        - 0.25 * np.clip(fine - 1.3, 0, 1)
    )
    return np.clip(shape * density, 0, 0.9)


def _apply_pigment(rock: np.ndarray, alpha: np.ndarray, pigment: np.ndarray) -> np.ndarray:
    lum = rock.mean(axis=2)
    # ochre stains the stone rather than covering it: the rock's light and dark show through
    paint = pigment * (0.2 + 0.8 * lum / lum.mean())[..., None]
    return rock + (paint - rock) * alpha[..., None]


def _damage(
    rng: np.random.Generator,
    intact: np.ndarray,
    rock: np.ndarray,
    alpha: np.ndarray,
    pigment: np.ndarray,
    boxes: list[Box],
    s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The damaged image and, per pixel, 1 + the index in DAMAGE_KINDS of the damage drawn last."""
    h, w = alpha.shape
    extra = rng.choice(
        ["fading", "stain", "salt", "loss"], size=int(rng.integers(2, 4)), replace=False
    )
    chosen = {"crack", *extra}
    out = intact.copy()
    owner = np.zeros((h, w), np.int8)

    def mark(kind: str, region: np.ndarray, new: np.ndarray) -> None:
        out[region] = new[region]
        owner[region] = DAMAGE_KINDS.index(kind) + 1

    def aim(n: int) -> np.ndarray:
        # most damage lands on the paint, which is what a restoration demo needs to show
        pts = [
            rng.uniform(b[:2], b[2:]) if rng.random() < 0.75 else rng.uniform([0, 0], [w, h])
            for b in (
                boxes[int(rng.integers(len(boxes)))] if boxes else (0, 0, w, h) for _ in range(n)
            )
        ]
        return np.clip(np.array(pts), 0, [w - 1, h - 1])

    if "fading" in chosen:
        n = int(rng.integers(1, 3))
        region = blobs(rng, (h, w), aim(n), rng.uniform(40, 90, n) * s) & (alpha > 0.02)
        mark(
            "fading",
            region,
            _apply_pigment(rock, alpha * (1 - 0.85 * inside(region, 14 * s)), pigment),
        )
    if "stain" in chosen:
        cols = np.arange(w, dtype=np.float32)[None, :]
        across = np.zeros((h, w), np.float32)
        for x in aim(int(rng.integers(1, 3)))[:, 0]:
            # run-off meanders and spreads as it finds its way down the rock
            wander = cv2.resize(rng.normal(0, 1, (8, 1)), (1, h), interpolation=cv2.INTER_CUBIC)
            spread = rng.uniform(8, 20) * s * (1 + 0.8 * np.linspace(0, 1, h)[:, None])
            g = np.exp(-(((cols - x - 10 * s * wander) / spread) ** 2))
            across = np.maximum(across, g.astype(np.float32))
        y0 = rng.uniform(0, 0.45 * h)
        rows = np.arange(h, dtype=np.float32)[:, None] - y0
        down = np.clip(rows / (0.08 * h), 0, 1) * np.exp(
            -np.clip(rows, 0, None) / (rng.uniform(0.4, 1) * h)
        )
        tex = fbm(rng, (h, w), cells=6, octaves=4, stretch=(6.0, 0.35))
        a = np.clip(down * across * (0.95 + 0.35 * tex) - 0.1, 0, 0.8)
        mark("stain", a > 0, out + (np.array([0.10, 0.09, 0.08], np.float32) - out) * a[..., None])
    if "salt" in chosen:
        n = int(rng.integers(1, 3))
        region = blobs(rng, (h, w), aim(n), rng.uniform(22, 50, n) * s)
        crust = 0.2 * fbm(rng, (h, w), cells=max(w, h) / (12 * s), octaves=3) + 0.08 * fbm(
            rng, (h, w), cells=max(w, h) / (2.0 * s), octaves=1
        )
        a = np.clip(0.6 + crust, 0, 0.9) * inside(region, 12 * s)
        mark("salt", region, out + (np.array([0.92, 0.91, 0.87], np.float32) - out) * a[..., None])
    if "loss" in chosen:
        n = int(rng.integers(1, 4))
        region = blobs(rng, (h, w), aim(n), rng.uniform(20, 50, n) * s, rough=1.4)
        side = max(w, h)
        grain = 0.1 * fbm(rng, (h, w), cells=side / (10 * s), octaves=3) + 0.05 * fbm(
            rng, (h, w), cells=side / (2.0 * s), octaves=1
        )
        # the scar is fresh, paler stone of the same cliff, without weathering or paint
        spall = (0.55 * np.array([0.84, 0.74, 0.62], np.float32) + 0.45 * rock) * (0.95 + grain)[
            ..., None
        ]
        # a fresh scar is a shallow pit: shadowed below its upper-left rim, lit opposite
        k = max(1, round(2.5 * s))
        spall[region & ~shift(region, k, k)] *= 0.55
        lit = region & ~shift(region, -k, -k)
        spall[lit] = spall[lit] * 0.85 + 0.15
        mark("loss", region, spall)
    n = int(rng.integers(2, 5))
    starts = np.clip(aim(n) - np.array([0.0, 0.25 * h]), [0, 0], [w - 1, 0.7 * h])
    cm = np.zeros((h, w), np.uint8)
    paths = crack_paths(
        rng,
        (h, w),
        count=n,
        steps=int(0.5 * h / (2.5 * s)),
        step=2.5 * s,
        curl=0.3,
        heading=np.pi / 2,
        starts=starts,
    )
    for path, depth in paths:
        stroke(cm, path, max(1.0, (2.0 - 0.6 * depth) * s))
    # a fissure's depth, and so its darkness, varies along its length
    c = (
        cm.astype(np.float32)
        / 255.0
        * np.clip(0.7 + 0.25 * fbm(rng, (h, w), cells=12, octaves=2), 0.3, 1)
    )
    lip = shift(c, 1, 1) * (1 - c)
    cracked = out * (1 - 0.7 * c)[..., None] + (0.1 * lip)[..., None]
    mark("crack", (cm > 0) | (lip > 0), cracked)
    return out, owner


_DAMAGE_WORDS = {
    "crack": "fissures",
    "fading": "faded pigment",
    "stain": "dark run-off stains",
    "salt": "calcite and salt crusts",
    "loss": "spalled losses of the rock surface",
}
_DRESS_WORDS = {"twin": "twin-plumed headdress", "plume": "feathered headdress", "bun": "topknot"}


def _describe(
    rng: np.random.Generator, info: dict, seed: int, kinds: tuple[str, ...]
) -> tuple[str, str]:
    if info["main"]:
        dress, sword = info["main"]
        subject = "Great squatting figure"
        attrs = ([_DRESS_WORDS[dress]] if dress in _DRESS_WORDS else []) + (
            ["sword"] if sword else []
        )
    else:
        subject = "Procession of raised-arm figures" if info["profile"] else "Squatting figures"
        attrs = []
    for key, one, many in (
        ("drums", "bronze drum", "bronze drums"),
        ("suns", "sun disc", "sun discs"),
        ("dogs", "dog", "dogs"),
    ):
        if info[key]:
            attrs.append(one if info[key] == 1 else many)
    title = subject + (" with " + listing(attrs[:3]) if attrs else "")
    title += f", panel {int(rng.integers(1, 60))}"
    people = info["frontal"] + info["profile"] + (1 if info["main"] else 0)
    things = [f"{people} human figure{'s' if people != 1 else ''}"] + [
        f"{info[k]} {word}{'s' if info[k] > 1 else ''}"
        for k, word in (("dogs", "dog"), ("drums", "bronze drum"), ("suns", "sun disc"))
        if info[k]
    ]
    damage = (
        "Rendered damage: " + listing([_DAMAGE_WORDS[k] for k in kinds]) + "."
        if kinds
        else "Intact variant: no damage rendered."
    )
    description = (
        f"Synthetic demonstration image (seed {seed}) generated procedurally in the manner of "
        f"the Zuojiang Huashan rock paintings of Guangxi: {listing(things)} in iron-oxide red "
        f"on a weathered limestone cliff with run-off streaks and lichen. {damage} "
        "Not a photograph of a real site."
    )
    return title, description


def rock_art(
    *, seed: int, width: int = 768, height: int = 512, damaged: bool = True
) -> DemoArtwork:
    """Huashan-style red ochre figures on limestone, with the true mask of the damage drawn.

    Raises ValueError for a negative seed or a side outside 64..4096 pixels.
    """
    check_args(seed, width, height)
    art, hurt, meta = streams(seed, "rock_art")
    h, w, s = height, width, min(width, height) / 512.0
    rock, bumps = _cliff(art, h, w, s)
    figures, boxes, info = compose(art, h, w)
    alpha = _pigment_alpha(art, figures, bumps, s)
    pigment = np.array(_PIGMENTS[int(art.integers(len(_PIGMENTS)))], np.float32)
    intact = _apply_pigment(rock, alpha, pigment)
    out, owner = _damage(hurt, intact, rock, alpha, pigment, boxes, s) if damaged else (None, None)
    image, mask = finish(intact, out, None if owner is None else owner > 0)
    kinds = () if owner is None else tuple(DAMAGE_KINDS[i - 1] for i in np.unique(owner[mask > 0]))
    title, description = _describe(meta, info, seed, kinds)
    return DemoArtwork(
        image=image,
        damage=mask,
        damage_kinds=kinds,
        title=title,
        style="Huashan red ochre rock painting",
        era="Warring States to Eastern Han (c. 5th century BCE - 2nd century CE)",
        medium="Red ochre (haematite) pigment on limestone cliff face",
        description=description,
    )
