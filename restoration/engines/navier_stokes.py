"""Navier-Stokes inpainting (OpenCV, Bertalmio et al. 2001), classical diffusion of seed 003."""

from __future__ import annotations

import cv2

from restoration.engines.telea import OpenCVInpaintEngine


class NavierStokesEngine(OpenCVInpaintEngine):
    """Fluid-dynamics inpainting: continues isophotes (lines of equal grey) into the damage."""

    name = "navier_stokes"
    version = "1"
    flag = cv2.INPAINT_NS
    method = "cv2.inpaint INPAINT_NS"
