"""The sd_inpaint engine on a tiny random Stable Diffusion inpainting pipeline built here.

The test builds the pipeline (9-channel U-Net, VAE, CLIP text encoder and a tokenizer from a
small vocabulary), saves it with save_pretrained and the engine loads it back offline.
"""

import json
import socket

import numpy as np
import pytest
from django.core.management import call_command

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from restoration.engines.base import Cancelled, EngineError  # noqa: E402
from restoration.engines.sd_inpaint import (  # noqa: E402
    NEGATIVE_PROMPT,
    SDInpaintEngine,
    latent_cells,
    latent_preview,
)

SIZE = 64
STEPS = 2


def _tokenizer(folder):
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = ["<|startoftext|>", "<|endoftext|>", ",", ",</w>", ";", ";</w>"]
    tokens += [*letters, *(letter + "</w>" for letter in letters)]
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer.from_pretrained(folder, model_max_length=32), len(tokens)


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """A folder holding a tiny random StableDiffusionInpaintPipeline (about 0.5 MB)."""
    root = tmp_path_factory.mktemp("sd")
    tokenizer, vocab_size = _tokenizer(root / "vocab")
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
        unet = diffusers.UNet2DConditionModel(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=SIZE // 8,
            in_channels=9,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=16,
            norm_num_groups=4,
            attention_head_dim=4,
        )
        vae = diffusers.AutoencoderKL(
            block_out_channels=(8, 8, 8, 8),
            down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4,
            latent_channels=4,
            norm_num_groups=4,
            sample_size=SIZE,
        )
        text_encoder = transformers.CLIPTextModel(
            transformers.CLIPTextConfig(
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
                hidden_size=16,
                intermediate_size=16,
                num_attention_heads=2,
                num_hidden_layers=1,
                vocab_size=vocab_size,
                max_position_embeddings=32,
                projection_dim=16,
            )
        )
    pipe = diffusers.StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=diffusers.DDIMScheduler(steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    folder = root / "tiny-sd-inpainting"
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture
def offline(monkeypatch):
    """No network: HF_HUB_OFFLINE=1 and any socket connection fails."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*_args, **_kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(scope="module")
def engine(tiny_pipeline):
    return SDInpaintEngine(checkpoint=str(tiny_pipeline), options={"size": SIZE})


def _damaged(height=64, width=96, seed=1):
    rng = np.random.default_rng(seed)
    image = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    mask[10:30, 20:50] = True
    mask[40:42, 60:90] = True  # a thin crack, narrower than a latent cell
    return image, mask


def _params(**overrides):
    return SDInpaintEngine.clean_params({"steps": STEPS, **overrides})


def _quiet(*_args, **_kwargs):
    return None


def test_loads_offline_and_restores_only_the_damage_with_a_preview_every_step(
    tiny_pipeline, offline
):
    engine = SDInpaintEngine(checkpoint=str(tiny_pipeline), options={"size": SIZE})
    image, mask = _damaged()
    calls = []

    def on_progress(step, total, *, preview=None):
        calls.append((step, total, None if preview is None else preview()))

    result = engine.restore(image, mask, seed=3, params=_params(), on_progress=on_progress)

    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert np.array_equal(result.image[~mask], image[~mask])
    assert not np.array_equal(result.image[mask], image[mask])
    windows = result.info["windows"]
    assert windows == 2  # 96 pixels wide: two overlapping 64 x 64 windows
    total = windows * STEPS
    assert [c[0] for c in calls] == list(range(total + 1)) and {c[1] for c in calls} == {total}
    assert calls[0][2] is None
    for _step, _total, preview in calls[1:]:
        assert preview.shape == image.shape and preview.dtype == np.uint8
        assert np.array_equal(preview[~mask], image[~mask])
    info = result.info
    assert info["pipeline"] == "StableDiffusionInpaintPipeline"
    assert info["scheduler"] == "DDIMScheduler"
    assert info["model"] == str(tiny_pipeline)
    assert (info["steps"], info["guidance_scale"], info["strength"], info["size"]) == (
        STEPS,
        7.5,
        1.0,
        SIZE,
    )
    assert info["prompt"] == "a restored ancient mural, intact pigment, continuous outlines"
    assert info["negative_prompt"] == NEGATIVE_PROMPT
    assert info["dtype"] == "float32"
    assert info["diffusers"] == diffusers.__version__ and info["torch"] == torch.__version__
    json.dumps(info)


def test_the_same_seed_gives_the_same_image_and_another_seed_another(engine):
    image, mask = _damaged()
    first = engine.restore(image, mask, seed=5, params=_params(), on_progress=_quiet)
    again = engine.restore(image, mask, seed=5, params=_params(), on_progress=_quiet)
    other = engine.restore(image, mask, seed=6, params=_params(), on_progress=_quiet)
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)


def test_the_prompt_reaches_the_model(engine):
    image, mask = _damaged()
    default = engine.restore(image, mask, seed=5, params=_params(), on_progress=_quiet)
    described = engine.restore(
        image,
        mask,
        seed=5,
        params=_params(style="dunhuang", damage="the face is missing."),
        on_progress=_quiet,
    )
    written = engine.restore(
        image, mask, seed=5, params=_params(prompt="blue sky"), on_progress=_quiet
    )
    assert described.info["prompt"] == (
        "a restored dunhuang mural, intact pigment, continuous outlines; "
        "restore where the face is missing"
    )
    assert written.info["prompt"] == "blue sky"
    assert not np.array_equal(default.image, described.image)
    assert not np.array_equal(default.image, written.image)


def test_a_cancellation_from_on_progress_stops_the_pipeline(engine):
    image, mask = _damaged()
    steps = []

    def cancel(step, total, *, preview=None):
        steps.append(step)
        if step == 1:
            raise Cancelled

    decode = engine.pipe.vae.decode
    decoded = []
    engine.pipe.vae.decode = lambda *a, **k: decoded.append(1) or decode(*a, **k)
    try:
        with pytest.raises(Cancelled):
            engine.restore(image, mask, seed=1, params=_params(steps=5), on_progress=cancel)
    finally:
        del engine.pipe.vae.decode
    assert steps == [0, 1]
    assert decoded == []  # stopped inside the first window, before its decode


def test_previews_do_not_decode_with_the_vae_each_step(engine):
    image, mask = _damaged()
    decode = engine.pipe.vae.decode
    decoded = []
    engine.pipe.vae.decode = lambda *a, **k: decoded.append(1) or decode(*a, **k)
    previews = []
    try:
        result = engine.restore(
            image,
            mask,
            seed=1,
            params=_params(steps=4),
            on_progress=lambda s, t, *, preview=None: preview and previews.append(preview()),
        )
    finally:
        del engine.pipe.vae.decode
    assert len(previews) == 4 * result.info["windows"]
    assert len(decoded) == result.info["windows"]  # once per window, at its end


def test_a_large_image_with_small_damage_runs_only_the_windows_around_it(engine):
    rng = np.random.default_rng(0)
    image = (rng.random((768, 1024, 3)) * 255).astype(np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[400:412, 700:706] = True
    pipe = engine.pipe
    sizes = []

    class Spy:
        def __getattr__(self, name):
            return getattr(pipe, name)

        def __call__(self, **kwargs):
            sizes.append((kwargs["image"].size, kwargs["mask_image"].size))
            return pipe(**kwargs)

    engine.pipe = Spy()
    totals = set()
    try:
        result = engine.restore(
            image,
            mask,
            seed=2,
            params=_params(),
            on_progress=lambda s, t, *, preview=None: totals.add(t),
        )
    finally:
        engine.pipe = pipe
    assert sizes == [((SIZE, SIZE), (SIZE, SIZE))]  # one window at full resolution
    assert totals == {STEPS}
    assert np.array_equal(result.image[~mask], image[~mask])
    assert result.image.shape == image.shape


def test_an_image_smaller_than_the_working_size_is_padded_not_resized(engine):
    image, mask = _damaged(height=40, width=50)
    result = engine.restore(image, mask, seed=1, params=_params(), on_progress=_quiet)
    assert result.image.shape == image.shape
    assert np.array_equal(result.image[~mask], image[~mask])


def test_a_fraction_of_the_steps_runs_with_strength_below_one(engine):
    image, mask = _damaged()
    steps = []
    engine.restore(
        image,
        mask,
        seed=1,
        params=_params(steps=4, strength=0.5),
        on_progress=lambda s, t, *, preview=None: steps.append((s, t)),
    )
    assert steps == [(s, 4) for s in range(5)]  # 2 windows x (4 x 0.5) steps


def test_thin_damage_covers_whole_latent_cells_for_the_pipeline(engine):
    mask = np.zeros((16, 16), bool)
    mask[9, 3] = True
    cells = latent_cells(mask, 8)
    assert cells[8:, :8].all() and cells.sum() == 64

    # A one-pixel crack between the pixels the pipeline samples its latent mask from (every
    # 8th, nearest) is still redrawn: the mask it receives marks the crack's whole cells.
    rng = np.random.default_rng(0)
    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    crack = np.zeros((64, 64), bool)
    crack[43, 5:60] = True
    pipe = engine.pipe
    given = []

    class Spy:
        def __getattr__(self, name):
            return getattr(pipe, name)

        def __call__(self, **kwargs):
            given.append(np.asarray(kwargs["mask_image"]) > 127)
            return pipe(**kwargs)

    engine.pipe = Spy()
    try:
        engine.restore(image, crack, seed=0, params=_params(), on_progress=_quiet)
    finally:
        engine.pipe = pipe
    latent = given[0][::8, ::8]  # what the pipeline's nearest resize keeps
    assert np.kron(latent, np.ones((8, 8), bool))[crack].all()


def test_the_latent_preview_is_a_fixed_projection():
    latents = np.zeros((4, 2, 3), np.float32)
    assert (latent_preview(latents) == 127).all()
    latents[3] = 2.0  # the fourth channel pulls towards yellow
    rgb = latent_preview(latents)[0, 0]
    assert rgb.shape == (3,) and rgb[2] < rgb[0] and rgb[2] < rgb[1]


def test_parameters_are_bounded_and_checked_before_a_job_runs():
    assert SDInpaintEngine.clean_params({})["negative_prompt"] == NEGATIVE_PROMPT
    with pytest.raises(EngineError, match="guidance_scale"):
        SDInpaintEngine.clean_params({"guidance_scale": 50})
    with pytest.raises(EngineError, match="strength"):
        SDInpaintEngine.clean_params({"strength": 0})
    with pytest.raises(EngineError, match=r"steps x strength must be at least 1"):
        SDInpaintEngine.clean_params({"steps": 4, "strength": 0.2})
    with pytest.raises(EngineError, match="at most 1000 characters"):
        SDInpaintEngine.clean_params({"prompt": "x" * 1001})


def test_a_missing_folder_or_an_uncached_model_id_is_refused_clearly(tmp_path, offline):
    with pytest.raises(EngineError, match="needs a checkpoint"):
        SDInpaintEngine()
    with pytest.raises(EngineError, match="cannot load a diffusers inpainting pipeline"):
        SDInpaintEngine(checkpoint=str(tmp_path / "nothing"))
    with pytest.raises(EngineError, match="cannot load a diffusers inpainting pipeline"):
        SDInpaintEngine(checkpoint="heritage-test/no-such-model")


def test_bad_options_are_refused(tiny_pipeline):
    with pytest.raises(EngineError, match="size must be a multiple of 8 from 64"):
        SDInpaintEngine(checkpoint=str(tiny_pipeline), options={"size": 60})
    with pytest.raises(EngineError, match="dtype"):
        SDInpaintEngine(checkpoint=str(tiny_pipeline), options={"dtype": "int8"})
    with pytest.raises(EngineError, match="prompt_template"):
        SDInpaintEngine(checkpoint=str(tiny_pipeline), options={"prompt_template": "{colour}"})


@pytest.fixture
def small_size(settings):
    engines = {name: dict(entry) for name, entry in settings.RESTORATION_ENGINES.items()}
    engines["sd_inpaint"] = {**engines["sd_inpaint"], "OPTIONS": {"size": SIZE}}
    settings.RESTORATION_ENGINES = engines


def test_a_registered_folder_restores_a_job_end_to_end(
    tiny_pipeline, curator, simulated, media, small_size, capsys
):
    from heritage import services as heritage_services
    from restoration import services
    from restoration.engines import registry
    from restoration.models import ModelCheckpoint, RestorationJob

    assert registry.registry().describe("sd_inpaint")["needs_weights"] is True
    call_command("register_checkpoint", str(tiny_pipeline), "--engine", "sd_inpaint")
    checkpoint = ModelCheckpoint.objects.get(engine="sd_inpaint")
    assert checkpoint.is_folder and "model_index.json" in {f["path"] for f in checkpoint.files}

    job = services.job_create(
        requested_by=curator,
        annotation=simulated,
        engine="sd_inpaint",
        params={"steps": "2", "damage": "the lower border flaked off"},
        seed=4,
        queue=False,
    )
    assert job.checkpoint == checkpoint
    services.job_run(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == RestorationJob.Status.SUCCEEDED, job.error
    assert job.result.checkpoint_sha256 == checkpoint.sha256
    info = job.result.info
    assert info["pipeline"] == "StableDiffusionInpaintPipeline" and info["steps"] == 2
    assert info["prompt"].endswith("restore where the lower border flaked off")
    with job.result.image.open("rb") as handle:
        from PIL import Image

        restored = np.asarray(Image.open(handle).convert("RGB"))
    mask = heritage_services.annotation_read_mask(annotation=simulated) > 127
    original = heritage_services.motif_read_rgb(motif=simulated.motif)
    assert np.array_equal(restored[~mask], original[~mask])


def test_the_restore_command_runs_a_supplied_folder(tiny_pipeline, tmp_path, small_size, capsys):
    from PIL import Image

    image, mask = _damaged()
    Image.fromarray(image).save(tmp_path / "mural.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")

    call_command(
        "restore",
        str(tmp_path / "mural.png"),
        "--mask",
        str(tmp_path / "mask.png"),
        "--engine",
        "sd_inpaint",
        "--checkpoint",
        str(tiny_pipeline),
        "--out",
        str(tmp_path / "restored.png"),
        "--steps",
        "2",
        "--param",
        "prompt=blue sky",
        "--device",
        "cpu",
    )

    restored = np.asarray(Image.open(tmp_path / "restored.png").convert("RGB"))
    assert np.array_equal(restored[~mask], image[~mask])
    out = capsys.readouterr().out
    assert '"prompt": "blue sky"' in out and '"pipeline": "StableDiffusionInpaintPipeline"' in out
