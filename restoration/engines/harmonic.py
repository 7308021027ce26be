"""Membrane (harmonic) interpolation: the smoothest fill of the damage that meets its border.

Every damaged pixel becomes the mean of its four neighbours (Laplace's equation with the intact
pixels fixed and no flow across the image border), solved exactly with a sparse LU
(scipy.sparse.linalg.spsolve). The fill has no streaks or invented detail: inside large holes it
is closer to the lost original on average than Telea's or Navier-Stokes' (docs/benchmarks.md),
and it is the coarse fill that the learned `prior_diffusion` networks build on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restoration.engines.telea import RegionFillEngine


def harmonic_fill(observed: np.ndarray, damaged: np.ndarray) -> np.ndarray:
    """The harmonic fill of the damaged pixels of one image.

    observed: (H, W, C) uint8 or float; damaged: (H, W) bool. Intact pixels are returned as
    they are; an image with no intact pixel comes back mid-grey (127.5).
    Returns float32 (H, W, C) in 0-255.
    """
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import spsolve

    height, width = damaged.shape
    result = observed.astype(np.float64)
    count = int(damaged.sum())
    if count == 0:
        return result.astype(np.float32)
    if count == damaged.size:
        return np.full(observed.shape, 127.5, np.float32)
    index = np.full((height, width), -1, np.int64)
    index[damaged] = np.arange(count)
    ys, xs = np.nonzero(damaged)
    # Row i: (number of in-image neighbours) * u_i - sum of damaged neighbours u_j
    #        = sum of intact neighbours' values.
    rows, cols = [np.arange(count)], [np.arange(count)]
    values = [np.zeros(count)]
    rhs = np.zeros((count, observed.shape[2]))
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ny, nx = ys + dy, xs + dx
        inside = np.nonzero((ny >= 0) & (ny < height) & (nx >= 0) & (nx < width))[0]
        values[0][inside] += 1
        ny, nx = ny[inside], nx[inside]
        unknown = damaged[ny, nx]
        rows.append(inside[unknown])
        cols.append(index[ny[unknown], nx[unknown]])
        values.append(-np.ones(int(unknown.sum())))
        np.add.at(rhs, inside[~unknown], result[ny[~unknown], nx[~unknown]])
    matrix = csc_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(count, count)
    )
    result[damaged] = np.asarray(spsolve(matrix, rhs)).reshape(count, -1)
    return np.clip(result, 0, 255).astype(np.float32)


class HarmonicEngine(RegionFillEngine):
    """Membrane interpolation: a smooth, conservative fill from the border of the damage.

    Batch by batch of nearby regions, as telea; info {"method", "scipy", "batches"}.
    """

    name = "harmonic"
    version = "1"
    params: dict = {}

    def margin(self, params: dict[str, Any]) -> int:
        # One pixel gives each damaged pixel its four neighbours inside the crop.
        return 1

    def fill(self, crop: np.ndarray, damaged: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return np.round(harmonic_fill(crop, damaged)).astype(np.uint8)

    def info(self, batches: int) -> dict[str, Any]:
        import scipy

        return {
            "method": "harmonic (membrane) interpolation, scipy.sparse.linalg.spsolve",
            "scipy": scipy.__version__,
            "batches": batches,
        }
