"""A generated landscape photograph: sky, ridges fading into haze, wooded hills, a lake, grass.

The photographs a curator renders in the blue-green (QingLvShanShui) style are landscapes; this
one is made by the project itself, so the demo needs no photograph of anyone else's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ._common import DemoArtwork, check_args, streams
from ._draw import blur, fbm, to_u8

_TIMES = (
    # (name, zenith sky, horizon sky, haze) as linear-ish RGB in 0..1
    ("morning", (0.36, 0.55, 0.82), (0.86, 0.88, 0.86), (0.78, 0.82, 0.86)),
    ("noon", (0.27, 0.49, 0.85), (0.76, 0.85, 0.95), (0.72, 0.80, 0.90)),
    ("late afternoon", (0.40, 0.52, 0.74), (0.95, 0.84, 0.66), (0.86, 0.80, 0.72)),
)


def _ridge(rng: np.random.Generator, width: int, base: float, height: float, rough: float):
    """A mountain skyline: y (pixels from the top) for each column."""
    line = fbm(rng, (1, width), cells=3.0 * rough, octaves=6, gain=0.55)[0]
    peaks = fbm(rng, (1, width), cells=1.2, octaves=2)[0]
    return base - height * (0.55 * line + 0.45 * np.maximum(peaks, -0.5))


def landscape_photo(*, seed: int, width: int = 768, height: int = 512) -> DemoArtwork:
    """A landscape photograph of `width` x `height` pixels, the same for the same seed.

    No damage (an empty mask): a photograph is stylized, not restored. Raises ValueError for a
    negative seed or a side outside 64..4096 pixels.
    """
    check_args(seed, width, height)
    rng, grain, meta = streams(seed, "landscape_photo")
    h, w = height, width
    name, zenith, horizon, haze = _TIMES[int(meta.integers(len(_TIMES)))]
    zenith, horizon, haze = (np.array(c, np.float32) for c in (zenith, horizon, haze))
    rows = np.arange(h, dtype=np.float32)[:, None]
    horizon_y = h * rng.uniform(0.52, 0.62)

    # Sky: a gradient to the horizon with soft clouds.
    t = np.clip(rows / horizon_y, 0, 1)[..., None] ** 0.8
    image = np.broadcast_to(zenith * (1 - t) + horizon * t, (h, w, 3)).copy()
    clouds = np.clip(fbm(rng, (h, w), cells=3, octaves=5, stretch=(0.5, 1.6)) - 0.6, 0, None)
    image += (0.22 * clouds * (1 - t[..., 0]) ** 0.5)[..., None]

    # Ridges from far to near: each darker, greener and sharper, with haze in its valleys.
    columns = np.arange(w)
    layers = [
        # (base as a share of the horizon, height, roughness, colour, haze share)
        (0.92, 0.30, 1.0, (0.42, 0.50, 0.58), 0.55),
        (1.00, 0.22, 1.4, (0.30, 0.40, 0.38), 0.35),
        (1.08, 0.16, 2.0, (0.20, 0.32, 0.20), 0.15),
    ]
    for base, rise, rough, colour, mist in layers:
        skyline = _ridge(rng, w, base * horizon_y, rise * h, rough)
        below = rows >= skyline[None, columns]
        shade = fbm(rng, (h, w), cells=10 * rough, octaves=4)
        depth = np.clip((rows - skyline[None, :]) / (0.25 * h), 0, 1)
        rock = np.array(colour, np.float32) * (1 + 0.12 * shade)[..., None]
        rock = rock * (1 - 0.25 * depth)[..., None]
        fog = mist * (1 - depth) ** 2
        layer = rock * (1 - fog[..., None]) + haze * fog[..., None]
        image = np.where(below[..., None], layer, image)

    # A lake across the foreground reflecting the sky, then grass in front of it.
    shore = h * rng.uniform(0.74, 0.8) + 6 * fbm(rng, (1, w), cells=4, octaves=3)[0]
    lake = (rows >= shore[None, :]) & (rows < shore[None, :] + 0.07 * h)
    ripples = fbm(rng, (h, w), cells=40, octaves=2, stretch=(0.2, 3.0))
    water = (0.6 * horizon + 0.4 * zenith) * 0.8
    image = np.where(lake[..., None], water * (1 + 0.06 * ripples)[..., None], image)
    grass_line = shore + 0.07 * h
    field = rows >= grass_line[None, :]
    blades = fbm(grain, (h, w), cells=120, octaves=2, stretch=(0.3, 2.5))
    green = np.array((0.30, 0.45, 0.16), np.float32) * (1 + 0.18 * blades)[..., None]
    image = np.where(field[..., None], green, image)

    # A camera: slight blur, vignetting, sensor noise.
    image = blur(image.astype(np.float32), 0.6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
    image *= (1 - 0.18 * np.clip(r - 0.4, 0, None) ** 2)[..., None]
    image += grain.normal(0, 0.012, image.shape).astype(np.float32)
    pixels = to_u8(np.clip(image, 0, 1))

    title = f"Hills above a lake, {name} (generated photograph)"
    return DemoArtwork(
        image=Image.fromarray(pixels, "RGB"),
        damage=np.zeros((h, w), np.uint8),
        damage_kinds=(),
        title=title,
        style="Landscape photograph",
        era="",
        medium="Digital photograph (procedurally generated)",
        description=(
            "A landscape made by this project's own generator (seed "
            f"{seed}): ridges fading into haze, wooded hills, a lake and grass, photographed "
            f"in {name} light. A photograph to render in a painting style."
        ),
    )
