"""Telea's fast-marching inpainting (OpenCV), the classical diffusion-based method of seed 003."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import cv2
import numpy as np

from restoration.engines.base import Engine, Param, ProgressCallback, Restored

# Damaged regions are grouped by the BATCH_TILE x BATCH_TILE cell holding their centre, so a
# large mural with scattered damage reports progress cell by cell instead of in one jump.
BATCH_TILE = 256


def region_batches(mask: np.ndarray, margin: int) -> list[tuple[slice, slice, np.ndarray]]:
    """Crops that together cover every damaged pixel, each with the pixels it restores.

    mask: (H, W) bool, True = damaged. Each 8-connected damaged region goes to the batch of
    the BATCH_TILE cell holding its bounding-box centre; a batch's crop is the union of its
    regions' bounding boxes grown by `margin` pixels (clipped to the image).
    Returns [(rows, cols, own)], own a bool array of the crop's shape marking the damaged
    pixels that belong to this batch, in row-major cell order.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    height, width = mask.shape
    cells: dict[tuple[int, int], list[int]] = {}
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        cells.setdefault(((y + h // 2) // BATCH_TILE, (x + w // 2) // BATCH_TILE), []).append(label)
    batches = []
    for cell in sorted(cells):
        ids = np.array(cells[cell])
        x0, y0 = stats[ids, 0], stats[ids, 1]
        x1, y1 = x0 + stats[ids, 2], y0 + stats[ids, 3]
        rows = slice(max(0, int(y0.min()) - margin), min(height, int(y1.max()) + margin))
        cols = slice(max(0, int(x0.min()) - margin), min(width, int(x1.max()) + margin))
        batches.append((rows, cols, np.isin(labels[rows, cols], ids)))
    return batches


class RegionFillEngine(Engine):
    """Shared driver of engines that fill the damage batch by batch of nearby regions, each from
    a crop around it; subclasses give the crop's margin, the fill of one crop and the info."""

    @abstractmethod
    def margin(self, params: dict[str, Any]) -> int:
        """Pixels of context around each batch's regions that the fill reads."""

    @abstractmethod
    def fill(self, crop: np.ndarray, damaged: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """(h, w, 3) uint8 crop with its damaged (h, w) bool pixels filled."""

    @abstractmethod
    def info(self, batches: int) -> dict[str, Any]:
        """What the result's provenance records (method, library version, batches)."""

    def restore(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        *,
        seed: int,
        params: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> Restored:
        """Fill the damaged regions, batch by batch of nearby regions.

        image (H, W, 3) uint8 RGB, mask (H, W) bool (True = damaged). Deterministic, so `seed`
        is unused. Progress: (0, n) first, then one report per batch of regions, the last with
        step == n; the preview is the whole working image.
        Returns the (H, W, 3) uint8 RGB image with the engine's info.
        """
        batches = region_batches(mask, margin=self.margin(params))
        total = len(batches)
        on_progress(0, total)
        output = np.array(image, copy=True)
        for step, (rows, cols, own) in enumerate(batches, start=1):
            # The whole mask goes in, so other regions' damaged pixels are never read as
            # known; only this batch's own pixels are written back.
            filled = self.fill(np.ascontiguousarray(image[rows, cols]), mask[rows, cols], params)
            output[rows, cols][own] = filled[own]
            on_progress(step, total, preview=lambda: output)
        return Restored(output, self.info(total))


class OpenCVInpaintEngine(RegionFillEngine):
    """Shared driver for OpenCV's `cv2.inpaint` methods; subclasses pick the flag.

    params["radius"] in pixels; info {"method", "opencv", "batches"}.
    """

    flag: ClassVar[int]
    method: ClassVar[str]
    params = {
        "radius": Param(
            int,
            5,
            minimum=1,
            maximum=50,
            help="Neighbourhood radius in pixels considered around each restored pixel",
        )
    }

    def margin(self, params: dict[str, Any]) -> int:
        # cv2.inpaint reads known pixels up to `radius` away, so this margin gives each crop
        # the same neighbourhood it would have in a whole-image call.
        return int(params["radius"]) + 2

    def fill(self, crop: np.ndarray, damaged: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return cv2.inpaint(crop, damaged.astype(np.uint8) * 255, int(params["radius"]), self.flag)

    def info(self, batches: int) -> dict[str, Any]:
        return {"method": self.method, "opencv": cv2.__version__, "batches": batches}


class TeleaEngine(OpenCVInpaintEngine):
    """Fast-marching inpainting (Telea 2004): fills from the border inwards, smooth results."""

    name = "telea"
    version = "1"
    flag = cv2.INPAINT_TELEA
    method = "cv2.inpaint INPAINT_TELEA"
