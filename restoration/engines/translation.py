"""What the two style engines share: a ResNet generator translating a photograph, in tiles.

CycleGAN (`cyclegan`) and CUT (`cut`) train differently but translate with the same kind of
network, a ResNet generator (restoration.style.networks), loaded from a checkpoint folder or an
original project's .pth (restoration.style.checkpoint). Inference has no randomness: the seed a
job gives is recorded with the result but changes nothing, and equal inputs give byte-equal
outputs on the same device. Large images go in overlapping, feather-blended tiles normalised with
the whole image's statistics (restoration.style.inference), one progress report per tile.

OPTIONS (settings.RESTORATION_ENGINES): tile = the largest side translated in one pass (memory
grows with its square; default 512), overlap = of neighbouring tiles (64), dtype = auto
(float16 on CUDA, float32 on the CPU), float32, or float16 (CUDA only); statistics_side =
the largest side of the thumbnail whose normalisation statistics every tile shares (0 or absent:
the tile; the largest image's side gives exact full-resolution statistics, at the memory of a
whole-image pass).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from restoration.engines.base import EngineError, Param, ProgressCallback, Restored, StyleEngine

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
MIN_TILE, MAX_TILE = 64, 4096
MAX_LONG_SIDE = 8192


def _tile_option(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EngineError(f"{what} must be a multiple of 4 from {MIN_TILE} to {MAX_TILE}")
    try:
        tile = int(value)
    except ValueError:
        raise EngineError(f"{what} must be a multiple of 4 from {MIN_TILE} to {MAX_TILE}") from None
    if tile % 4 or not MIN_TILE <= tile <= MAX_TILE:
        raise EngineError(
            f"{what} must be a multiple of 4 from {MIN_TILE} to {MAX_TILE}, got {value!r}"
        )
    return tile


class TranslationEngine(StyleEngine):
    """A ResNet generator (CycleGAN or CUT layout) rendering a photograph in a learned style."""

    version = "1"
    needs_weights = True
    params: ClassVar[dict[str, Param]] = {
        "tile": Param(
            int,
            0,
            minimum=0,
            maximum=MAX_TILE,
            help=f"Largest side translated in one pass, a multiple of 4 from {MIN_TILE} "
            f"(0: the server's setting, {DEFAULT_TILE} unless configured)",
        ),
        "long_side": Param(
            int,
            0,
            minimum=0,
            maximum=MAX_LONG_SIDE,
            help="Stylize at this longest side in pixels, then resize back to the image's size "
            "(0: at its own size); smaller paints coarser strokes",
        ),
    }

    @classmethod
    def clean_params(cls, params) -> dict[str, Any]:
        cleaned = super().clean_params(params)
        if cleaned["tile"]:
            _tile_option(cleaned["tile"], "Parameter 'tile'")
        if 0 < cleaned["long_side"] < 8:
            raise EngineError("Parameter 'long_side' must be 0 or at least 8 pixels")
        return cleaned

    def __init__(self, *, options=None, checkpoint=None, device="cpu") -> None:
        super().__init__(options=options, checkpoint=checkpoint, device=device)
        import torch

        from restoration.style import checkpoint as checkpoints
        from restoration.style.inference import share_norms

        on_cuda = str(device).startswith("cuda")
        dtype_name = str(self.options.get("dtype", "auto"))
        if dtype_name == "auto":
            dtype_name = "float16" if on_cuda else "float32"
        if dtype_name not in ("float16", "float32"):
            raise EngineError(f"{self.name}: dtype must be auto, float16 or float32")
        if dtype_name == "float16" and not on_cuda:
            raise EngineError(f"{self.name}: float16 runs on CUDA only; use float32 on {device}")
        self.dtype = getattr(torch, dtype_name)
        self.tile = _tile_option(self.options.get("tile", DEFAULT_TILE), f"{self.name}: tile")
        overlap = self.options.get("overlap", DEFAULT_OVERLAP)
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
            raise EngineError(f"{self.name}: overlap must be a non-negative integer")
        self.overlap = overlap
        side = self.options.get("statistics_side", 0)
        if isinstance(side, bool) or not isinstance(side, int) or 0 < side < 8 or side < 0:
            raise EngineError(f"{self.name}: statistics_side must be 0 (the tile) or at least 8")
        self.statistics_side = side or None
        try:
            self.model, self.config = checkpoints.load_generator(
                str(checkpoint), device=device, dtype=self.dtype, engine=self.name
            )
        except checkpoints.CheckpointError as exc:
            raise EngineError(str(exc)) from exc
        self.norms = share_norms(self.model)
        # The norms hold the statistics of the image being translated: one image at a time.
        self._lock = threading.Lock()

    def close(self) -> None:
        import torch

        self.model = None
        self.norms = []
        if str(self.device).startswith("cuda"):
            torch.cuda.empty_cache()

    def stylize(
        self,
        image: np.ndarray,
        *,
        seed: int,
        params: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> Restored:
        """Translate the whole image (in tiles when larger than one); the seed is not used.

        Progress: once before the first pass, then after each pass (the thumbnail that gives
        the whole image's statistics, then every tile) with the picture so far.
        """
        import cv2
        import safetensors
        import torch

        from restoration.style.inference import translate

        if self.model is None:
            raise EngineError(f"{self.name}: the engine was closed")
        height, width = image.shape[:2]
        tile = int(params.get("tile") or self.tile)
        long_side = int(params.get("long_side") or 0)
        work = image
        if long_side and long_side != max(height, width):
            scale = long_side / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            work = cv2.resize(np.ascontiguousarray(image), size, interpolation=shrink)
        with self._lock:
            output, details = translate(
                self.model,
                self.norms,
                work,
                tile=tile,
                overlap=self.overlap,
                device=self.device,
                dtype=self.dtype,
                on_progress=on_progress,
                statistics_side=self.statistics_side,
            )
        if output.shape[:2] != (height, width):
            output = cv2.resize(output, (width, height), interpolation=cv2.INTER_CUBIC)
        source = self.config["source"]
        info = {
            **details,
            "checkpoint": source["path"],
            "checkpoint_format": source["format"],
            "weights_sha256": source["sha256"],
            "ngf": self.config["ngf"],
            "n_blocks": self.config["n_blocks"],
            "antialias": self.config["antialias"],
            "trained_steps": self.config.get("steps"),
            "stylized_at": [int(work.shape[1]), int(work.shape[0])],
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "seed_used": False,
            "torch": torch.__version__,
            "safetensors": safetensors.__version__,
        }
        if source["renamed"]:
            info["adapted"] = source["renamed"]
        return Restored(output, info)
