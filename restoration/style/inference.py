"""Running a ResNet generator on an image of any size: padding, tiles, shared normalisation.

The generators halve the image twice, so the image is padded (reflecting it) to multiples of 4
and at least 8 pixels a side, and cropped back afterwards. An image that fits one tile is
translated in one pass, exactly as the original projects do. A larger one is translated in
overlapping tiles blended with feathered weights (`restoration.engines.windowing`).

Tiles and instance normalisation: every norm of these generators normalises each channel with
the mean and variance of the picture it sees. Per tile, those statistics follow the tile's
content (a tile of sky against one of forest), so neighbouring tiles come out in different
colours and the seams show however they are blended. Here every tile is normalised instead with
the statistics of the whole image, taken from one pass over a thumbnail of it (the image
downscaled to fit one tile): "thumbnail instance normalization" (Chen et al., "Towards
Ultra-Resolution Neural Style Transfer via Thumbnail Instance Normalization", AAAI 2022). The
network is then the same function everywhere, tiles differ only near their own borders (where
the blend fades them out), and the colours agree across the image. The thumbnail's statistics
differ somewhat from those of the full-resolution image (fine texture is averaged away), which
is the price of a bounded memory; the thumbnail's translation is also the first preview.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from restoration.engines.windowing import WindowedCanvas, grid

MULTIPLE = 4  # two halvings
MIN_SIDE = 8  # the residual blocks reflect-pad their quarter-size maps by 1


class SharedInstanceNorm(nn.Module):
    """InstanceNorm2d (affine=False, no running statistics) that can share statistics.

    mode "own": each picture normalised with its own statistics (nn.InstanceNorm2d exactly);
    "record": the same, and the per-channel mean and variance are kept (float32);
    "apply": normalised with the kept statistics instead of its own.
    """

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.mode = "own"
        self.mean: torch.Tensor | None = None
        self.var: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "apply":
            if self.mean is None or self.var is None:
                raise RuntimeError("no statistics recorded for this norm")
            scale = torch.rsqrt(self.var + self.eps)
            return ((x.float() - self.mean) * scale).to(x.dtype)
        if self.mode == "record":
            values = x.float()
            self.mean = values.mean(dim=(2, 3), keepdim=True)
            self.var = values.var(dim=(2, 3), keepdim=True, unbiased=False)
        return F.instance_norm(x, eps=self.eps)


def share_norms(model: nn.Module) -> list[SharedInstanceNorm]:
    """Replace the model's InstanceNorm2d layers (affine=False, no running statistics) in place.

    The state dict does not change (those norms hold nothing). Returns the new layers.
    """
    shared = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                if child.affine or child.track_running_stats:
                    raise ValueError("only instance norms without parameters can be shared")
                norm = SharedInstanceNorm(child.eps)
                setattr(parent, name, norm)
                shared.append(norm)
    return shared


def _set_mode(norms: list[SharedInstanceNorm], mode: str) -> None:
    for norm in norms:
        norm.mode = mode
        if mode == "own":
            norm.mean = norm.var = None


def _to_tensor(image: np.ndarray, device, dtype) -> torch.Tensor:
    # A copy: the input is read-only, and torch wants arrays it may write to.
    tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None]
    return tensor.to(device=device, dtype=torch.float32).div_(127.5).sub_(1.0).to(dtype)


def _to_uint8(tensor: torch.Tensor) -> np.ndarray:
    values = tensor[0].float().add(1.0).mul(127.5).round_().clamp_(0, 255)
    return values.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _padded(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    pad_h = max(MIN_SIDE, math.ceil(height / MULTIPLE) * MULTIPLE) - height
    pad_w = max(MIN_SIDE, math.ceil(width / MULTIPLE) * MULTIPLE) - width
    if not pad_h and not pad_w:
        return np.asarray(image)
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")


def translate(
    model: nn.Module,
    norms: list[SharedInstanceNorm],
    image: np.ndarray,
    *,
    tile: int,
    overlap: int,
    device: str,
    dtype: torch.dtype,
    on_progress: Callable[..., None],
    shared_statistics: bool = True,
    statistics_side: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(translated (H, W, 3) uint8 image of the input's size, details for the result's info).

    model: a generator whose instance norms are `norms` (from `share_norms`), on device/dtype.
    tile: the largest side translated in one pass (a multiple of 4); overlap: of the tiles.
    on_progress(step, total, preview=...): once before the first pass, then once after each
    pass (the thumbnail, then each tile) with a renderer of the picture so far (finished tiles
    over the thumbnail's translation). shared_statistics=False normalises each tile on its own
    (the plain approach, kept to measure its seams). statistics_side: the thumbnail's largest
    side (default: tile; at least the image's side = exact full-resolution statistics, at the
    memory of a whole-image pass). Not thread-safe: one call at a time per
    model (the norms hold the statistics of the current image).
    """
    if tile % MULTIPLE or tile < MIN_SIDE:
        raise ValueError(f"tile must be a multiple of {MULTIPLE} and at least {MIN_SIDE}")
    height, width = image.shape[:2]
    work = _padded(image)
    full_h, full_w = work.shape[:2]
    _set_mode(norms, "own")
    try:
        with torch.inference_mode():
            if full_h <= tile and full_w <= tile:
                on_progress(0, 1)
                output = _to_uint8(model(_to_tensor(work, device, dtype)))[:height, :width]
                on_progress(1, 1, preview=lambda: output)
                return output, {"tiles": 1, "tile": tile, "normalisation": "whole image"}
            return _tiled(
                model,
                norms,
                work,
                height=height,
                width=width,
                tile=tile,
                overlap=overlap,
                device=device,
                dtype=dtype,
                on_progress=on_progress,
                shared_statistics=shared_statistics,
                statistics_side=statistics_side or tile,
            )
    finally:
        _set_mode(norms, "own")


def _tiled(
    model,
    norms,
    work,
    *,
    height,
    width,
    tile,
    overlap,
    device,
    dtype,
    on_progress,
    shared_statistics,
    statistics_side,
) -> tuple[np.ndarray, dict[str, Any]]:
    full_h, full_w = work.shape[:2]
    size = min(tile, full_h, full_w)
    overlap = max(0, min(overlap, size // 4))
    corners = grid(full_h, full_w, size, overlap, multiple=MULTIPLE)
    total = len(corners) + 1
    on_progress(0, total)

    # The thumbnail: the whole image within statistics_side, on the same grid of 4.
    scale = min(1.0, statistics_side / full_h, statistics_side / full_w)
    thumb_h = max(MIN_SIDE, int(full_h * scale) // MULTIPLE * MULTIPLE)
    thumb_w = max(MIN_SIDE, int(full_w * scale) // MULTIPLE * MULTIPLE)
    thumbnail = work
    if (thumb_h, thumb_w) != (full_h, full_w):
        thumbnail = cv2.resize(work, (thumb_w, thumb_h), interpolation=cv2.INTER_AREA)
    _set_mode(norms, "record" if shared_statistics else "own")
    coarse = _to_uint8(model(_to_tensor(thumbnail, device, dtype)))
    base = cv2.resize(coarse, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    canvas = WindowedCanvas(
        base, np.ones((full_h, full_w), bool), size, height=height, width=width, overlap=overlap
    )
    on_progress(1, total, preview=canvas.render)

    _set_mode(norms, "apply" if shared_statistics else "own")
    for index, (y, x) in enumerate(corners):
        piece = _to_tensor(work[y : y + size, x : x + size], device, dtype)
        canvas.add((y, x), _to_uint8(model(piece)))
        on_progress(index + 2, total, preview=canvas.render)
    details = {
        "tiles": len(corners),
        "tile": size,
        "overlap": overlap,
        "normalisation": (
            f"whole-image statistics from a {thumb_w}x{thumb_h} thumbnail"
            if shared_statistics
            else "per tile"
        ),
    }
    return canvas.result(), details
