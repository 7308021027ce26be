"""Engines for tests, reachable by dotted path from settings.RESTORATION_ENGINES."""

from pathlib import Path

import numpy as np

from restoration.engines.base import Engine, Param, Restored, StyleEngine

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


class TintStyleEngine(StyleEngine):
    """A style engine for tests: blends the image towards the mean byte of its weights, in two
    tiles (top half, bottom half), one progress report per tile with the picture so far."""

    name = "tint"
    version = "1"
    needs_weights = True
    params = {"strength": Param(float, 0.5, minimum=0.0, maximum=1.0, help="How much tint")}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        path = Path(self.checkpoint)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        data = b"".join(p.read_bytes() for p in files)
        self.fill = int(np.frombuffer(data, np.uint8).mean())

    def stylize(self, image, *, seed, params, on_progress):
        out = np.array(image)
        half = image.shape[0] // 2
        on_progress(0, 2)
        for index, rows in enumerate((slice(0, half), slice(half, None))):
            tinted = (1 - params["strength"]) * image[rows] + params["strength"] * self.fill
            out[rows] = np.round(tinted).astype(np.uint8)
            on_progress(index + 1, 2, preview=lambda: out)
        return Restored(out, {"fill": self.fill, "device": self.device, "tiles": 2})


class SlowTintStyleEngine(TintStyleEngine):
    """The tint engine in `tiles` horizontal bands with a pause after each, for watching a
    style job's progress live in a browser."""

    name = "slow_tint"
    params = {
        **TintStyleEngine.params,
        "tiles": Param(int, 6, minimum=1, maximum=64),
        "pause": Param(float, 0.3, minimum=0.0, maximum=5.0),
    }

    def stylize(self, image, *, seed, params, on_progress):
        import time

        out = np.array(image)
        bands = np.array_split(np.arange(image.shape[0]), params["tiles"])
        on_progress(0, len(bands))
        for index, rows in enumerate(bands):
            tinted = (1 - params["strength"]) * image[rows] + params["strength"] * self.fill
            out[rows] = np.round(tinted).astype(np.uint8)
            time.sleep(params["pause"])
            on_progress(index + 1, len(bands), preview=lambda: out)
        return Restored(out, {"fill": self.fill, "tiles": len(bands)})


class ExplodingStyleEngine(StyleEngine):
    """A style engine that fails after its first tile."""

    name = "exploding_style"
    version = "0"

    def stylize(self, image, *, seed, params, on_progress):
        on_progress(0, 2)
        raise RuntimeError("out of GPU memory")


def with_test_engines(settings) -> None:
    """Add the test engines to settings.RESTORATION_ENGINES (a new dict: the registry resets)."""
    settings.RESTORATION_ENGINES = {
        **settings.RESTORATION_ENGINES,
        "weights": {"BACKEND": "tests.restoration.fakes.WeightsEngine", "OPTIONS": {}},
        "exploding": {"BACKEND": "tests.restoration.fakes.ExplodingEngine", "OPTIONS": {}},
    }


def with_style_engines(settings) -> None:
    """Add the test style engines (tint needs weights: see `register_tint`)."""
    settings.RESTORATION_ENGINES = {
        **settings.RESTORATION_ENGINES,
        "tint": {"BACKEND": "tests.restoration.fakes.TintStyleEngine", "OPTIONS": {}},
        "slow_tint": {"BACKEND": "tests.restoration.fakes.SlowTintStyleEngine", "OPTIONS": {}},
        "exploding_style": {
            "BACKEND": "tests.restoration.fakes.ExplodingStyleEngine",
            "OPTIONS": {},
        },
    }


def register_tint(
    folder: Path, *, byte: int = 200, name: str = "tint weights", engine: str = "tint"
):
    """Register a checkpoint of the tint engine (or slow_tint) whose weights' mean byte is
    `byte`."""
    from restoration.checkpoints import checkpoint_register

    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{engine}-{byte}.bin"
    weights.write_bytes(bytes([byte]) * 64)
    return checkpoint_register(location=weights, engine=engine, name=name)
