"""Engines for the fault tests, named in the worker's HERITAGE_ENGINES."""

import time

import numpy as np

from restoration.engines.base import Engine, Param, Restored


class SlowEngine(Engine):
    """Fills the damage with grey, one step every `seconds`: a model whose steps are slow."""

    name = "slow"
    version = "1"
    params = {
        "steps": Param(int, 3, minimum=1, maximum=100),
        "seconds": Param(float, 10.0, minimum=0.0, maximum=60.0),
    }

    def restore(self, image, mask, *, seed, params, on_progress):
        out = np.array(image)
        total = params["steps"]
        on_progress(0, total)
        for step in range(1, total + 1):
            time.sleep(params["seconds"])
            out[mask] = 128
            on_progress(step, total)
        return Restored(out, {"steps": total, "seconds": params["seconds"]})
