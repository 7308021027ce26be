"""Running one engine on one image: validation, colour correction, composition, timing.

`run` restores the damaged pixels of a mask; `stylize` re-renders a whole image with a style
engine. Both share the checks of inputs, seeds, previews and results, and the timing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from restoration.engines.base import (
    Engine,
    EngineError,
    PreviewRenderer,
    ProgressCallback,
    Restored,
    StyleEngine,
)
from restoration.engines.colour import colour_correct
from restoration.engines.windowing import bounding_box

# Longest side of the live previews sent while a job runs (see `preview_jpeg`): large enough to
# judge the estimate beside the input on the job page; progress.PREVIEW_BYTES_PER_SECOND
# bounds what they cost to send.
PREVIEW_SIDE = 640


@dataclass
class RestoreResult:
    """The composed image ((H, W, 3) uint8 RGB), wall-clock seconds, progress reports, and
    the engine's info (what reproduces the result)."""

    image: np.ndarray
    seconds: float
    steps: int
    info: dict[str, Any] = field(default_factory=dict)


def validate_image(image: np.ndarray) -> None:
    """Raises EngineError unless `image` is a non-empty (H, W, 3) uint8 RGB array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = getattr(image, "dtype", type(image).__name__)
        raise EngineError(f"The image must be an 8-bit RGB array, got {kind}")
    if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise EngineError(f"The image must be RGB with shape (height, width, 3), got {image.shape}")


def validate_inputs(
    image: np.ndarray, mask: np.ndarray, *, require_intact: bool = True
) -> np.ndarray:
    """Check an image and its mask; returns the mask as (H, W) bool, True = damaged.

    image must be (H, W, 3) uint8 RGB; mask (H, W), bool or uint8 (values > 127 = damaged,
    as masks are stored). Raises EngineError for a wrong dtype or shape, a mask of another
    size (naming both), a mask that marks nothing, and, when `require_intact`, one that marks
    everything.
    """
    validate_image(image)
    if not isinstance(mask, np.ndarray) or mask.dtype not in (np.bool_, np.uint8):
        kind = getattr(mask, "dtype", type(mask).__name__)
        raise EngineError(f"The mask must be a boolean or 8-bit array, got {kind}")
    if mask.ndim != 2:
        raise EngineError(f"The mask must have one channel (height, width), got {mask.shape}")
    if mask.shape != image.shape[:2]:
        raise EngineError(
            f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the image is "
            f"{image.shape[1]}x{image.shape[0]}; they must be the same size"
        )
    damaged = mask if mask.dtype == np.bool_ else mask > 127
    if not damaged.any():
        raise EngineError("The mask marks no damage")
    if require_intact and damaged.all():
        raise EngineError(
            "The mask marks the whole image as damaged; nothing is left to restore from"
        )
    return damaged


def compose(original: np.ndarray, output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """original where intact, output where damaged (mask True): every intact pixel is
    byte-identical to the original. Arrays (H, W, 3) uint8 and (H, W) bool.

    Only the bounding box of the damage is merged: the rest is a plain copy of the original,
    so a small damaged area in a huge image costs little more than that copy."""
    composed = np.array(original, copy=True)
    box = bounding_box(mask)
    if box is not None:
        composed[box] = np.where(mask[box][..., None], output[box], original[box])
    return composed


def preview_jpeg(
    image: np.ndarray, *, longest_side: int = PREVIEW_SIDE, quality: int = 70
) -> bytes:
    """JPEG bytes of an RGB uint8 image shrunk (never enlarged) to `longest_side` pixels.

    Raises ValueError for an image that is not (H, W, 3) uint8.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    small = _shrink(image, longest_side)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("the preview could not be encoded as JPEG")
    return encoded.tobytes()


def _shrink(image: np.ndarray, longest_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = longest_side / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(image)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def run(
    engine: Engine,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    seed: int,
    params: Mapping[str, object] | None,
    on_progress: ProgressCallback | None = None,
    colour_correction: bool = False,
) -> RestoreResult:
    """Validate, run the engine, optionally colour-correct, and compose the result.

    image (H, W, 3) uint8 RGB; mask (H, W) bool or uint8 (> 127 = damaged); seed a
    non-negative int, given to the engine, which seeds its own generators (no process-wide
    generator is touched). on_progress receives the engine's reports as they come, with
    `preview` a renderer that checks what the engine renders; rendering happens only if the
    receiver calls it (restoration.progress.Reporter thins and scales them). Raises
    EngineError for bad inputs or parameters, RuntimeError for an engine that breaks its
    contract; `Cancelled` from on_progress propagates.
    """
    damaged = validate_inputs(image, mask, require_intact=engine.requires_intact)
    if isinstance(engine, StyleEngine):
        raise EngineError(f"Engine {engine.name!r} transfers a style; it does not restore damage")
    seed, cleaned = _check_seed_and_params(engine, seed, params)
    counter = _Counter(engine, on_progress)
    started = time.perf_counter()
    restored = engine.restore(
        _frozen(image), damaged, seed=seed, params=cleaned, on_progress=counter.report
    )
    output, info = _check_restored(engine, restored, image.shape)
    if colour_correction:
        output = colour_correct(image, output, damaged)
    result = compose(image, output, damaged)
    return RestoreResult(
        image=result, seconds=time.perf_counter() - started, steps=counter.steps, info=info
    )


def stylize(
    engine: Engine,
    image: np.ndarray,
    *,
    seed: int,
    params: Mapping[str, object] | None,
    on_progress: ProgressCallback | None = None,
) -> RestoreResult:
    """Validate and run a style engine on a whole image; the result is the engine's output.

    image (H, W, 3) uint8 RGB, any size; seed, params and on_progress as for `run` (the same
    checks, the same read-only input, the same preview checks). Raises EngineError for bad
    inputs or parameters and for an engine that does not transfer styles (a restoration
    engine), RuntimeError for an engine whose output is not an image of the input's exact
    shape or whose info is not JSON; `Cancelled` from on_progress propagates.
    """
    validate_image(image)
    if not isinstance(engine, StyleEngine):
        raise EngineError(f"Engine {engine.name!r} restores damage; it does not transfer a style")
    seed, cleaned = _check_seed_and_params(engine, seed, params)
    counter = _Counter(engine, on_progress)
    started = time.perf_counter()
    styled = engine.stylize(_frozen(image), seed=seed, params=cleaned, on_progress=counter.report)
    output, info = _check_restored(engine, styled, image.shape)
    return RestoreResult(
        image=output, seconds=time.perf_counter() - started, steps=counter.steps, info=info
    )


def _check_seed_and_params(
    engine: Engine, seed: object, params: Mapping[str, object] | None
) -> tuple[int, dict[str, Any]]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EngineError(f"The seed must be a non-negative integer, got {seed!r}")
    return int(seed), engine.clean_params(params)


def _frozen(image: np.ndarray) -> np.ndarray:
    # A read-only view turns an engine writing into its input into an error, not a corruption.
    frozen = image.view()
    frozen.flags.writeable = False
    return frozen


class _Counter:
    """The engine's on_progress: counts reports and hands them on with checked previews."""

    def __init__(self, engine: Engine, on_progress: ProgressCallback | None) -> None:
        self.engine, self.on_progress, self.steps = engine, on_progress, 0

    def report(self, step: int, total: int, *, preview: PreviewRenderer | None = None) -> None:
        self.steps += 1
        if self.on_progress is not None:
            self.on_progress(
                step, total, preview=_checked(self.engine, preview) if preview else None
            )


def _checked(engine: Engine, preview: PreviewRenderer) -> PreviewRenderer:
    def render() -> np.ndarray:
        estimate = preview()
        if (
            not isinstance(estimate, np.ndarray)
            or estimate.dtype != np.uint8
            or estimate.ndim != 3
            or estimate.shape[2] != 3
            or 0 in estimate.shape
        ):
            raise RuntimeError(
                f"Engine {engine.name!r} rendered a preview of "
                f"{getattr(estimate, 'dtype', type(estimate))} {getattr(estimate, 'shape', '')} "
                "instead of an (h, w, 3) uint8 image"
            )
        return estimate

    return render


def _check_restored(
    engine: Engine, restored: object, shape: tuple[int, ...]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The image and info of an engine's Restored; RuntimeError naming the engine if not."""
    if not isinstance(restored, Restored):
        raise RuntimeError(
            f"Engine {engine.name!r} returned {type(restored).__name__} instead of Restored"
        )
    output, info = restored
    if not isinstance(output, np.ndarray) or output.shape != shape or output.dtype != np.uint8:
        raise RuntimeError(
            f"Engine {engine.name!r} returned {getattr(output, 'dtype', type(output))} "
            f"{getattr(output, 'shape', '')} instead of {shape} uint8"
        )
    if not isinstance(info, dict):
        raise RuntimeError(f"Engine {engine.name!r} returned info that is not a dict: {info!r}")
    try:
        # Stored as JSON with the result: a value JSON cannot hold would fail only then.
        info = json.loads(json.dumps(info, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise RuntimeError(f"Engine {engine.name!r} returned info that is not JSON: {exc}") from exc
    return output, info
