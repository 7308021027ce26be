"""The cyclegan and cut engines: any size, tiles without seams, progress, params, registry."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from restoration import pipeline
from restoration.engines.base import Cancelled, EngineError
from restoration.engines.cut import CUTEngine
from restoration.engines.cyclegan import CycleGANEngine
from restoration.engines.registry import registry
from restoration.engines.windowing import grid
from restoration.style.inference import share_norms, translate
from restoration.style.networks import ResnetGenerator


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _generator(antialias: bool, seed: int = 1, ngf: int = 4, n_blocks: int = 1):
    """A tiny generator with torch's default initialisation (lively enough to show seams)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ResnetGenerator(ngf=ngf, n_blocks=n_blocks, antialias=antialias)


@pytest.fixture(params=[("cyclegan", False), ("cut", True)], ids=["cyclegan", "cut"])
def engine(request, tmp_path):
    """An engine of each kind with a tiny checkpoint saved as the original projects do."""
    name, antialias = request.param
    path = tmp_path / "latest_net_G.pth"
    torch.save(_generator(antialias).state_dict(), path)
    cls = CycleGANEngine if name == "cyclegan" else CUTEngine
    return cls(checkpoint=str(path), options={"tile": 64, "overlap": 16})


def _smooth(height: int, width: int) -> np.ndarray:
    """A smooth landscape-like picture: slow gradients, no edges a tile could explain."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack(
        [
            120 + 90 * np.sin(cols / 53.0),
            110 + 80 * np.cos(rows / 41.0),
            40 + 150 * (rows + cols) / (height + width),
        ],
        axis=-1,
    )
    return np.clip(image, 0, 255).astype(np.uint8)


def _noisy(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _quiet(*args, **kwargs) -> None:
    pass


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (7, 9), (63, 66), (65, 64), (130, 67)])
def test_the_output_keeps_the_input_size(engine, size):
    image = _noisy(*size)
    result = pipeline.stylize(engine, image, seed=0, params={})
    assert result.image.shape == image.shape
    # Padded to multiples of 4 (at least 8); tiled when a side then exceeds the tile (64).
    height, width = (max(8, -(-side // 4) * 4) for side in size)
    tile = min(64, height, width)
    tiles = 1 if max(height, width) <= 64 else len(grid(height, width, tile, tile // 4, 4))
    assert result.info["tiles"] == tiles


def test_one_progress_report_per_tile_with_the_picture_so_far(engine):
    image = _smooth(100, 150)
    reports = []

    def on_progress(step, total, *, preview=None):
        picture = None if preview is None else preview().copy()
        reports.append((step, total, picture))

    result = pipeline.stylize(engine, image, seed=0, params={}, on_progress=on_progress)

    tiles = result.info["tiles"]
    assert tiles == len(grid(100, 152, 64, 16, 4)) == 6
    assert [(step, total) for step, total, _ in reports] == [
        (step, tiles + 1) for step in range(tiles + 2)
    ]
    assert reports[0][2] is None
    previews = [picture for _, _, picture in reports[1:]]
    assert all(picture.shape == image.shape for picture in previews)
    # Each tile changes the picture, and the last preview is the result.
    assert all(not np.array_equal(a, b) for a, b in zip(previews, previews[1:], strict=False))
    assert np.array_equal(previews[-1], result.image)


def test_the_result_is_the_same_for_any_seed_and_every_run(engine):
    image = _smooth(90, 120)
    first = pipeline.stylize(engine, image, seed=0, params={})
    again = pipeline.stylize(engine, image, seed=12345, params={})
    assert np.array_equal(first.image, again.image)
    assert first.info == again.info and first.info["seed_used"] is False


def test_tiles_share_the_whole_images_statistics_so_their_colours_agree():
    """Per-tile instance norm shifts each tile's colours; whole-image statistics do not."""
    model = _generator(False, ngf=8, n_blocks=2).eval().requires_grad_(False)
    norms = share_norms(model)
    image = _smooth(192, 256)
    run = dict(device="cpu", dtype=torch.float32, on_progress=_quiet)

    whole, details = translate(model, norms, image, tile=256, overlap=32, **run)
    assert details["tiles"] == 1
    shared, details = translate(model, norms, image, tile=128, overlap=32, **run)
    assert details["tiles"] == 6 and "thumbnail" in details["normalisation"]
    alone, _ = translate(model, norms, image, tile=128, overlap=32, shared_statistics=False, **run)

    def error(output):
        return np.abs(output.astype(float) - whole).mean()

    assert error(alone) > 12  # the plain approach: visible colour shifts between tiles
    assert error(shared) < error(alone) / 3
    # With the statistics of the full-resolution image, tiles differ from one pass only
    # near their borders, where the blend fades them out (this network's own pixel-to-pixel
    # changes average about 40 levels).
    exact, _ = translate(model, norms, image, tile=128, overlap=32, statistics_side=256, **run)
    assert error(exact) < 1.5
    assert np.percentile(np.abs(exact.astype(float) - whole), 99) <= 12


@pytest.mark.parametrize("antialias", [False, True])
def test_tiles_are_one_pass_under_the_thumbnails_statistics_so_they_leave_no_seams(antialias):
    """Normalised alike, tiles are pieces of one function of the image: blended, they match a
    single pass with the same statistics except for small differences near tile borders."""
    model = _generator(antialias, ngf=8, n_blocks=2).eval().requires_grad_(False)
    norms = share_norms(model)
    image = _smooth(192, 256)
    tiled, details = translate(
        model,
        norms,
        image,
        tile=128,
        overlap=32,
        device="cpu",
        dtype=torch.float32,
        on_progress=_quiet,
    )
    assert details["normalisation"] == "whole-image statistics from a 128x96 thumbnail"

    thumbnail = cv2.resize(image, (128, 96), interpolation=cv2.INTER_AREA)
    with torch.inference_mode():
        for norm in norms:
            norm.mode = "record"
        model(_tensor(thumbnail))
        for norm in norms:
            norm.mode = "apply"
        single = model(_tensor(image))
    for norm in norms:
        norm.mode, norm.mean, norm.var = "own", None, None
    single = ((single[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()

    difference = np.abs(tiled.astype(float) - single)
    assert difference.mean() < 1.5
    assert np.percentile(difference, 99) <= 12


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_long_side_stylizes_at_another_size_and_returns_the_inputs(engine):
    image = _smooth(48, 64)
    result = pipeline.stylize(engine, image, seed=0, params={"long_side": 180})
    assert result.image.shape == image.shape
    assert result.info["stylized_at"] == [180, 135]
    assert result.info["tiles"] > 1
    plain = pipeline.stylize(engine, image, seed=0, params={})
    assert plain.info["stylized_at"] == [64, 48] and plain.info["tiles"] == 1
    assert np.abs(result.image.astype(float) - plain.image).mean() > 5  # another scale


def test_tile_param_overrides_the_option_and_is_checked(engine):
    image = _smooth(100, 100)
    assert pipeline.stylize(engine, image, seed=0, params={"tile": 128}).info["tiles"] == 1
    assert pipeline.stylize(engine, image, seed=0, params={}).info["tiles"] == 4
    for bad, message in (
        (66, "multiple of 4 from 64 to 4096"),
        (32, "multiple of 4 from 64 to 4096"),
        (5000, "at most|from 0 to 4096"),
        ("big", "must be an integer"),
    ):
        with pytest.raises(EngineError, match=message):
            pipeline.stylize(engine, image, seed=0, params={"tile": bad})
    with pytest.raises(EngineError, match="'long_side' must be 0 or at least 8"):
        pipeline.stylize(engine, image, seed=0, params={"long_side": 4})
    with pytest.raises(EngineError, match="Unknown parameter 'strength'"):
        pipeline.stylize(engine, image, seed=0, params={"strength": 1})


def test_cancelling_stops_between_tiles_and_the_engine_stays_usable(engine):
    image = _smooth(100, 150)
    expected = pipeline.stylize(engine, image, seed=0, params={}).image

    def cancel(step, total, *, preview=None):
        if step == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        pipeline.stylize(engine, image, seed=0, params={}, on_progress=cancel)
    assert all(norm.mode == "own" and norm.mean is None for norm in engine.norms)
    assert np.array_equal(pipeline.stylize(engine, image, seed=0, params={}).image, expected)


def test_options_are_checked_when_the_engine_loads(tmp_path):
    path = tmp_path / "g.pth"
    torch.save(_generator(False).state_dict(), path)
    for options, message in (
        ({"dtype": "float16"}, "float16 runs on CUDA only"),
        ({"dtype": "int8"}, "dtype must be auto, float16 or float32"),
        ({"tile": 102}, "tile must be a multiple of 4"),
        ({"overlap": -1}, "overlap must be a non-negative integer"),
        ({"statistics_side": 4}, "statistics_side must be 0 \\(the tile\\) or at least 8"),
    ):
        with pytest.raises(EngineError, match=message):
            CycleGANEngine(checkpoint=str(path), options=options)
    loaded = CycleGANEngine(checkpoint=str(path), options={"dtype": "auto"})
    assert loaded.dtype == torch.float32
    exact = CycleGANEngine(checkpoint=str(path), options={"tile": 64, "statistics_side": 512})
    info = pipeline.stylize(exact, _smooth(100, 150), seed=0, params={}).info
    assert info["normalisation"] == "whole-image statistics from a 152x100 thumbnail"


def test_style_engines_refuse_to_restore_and_closed_ones_to_run(engine):
    image = _smooth(16, 16)
    with pytest.raises(EngineError, match="transfers a style"):
        engine.restore(image, np.ones((16, 16), bool), seed=0, params={}, on_progress=_quiet)
    engine.close()
    with pytest.raises(EngineError, match="was closed"):
        engine.stylize(image, seed=0, params=engine.clean_params({}), on_progress=_quiet)


def test_the_settings_register_both_style_engines(settings):
    engines = registry()
    for name in ("cyclegan", "cut"):
        described = engines.describe(name)
        assert described["task"] == "stylize" and described["needs_weights"] is True
        assert set(described["params"]) == {"tile", "long_side"}
        assert engines.options(name) == {"tile": 512, "overlap": 64, "dtype": "auto"}


def test_the_engine_modules_import_no_torch():
    code = (
        "import sys, json; import restoration.engines.cyclegan, restoration.engines.cut; "
        "print(json.dumps(['torch' in sys.modules, 'django' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [False, False]


@pytest.mark.parametrize(
    "height, width, size, overlap",
    [(64, 64, 64, 16), (68, 64, 64, 16), (132, 204, 64, 16), (512, 1000, 256, 64), (8, 9, 8, 2)],
)
def test_the_grid_covers_the_image_with_aligned_overlapping_windows(height, width, size, overlap):
    multiple = 4 if height % 4 == 0 and width % 4 == 0 else 1
    corners = grid(height, width, size, overlap, multiple)
    covered = np.zeros((height, width), int)
    for y, x in corners:
        assert 0 <= y <= height - size and 0 <= x <= width - size
        assert y % multiple == 0 and x % multiple == 0
        covered[y : y + size, x : x + size] += 1
    assert covered.min() >= 1
    for axis in (0, 1):
        starts = sorted({corner[axis] for corner in corners})
        gaps = np.diff(starts)
        assert all(size - gap >= overlap - (multiple - 1) for gap in gaps)
    with pytest.raises(ValueError, match="cannot tile"):
        grid(size - 1, width, size, overlap)
