"""Engines for tests, reachable by dotted path from settings.RESTORATION_ENGINES."""

from pathlib import Path

import numpy as np

from restoration.engines.base import Engine, Restored

loaded: list["WeightsEngine"] = []


class WeightsEngine(Engine):
    """Fills the damage with the mean byte of its weights file (or folder's files)."""

    name = "weights"
    version = "2"
    needs_weights = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        path = Path(self.checkpoint)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        data = b"".join(p.read_bytes() for p in files)
        self.fill = int(np.frombuffer(data, np.uint8).mean())
        loaded.append(self)

    def restore(self, image, mask, *, seed, params, on_progress):
        out = np.array(image)
        out[mask] = self.fill
        on_progress(0, 1)
        on_progress(1, 1, preview=lambda: out)
        info = {"fill": self.fill, "device": self.device}
        return Restored(out, info)


class ExplodingEngine(Engine):
    """Fails mid-run, as an engine out of GPU memory would."""

    name = "exploding"
    version = "0"

    def restore(self, image, mask, *, seed, params, on_progress):
        on_progress(0, 2)
        raise RuntimeError("out of GPU memory")


def with_test_engines(settings) -> None:
    """Add the test engines to settings.RESTORATION_ENGINES (a new dict: the registry resets)."""
    settings.RESTORATION_ENGINES = {
        **settings.RESTORATION_ENGINES,
        "weights": {"BACKEND": "tests.restoration.fakes.WeightsEngine", "OPTIONS": {}},
        "exploding": {"BACKEND": "tests.restoration.fakes.ExplodingEngine", "OPTIONS": {}},
    }
