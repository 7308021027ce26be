"""The prior-guided diffusion engine end to end on a tiny model trained here for a few steps."""

import hashlib
import json

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
from safetensors.torch import load_file  # noqa: E402

from heritage import masks  # noqa: E402
from restoration.engines.base import EngineError  # noqa: E402
from restoration.engines.prior_diffusion import PriorDiffusionEngine  # noqa: E402
from restoration.engines.telea import TeleaEngine  # noqa: E402
from restoration.engines.windowing import WindowedCanvas, feather, windows  # noqa: E402
from restoration.learned import checkpoint  # noqa: E402
from restoration.learned.training import TrainOptions, train  # noqa: E402
from restoration.learned.unet import PriorGuidedUNet, UNetConfig  # noqa: E402

# Without the coarse fill: an untrained network with it returns Telea's fill whatever the seed,
# and these tests look at the sampling itself.
TINY = {
    "block_out_channels": [16, 16],
    "prior_channels": 8,
    "norm_groups": 8,
    "coarse_fill": "none",
}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("murals")
    rng = np.random.default_rng(0)
    for i in range(3):
        blocks = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
        Image.fromarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))).save(folder / f"m{i}.png")
    (folder / "manifest.csv").write_text(
        "file,licence\nm0.png,CC0\nm1.png,CC0\nm2.png,Museum terms (restricted)\n"
    )
    return folder


def _options(folder, out, **overrides):
    values = {
        "data": [str(folder)],
        "out": str(out),
        "size": 16,
        "steps": 3,
        "batch": 2,
        "sample_every": 3,
        "save_every": 100,
        "sample_steps": 2,
        "architecture": TINY,
        "seed": 7,
    }
    return TrainOptions(**{**values, **overrides})


@pytest.fixture(scope="module")
def trained(image_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    train(_options(image_folder, out, redistributable_only=True), log=lambda _: None)
    return out


def test_training_writes_weights_config_manifest_and_samples(trained):
    assert (trained / checkpoint.WEIGHTS).is_file()
    assert (trained / "samples" / "latest.png").is_file()
    config = json.loads((trained / checkpoint.CONFIG).read_text())
    assert config["engine"] == "prior_diffusion"
    assert config["training"]["steps"] == 3
    assert config["architecture"]["block_out_channels"] == [16, 16]
    # Only the CC0 images: the restricted one was left out of the shipped-weights data.
    assert {entry["file"] for entry in config["training"]["data"]} == {"m0.png", "m1.png"}
    assert all(len(entry["sha256"]) == 64 for entry in config["training"]["data"])


def test_training_is_deterministic_and_resume_continues_the_same_run(image_folder, tmp_path):
    architecture = TINY
    train(
        _options(image_folder, tmp_path / "a", steps=4, architecture=architecture),
        log=lambda _: None,
    )

    class Interrupted(Exception):
        pass

    def interrupt(step, total, loss):
        if step == 3:
            raise Interrupted  # after the checkpoint of step 2 was saved

    with pytest.raises(Interrupted):
        train(
            _options(
                image_folder, tmp_path / "b", steps=4, save_every=2, architecture=architecture
            ),
            on_step=interrupt,
            log=lambda _: None,
        )
    resumed = train(
        _options(
            image_folder,
            tmp_path / "b",
            steps=4,
            resume=str(tmp_path / "b"),
            architecture=architecture,
        ),
        log=lambda _: None,
    )
    assert resumed["training"]["steps"] == 4
    a = (tmp_path / "a" / checkpoint.WEIGHTS).read_bytes()
    b = (tmp_path / "b" / checkpoint.WEIGHTS).read_bytes()
    assert a == b


def test_gates_favour_structure_early_and_texture_late():
    model = PriorGuidedUNet(UNetConfig(**TINY))
    emb = torch.zeros(2, model.time_embedding.linear_1.out_features)
    g_structure, g_texture = model.fusions[0].gates(emb, torch.tensor([1.0, 0.0]))
    assert (g_structure[0] > g_texture[0]).all()  # t = T: noisy, follow the outlines
    assert (g_texture[1] > g_structure[1]).all()  # t = 0: nearly clean, follow the texture


def _damaged(seed=1, size=(40, 56)):
    rng = np.random.default_rng(seed)
    image = (rng.random((*size, 3)) * 255).astype(np.uint8)
    mask = masks.blocks(width=size[1], height=size[0], seed=seed) > 0
    return image, mask


def test_engine_restores_from_the_checkpoint_with_a_preview_every_step(trained):
    engine = PriorDiffusionEngine(checkpoint=str(trained), options={"window": 64})
    image, mask = _damaged()
    calls = []

    def on_progress(step, total, *, preview=None):
        calls.append((step, total, None if preview is None else preview()))

    result = engine.restore(
        image, mask, seed=3, params={"steps": 4, "scheduler": "ddim"}, on_progress=on_progress
    )
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert np.array_equal(result.image[~mask], image[~mask])
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4] and {c[1] for c in calls} == {4}
    assert all(c[2].shape == image.shape for c in calls[1:])
    assert result.info["scheduler"] == "ddim" and result.info["steps"] == 4
    assert result.info["trained_steps"] == 3

    again = engine.restore(
        image,
        mask,
        seed=3,
        params={"steps": 4, "scheduler": "ddim"},
        on_progress=lambda *a, **k: None,
    )
    other = engine.restore(
        image,
        mask,
        seed=4,
        params={"steps": 4, "scheduler": "ddim"},
        on_progress=lambda *a, **k: None,
    )
    assert np.array_equal(again.image, result.image)
    assert not np.array_equal(other.image, result.image)
    dpm = engine.restore(
        image,
        mask,
        seed=3,
        params={"steps": 3, "scheduler": "dpm++"},
        on_progress=lambda *a, **k: None,
    )
    assert np.array_equal(dpm.image[~mask], image[~mask])


def test_engine_refuses_missing_or_foreign_checkpoints(trained, tmp_path):
    with pytest.raises(EngineError, match="needs a checkpoint"):
        PriorDiffusionEngine()
    with pytest.raises(EngineError, match="does not exist"):
        PriorDiffusionEngine(checkpoint=str(tmp_path / "nothing"))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    config = json.loads((trained / checkpoint.CONFIG).read_text())
    (foreign / checkpoint.CONFIG).write_text(json.dumps({**config, "engine": "cyclegan"}))
    with pytest.raises(EngineError, match="engine 'cyclegan'"):
        PriorDiffusionEngine(checkpoint=str(foreign))


def test_windows_cover_the_damage_and_follow_its_size_not_the_image_size():
    mask = np.zeros((4096, 4096), bool)
    rng = np.random.default_rng(0)
    mask[1000:1512, 2000:2512] = rng.random((512, 512)) < 0.3
    big = windows(mask, 256)
    alone = windows(mask[1000:1512, 2000:2512], 256)
    assert len(big) == len(alone)
    covered = np.zeros_like(mask)
    for y, x in big:
        covered[y : y + 256, x : x + 256] = True
    assert covered[mask].all()


def test_the_canvas_of_a_huge_image_keeps_only_the_damaged_area_and_blends_as_before():
    """Small damage in a 4096 x 4096 image: the blend is kept over the damage's bounding box
    alone (not 260 MB of float buffers), and the result and previews are the full-image blend
    of the windows, including windows that reach past the box."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (4096, 4096, 3), dtype=np.uint8)
    damaged = np.zeros((4096, 4096), bool)
    damaged[2100:2300, 1000:1150] = rng.random((200, 150)) < 0.5
    size = 128
    corners = windows(damaged, size)
    tiles = {c: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for c in corners}
    canvas = WindowedCanvas(image, damaged, size, height=4096, width=4096)
    assert canvas.accumulated.shape[:2] == (200, 150)
    first, *rest = corners
    canvas.estimate(first, tiles[first])
    for corner in rest:
        canvas.add(corner, tiles[corner])
    preview = canvas.render()
    canvas.add(first, tiles[first])
    result = canvas.result()

    # What a canvas over the whole image gives.
    total = np.zeros((4096, 4096, 3), np.float64)
    weights = np.zeros((4096, 4096), np.float64)
    for (y, x), tile in tiles.items():
        total[y : y + size, x : x + size] += tile * feather(size)[..., None]
        weights[y : y + size, x : x + size] += feather(size)
    expected = image.copy()
    expected[damaged] = np.clip(np.rint(total[damaged] / weights[damaged][:, None]), 0, 255)
    assert np.abs(result.astype(int) - expected).max() <= 1
    assert np.array_equal(result[~damaged], image[~damaged])
    assert np.array_equal(preview, result)  # the estimate shown is the tile later added
    assert np.array_equal(
        image[~damaged],
        WindowedCanvas(image, damaged, size, height=4096, width=4096).result()[~damaged],
    )


def test_train_engine_command(image_folder, tmp_path):
    out = tmp_path / "cmd"
    call_command(
        "train_engine",
        "prior_diffusion",
        "--data",
        str(image_folder),
        "--out",
        str(out),
        "--size",
        "16",
        "--steps",
        "2",
        "--batch",
        "2",
        "--channels",
        "16,16",
        "--sample-every",
        "2",
    )
    assert (out / checkpoint.WEIGHTS).is_file()
    # New networks take the harmonic fill of the damage by default, and the engine gives it to
    # them.
    config = json.loads((out / checkpoint.CONFIG).read_text())
    assert config["architecture"]["coarse_fill"] == "harmonic"
    image, mask = _damaged()
    engine = PriorDiffusionEngine(checkpoint=str(out), options={"window": 64})
    result = engine.restore(
        image,
        mask,
        seed=0,
        params={"steps": 2, "scheduler": "ddim"},
        on_progress=lambda *a, **k: None,
    )
    assert np.array_equal(result.image[~mask], image[~mask])
    with pytest.raises(CommandError, match="--high-noise"):
        call_command(
            "train_engine",
            "prior_diffusion",
            "--data",
            str(image_folder),
            "--out",
            str(out),
            "--high-noise",
            "1.5",
        )
    with pytest.raises(CommandError, match="is not a folder"):
        call_command(
            "train_engine", "prior_diffusion", "--data", str(tmp_path / "no"), "--out", str(out)
        )


@pytest.fixture
def small_window(settings):
    engines = {name: dict(entry) for name, entry in settings.RESTORATION_ENGINES.items()}
    engines["prior_diffusion"] = {**engines["prior_diffusion"], "OPTIONS": {"window": 64}}
    settings.RESTORATION_ENGINES = engines


def test_shipped_weights_register_once_as_default_and_restore_a_job(
    trained, tmp_path, curator, simulated, media, small_window
):
    import shutil

    from restoration import services
    from restoration.management.commands import seed_models
    from restoration.models import ModelCheckpoint, RestorationJob

    shipped = tmp_path / "models" / "prior_diffusion-tiny"
    shutil.copytree(trained, shipped, ignore=shutil.ignore_patterns("samples", "*.pt"))
    assert seed_models.shipped_folders(tmp_path / "models") == [shipped]

    checkpoint, created = seed_models.register_shipped(shipped)
    again, created_again = seed_models.register_shipped(shipped)

    assert created and not created_again and again == checkpoint
    assert checkpoint.is_default and checkpoint.steps == 3
    assert {e["file"] for e in checkpoint.training_data["images"]} == {"m0.png", "m1.png"}
    job = services.job_create(
        requested_by=curator,
        annotation=simulated,
        engine="prior_diffusion",
        params={"steps": 2},
        queue=False,
    )
    assert job.checkpoint == checkpoint
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == RestorationJob.Status.SUCCEEDED, job.error
    assert job.result.info["steps"] == 2 and job.result.info["scheduler"] == "ddim"
    assert job.result.checkpoint_sha256 == checkpoint.sha256
    assert ModelCheckpoint.objects.count() == 1


def test_demo_gallery_restores_with_registered_weights_and_studies_the_result(
    trained, settings, media, db, monkeypatch
):
    import io

    from gallery.models import UserStudy
    from restoration.checkpoints import checkpoint_register
    from restoration.models import Restoration

    monkeypatch.delenv("HERITAGE_DEMO_PASSWORD", raising=False)
    settings.DEBUG = True
    checkpoint_register(location=trained, engine="prior_diffusion", default=True)
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("seed_demo", "--motifs", "2", **quiet)
    call_command("seed_gallery", **quiet)

    learned = Restoration.objects.filter(engine="prior_diffusion")
    assert learned.count() == 2 and all(r.params["steps"] == 10 for r in learned)
    candidates = UserStudy.objects.get().trials.values_list(
        "candidates__restoration__engine", flat=True
    )
    assert "prior_diffusion" in set(candidates)


def test_coarse_fill_is_the_telea_engines_fill_of_the_damage():
    from restoration.engines.telea import TeleaEngine
    from restoration.learned import data

    image, mask = _damaged(seed=2, size=(48, 48))
    observed = data.damage(image, mask.astype(np.float32), np.random.default_rng(0))
    coarse = data.coarse_fill(observed, mask.astype(np.float32))
    telea = (
        TeleaEngine()
        .restore(
            observed,
            mask,
            seed=0,
            params={"radius": data.TELEA_RADIUS},
            on_progress=lambda *a, **k: None,
        )
        .image
    )
    as_uint8 = np.round((coarse.transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)
    assert np.abs(as_uint8.astype(int) - telea.astype(int)).max() <= 1
    # The fill is built from the intact pixels: the blacked-out damage leaves no trace in it.
    assert as_uint8[mask].mean() > 40


def test_a_network_trained_on_the_coarse_fill_needs_it_and_learns_with_high_noise_steps(
    image_folder, tmp_path
):
    architecture = {**TINY, "coarse_fill": "telea", "mid_attention": True}
    out = tmp_path / "coarse"
    config = train(
        _options(image_folder, out, architecture=architecture, high_noise=0.5, steps=2),
        log=lambda _: None,
    )
    assert config["architecture"]["coarse_fill"] == "telea"
    assert config["training"]["options"]["high_noise"] == 0.5
    model = PriorGuidedUNet(UNetConfig.from_dict(architecture))
    x = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match="coarse fill"):
        model(x, x, x[:, :1], x[:, :2], torch.zeros(1, 8, 16, 16), torch.tensor([10]))
    # Untrained, it restores as Telea does: what it learns is added to the coarse fill.
    coarse = torch.rand(1, 3, 16, 16) * 2 - 1
    predicted = model(
        x, x, x[:, :1], x[:, :2], torch.zeros(1, 8, 16, 16), torch.tensor([10]), coarse=coarse
    )
    assert torch.equal(predicted, coarse)
    with pytest.raises(ValueError, match="high_noise"):
        train(_options(image_folder, tmp_path / "bad", high_noise=2.0), log=lambda _: None)
    with pytest.raises(ValueError, match="coarse_fill"):
        PriorGuidedUNet(UNetConfig.from_dict({**TINY, "coarse_fill": "navier"}))


def test_averaging_samples_gives_a_steadier_fill_and_says_so(trained):
    engine = PriorDiffusionEngine(checkpoint=str(trained), options={"window": 64})
    image, mask = _damaged(seed=5)

    def fills(samples):
        results = [
            engine.restore(
                image,
                mask,
                seed=seed,
                params={"steps": 3, "scheduler": "ddim", "samples": samples},
                on_progress=lambda *a, **k: None,
            )
            for seed in range(3)
        ]
        for result in results:
            assert np.array_equal(result.image[~mask], image[~mask])
            assert result.info["samples"] == samples
        return np.stack([r.image[mask].astype(float) for r in results])

    # Draws differ from seed to seed; their average much less so.
    assert fills(4).std(axis=0).mean() < 0.75 * fills(1).std(axis=0).mean()


def test_fine_tuning_starts_from_a_checkpoint_and_records_its_lineage(
    trained, image_folder, tmp_path
):
    out = tmp_path / "tuned"
    # Learning rate 0: the run must hand back exactly the weights it started from.
    config = train(
        _options(image_folder, out, init=str(trained), lr=0.0, architecture={}, steps=2),
        log=lambda _: None,
    )
    assert (
        config["architecture"]
        == json.loads((trained / checkpoint.CONFIG).read_text())["architecture"]
    )
    start = load_file(str(trained / checkpoint.WEIGHTS))
    tuned = load_file(str(out / checkpoint.WEIGHTS))
    assert start.keys() == tuned.keys()
    assert all(torch.equal(start[key], tuned[key]) for key in start)
    lineage = config["training"]["init"]
    assert (
        lineage["sha256"] == hashlib.sha256((trained / checkpoint.WEIGHTS).read_bytes()).hexdigest()
    )
    assert lineage["steps"] == 3
    # The start learned from the two CC0 images; this run from all three: the manifest lists
    # every image the weights have seen, each once.
    files = [entry["file"] for entry in config["training"]["data"]]
    assert sorted(files) == ["m0.png", "m1.png", "m2.png"]

    with pytest.raises(ValueError, match="--init and --resume"):
        train(_options(image_folder, out, init=str(trained), resume=str(out)), log=lambda _: None)
    with pytest.raises(ValueError, match="does not exist"):
        train(_options(image_folder, out, init=str(tmp_path / "none")), log=lambda _: None)
    with pytest.raises(CommandError, match="keeps the architecture"):
        call_command(
            "train_engine",
            "prior_diffusion",
            "--data",
            str(image_folder),
            "--out",
            str(out),
            "--init",
            str(trained),
            "--channels",
            "8,8",
        )


def test_expected_output_is_one_pass_per_window_and_far_steadier_than_a_sample(trained):
    engine = PriorDiffusionEngine(checkpoint=str(trained), options={"window": 64})
    image, mask = _damaged(seed=6)
    calls = []

    def on_progress(step, total, *, preview=None):
        calls.append((step, total, None if preview is None else preview()))

    params = PriorDiffusionEngine.clean_params({"output": "expected", "steps": 20})
    expected = engine.restore(image, mask, seed=0, params=params, on_progress=on_progress)
    assert np.array_equal(expected.image[~mask], image[~mask])
    # One window: one network pass, one progress event after the start, with its preview.
    assert [(step, total) for step, total, _ in calls] == [(0, 1), (1, 1)]
    assert calls[1][2].shape == image.shape
    assert expected.info["output"] == "expected" and expected.info["steps"] == 1
    assert "scheduler" not in expected.info

    other = engine.restore(image, mask, seed=1, params=params, on_progress=lambda *a, **k: None)
    assert not np.array_equal(other.image, expected.image)  # its noise comes from the seed


def test_expected_output_averages_rotated_and_mirrored_views_back_in_place(image_folder, tmp_path):
    # Untrained, a network on the coarse fill returns Telea's fill exactly (its learned part
    # starts at zero): every view's estimate is Telea's fill of the turned window, so the
    # average of the views turned back must lie on Telea's fill of the image.
    out = tmp_path / "coarse"
    train(
        _options(image_folder, out, architecture={**TINY, "coarse_fill": "telea"}, lr=0.0, steps=1),
        log=lambda _: None,
    )
    engine = PriorDiffusionEngine(checkpoint=str(out), options={"window": 64})
    rng = np.random.default_rng(3)
    image = cv2.resize(
        (rng.random((8, 8, 3)) * 255).astype(np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC
    )
    mask = np.zeros((64, 64), bool)
    mask[10:30, 20:50] = True
    telea = (
        TeleaEngine()
        .restore(
            image,
            mask,
            seed=0,
            params=TeleaEngine.clean_params({}),
            on_progress=lambda *a, **k: None,
        )
        .image.astype(int)
    )

    def expected(views):
        params = PriorDiffusionEngine.clean_params({"output": "expected", "samples": views})
        return engine.restore(
            image, mask, seed=0, params=params, on_progress=lambda *a, **k: None
        ).image.astype(int)

    assert np.abs(expected(1) - telea).max() <= 1
    averaged = expected(8)
    assert np.array_equal(averaged[~mask], image[~mask].astype(int))
    # Telea's fill turns with the image up to the order it visits pixels in: a few levels. A view
    # left turned would put the fill of one part of the hole in another, tens of levels off.
    assert np.abs(averaged - telea)[mask].mean() < 4


def test_ssim_loss_is_the_benchmarks_ssim_of_the_restored_damage():
    from restoration import metrics
    from restoration.learned.training import damaged_ssim, loss_fn

    rng = np.random.default_rng(3)
    clean = np.clip(np.cumsum(rng.random((48, 48, 3)) * 30, axis=1) % 256, 0, 255).astype(np.uint8)
    guess = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[8:30, 12:40] = True

    def tensor(image):
        return torch.from_numpy(image.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]

    restored = np.where(mask[..., None], guess, clean)
    expected = metrics.ssim(clean, restored, mask)
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    # What the intact pixels hold in the prediction does not count: they are re-imposed.
    assert float(damaged_ssim(tensor(guess), tensor(clean), m)) == pytest.approx(expected, abs=1e-4)
    assert float(damaged_ssim(tensor(clean), tensor(clean), m)) == pytest.approx(1.0, abs=1e-5)
    predicted = tensor(guess).requires_grad_()
    plain = loss_fn(predicted, tensor(clean), m)
    weighted = loss_fn(predicted, tensor(clean), m, ssim_weight=0.5)
    assert float((weighted - plain).detach()) == pytest.approx(0.5 * (1 - expected), abs=1e-4)
    weighted.backward()
    assert predicted.grad[..., 8:30, 12:40].abs().sum() > 0


def test_training_can_oversample_images_lean_on_the_noisy_end_and_add_the_ssim_loss(
    image_folder, tmp_path, monkeypatch
):
    from restoration.learned import data

    sources = data.load_folder(image_folder)
    weights = data.source_weights(sources, {"m2*": 8})
    assert weights.tolist() == pytest.approx([0.1, 0.1, 0.8])
    assert data.source_weights(sources, {}) is None
    drawn = []
    crop = data.random_crop

    def recording_crop(image, size, rng):
        drawn.append(next(s.name for s in sources if s.image is image))
        return crop(image, size, rng)

    monkeypatch.setattr(data, "random_crop", recording_crop)
    data.make_batch(sources, batch=60, size=16, rng=np.random.default_rng(0), weights=weights)
    assert 0.65 < drawn.count("m2.png") / 60 < 0.95
    monkeypatch.undo()
    with pytest.raises(ValueError, match="matches no training image"):
        data.source_weights(sources, {"nothing*": 2})
    with pytest.raises(ValueError, match="positive"):
        data.source_weights(sources, {"m1*": 0})

    config = train(
        _options(
            image_folder,
            tmp_path / "tuned",
            steps=2,
            high_noise=1.0,
            noisy_from=0.95,
            ssim_weight=0.1,
            oversample={"m1*": 3},
        ),
        log=lambda _: None,
    )
    options = config["training"]["options"]
    assert (options["noisy_from"], options["ssim_weight"], options["oversample"]) == (
        0.95,
        0.1,
        {"m1*": 3},
    )
    for bad, message in (
        ({"noisy_from": 1.0}, "noisy_from"),
        ({"ssim_weight": -1.0}, "ssim_weight"),
        ({"oversample": {"zz*": 2}}, "matches no training image"),
    ):
        with pytest.raises(ValueError, match=message):
            train(_options(image_folder, tmp_path / "bad", **bad), log=lambda _: None)


def test_train_engine_command_checks_the_new_sampling_and_loss_options(image_folder, tmp_path):
    out = tmp_path / "cmd"
    base = ["train_engine", "prior_diffusion", "--data", str(image_folder), "--out", str(out)]
    for extra, message in (
        (["--oversample", "m1*"], "PATTERN=WEIGHT"),
        (["--oversample", "m1*=-2"], "PATTERN=WEIGHT"),
        (["--oversample", "=2"], "PATTERN=WEIGHT"),
        (["--noisy-from", "1"], "--noisy-from"),
        (["--ssim-weight", "-0.1"], "--ssim-weight"),
        (["--refiner", "-1"], "--refiner must be"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command(*base, *extra)
    assert not out.exists()
    call_command(
        *base,
        *("--size", "16", "--steps", "1", "--batch", "2", "--channels", "16,16"),
        *("--oversample", "m0*=2", "--high-noise", "0.5", "--noisy-from", "0.9"),
        *("--ssim-weight", "0.05", "--sample-every", "5"),
    )
    options = json.loads((out / checkpoint.CONFIG).read_text())["training"]["options"]
    assert options["oversample"] == {"m0*": 2.0}
    assert (options["noisy_from"], options["ssim_weight"]) == (0.9, 0.05)


def test_a_network_on_the_harmonic_fill_starts_as_the_harmonic_engine(image_folder, tmp_path):
    from restoration.engines.harmonic import HarmonicEngine
    from restoration.learned import data

    out = tmp_path / "harmonic"
    config = train(
        _options(
            image_folder, out, architecture={**TINY, "coarse_fill": "harmonic"}, lr=0.0, steps=1
        ),
        log=lambda _: None,
    )
    assert config["architecture"]["coarse_fill"] == "harmonic"
    engine = PriorDiffusionEngine(checkpoint=str(out), options={"window": 64})
    image, mask = _damaged(seed=5, size=(64, 64))
    harmonic = HarmonicEngine().restore(
        image, mask, seed=0, params={}, on_progress=lambda *a, **k: None
    )
    for output in ("expected", "sample"):
        params = PriorDiffusionEngine.clean_params({"output": output, "steps": 2})
        restored = engine.restore(
            image, mask, seed=1, params=params, on_progress=lambda *a, **k: None
        )
        # Its learned part starts at zero: it restores exactly as the classical fill does.
        assert np.abs(restored.image.astype(int) - harmonic.image.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="Unknown coarse fill"):
        data.coarse_fill(image, mask.astype(np.float32), "navier")


def test_a_resumed_run_keeps_the_network_it_saved(image_folder, tmp_path):
    # A run started with Telea's coarse fill (the default before harmonic) and continued with
    # today's defaults must go on feeding Telea's fill, not switch silently.
    out = tmp_path / "telea-run"
    train(
        _options(image_folder, out, architecture={**TINY, "coarse_fill": "telea"}, steps=1),
        log=lambda _: None,
    )
    config = train(
        _options(
            image_folder,
            out,
            architecture={**TINY, "coarse_fill": "harmonic"},
            steps=2,
            resume=str(out),
        ),
        log=lambda _: None,
    )
    assert config["training"]["steps"] == 2
    assert config["architecture"]["coarse_fill"] == "telea"


def test_the_border_refiner_corrects_the_damage_only():
    from restoration.learned.unet import BorderRefiner

    refiner = BorderRefiner(8)
    estimate = torch.rand(1, 3, 24, 24) * 2 - 1
    known, mask = estimate.clone(), torch.zeros(1, 1, 24, 24)
    mask[..., 6:14, 4:20] = 1.0
    known = known * (1 - mask)
    # Zero-initialised: it hands the estimate back as it is.
    assert torch.equal(refiner(estimate, known, mask), estimate)
    torch.nn.init.normal_(refiner.conv_out.weight, std=0.1)
    refined = refiner(estimate, known, mask)
    inside = mask.bool().expand_as(estimate)
    assert torch.equal(refined[~inside], estimate[~inside])
    assert (refined[inside] - estimate[inside]).abs().mean() > 1e-3


def test_a_border_refiner_added_to_a_trained_network_learns_alone(trained, image_folder, tmp_path):
    start = load_file(str(trained / checkpoint.WEIGHTS))
    out = tmp_path / "refined"
    config = train(
        _options(
            image_folder, out, init=str(trained), refiner=8, refiner_only=True, lr=1e-2, steps=3
        ),
        log=lambda _: None,
    )
    assert config["architecture"]["refiner_channels"] == 8
    tuned = load_file(str(out / checkpoint.WEIGHTS))
    added = {key for key in tuned if key.startswith("refiner.")}
    assert added and set(tuned) - added == set(start)
    # The U-Net keeps the start's weights; the refiner has learned a correction.
    assert all(torch.equal(start[key], tuned[key]) for key in start)
    assert tuned["refiner.conv_out.weight"].abs().sum() > 0

    # Freshly added (learning rate 0), it restores exactly as the network it was added to.
    fresh = tmp_path / "fresh"
    train(
        _options(image_folder, fresh, init=str(trained), refiner=8, lr=0.0, steps=1),
        log=lambda _: None,
    )
    image, mask = _damaged(seed=3, size=(32, 32))

    def restore(folder, **params):
        engine = PriorDiffusionEngine(checkpoint=str(folder), options={"window": 32})
        params = PriorDiffusionEngine.clean_params(params)
        return engine.restore(
            image, mask, seed=1, params=params, on_progress=lambda *a, **k: None
        ).image

    expected = [restore(folder, output="expected") for folder in (trained, fresh, out)]
    assert np.array_equal(expected[0], expected[1])
    assert np.array_equal(expected[2][~mask], image[~mask])
    assert not np.array_equal(expected[2], expected[0])
    # Samples are drawn without the refiner: the same as the start's, the U-Net being frozen.
    sampled = [restore(folder, output="sample", steps=2) for folder in (trained, out)]
    assert np.array_equal(sampled[0], sampled[1])

    with pytest.raises(ValueError, match="already has a border refiner"):
        train(_options(image_folder, tmp_path / "x", init=str(out), refiner=8), log=lambda _: None)
    with pytest.raises(ValueError, match="--refiner-only needs"):
        train(_options(image_folder, tmp_path / "y", refiner_only=True), log=lambda _: None)
