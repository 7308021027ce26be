"""prior_diffusion on a tiny random Stable Diffusion inpainting backbone with a trained adapter."""

import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from restoration.engines.prior_diffusion import PriorDiffusionEngine  # noqa: E402
from restoration.learned import checkpoint, data, sd_backbone  # noqa: E402
from restoration.learned.sd_adapter import AdapterConfig, PriorAdapter  # noqa: E402
from tests.restoration.test_sd_inpaint import tiny_pipeline  # noqa: E402, F401 (fixture)


@pytest.fixture(scope="module")
def adapter_folder(tiny_pipeline, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(2):
        blocks = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
        Image.fromarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))).save(folder / f"m{i}.png")
    out = tmp_path_factory.mktemp("adapter") / "sd-adapter"
    losses = []
    sd_backbone.train_adapter(
        sd_model=str(tiny_pipeline),
        sources=data.load_folder(folder),
        out=out,
        size=32,
        steps=3,
        batch=1,
        lr=1e-3,
        seed=0,
        device="cpu",
        width=8,
        on_step=lambda step, total, loss: losses.append(loss),
    )
    assert len(losses) == 3 and all(np.isfinite(losses))
    return out


def test_an_untrained_adapter_leaves_the_backbone_unchanged(tiny_pipeline):  # noqa: F811
    pipe = sd_backbone.load_pipeline(str(tiny_pipeline), device="cpu", dtype=torch.float32)
    config = AdapterConfig.for_unet(pipe.unet.config, width=8)
    adapter = PriorAdapter(config)
    down, mid = adapter(
        torch.rand(1, 2, 64, 64),
        torch.rand(1, 8, 64, 64),
        torch.rand(1, 1, 64, 64),
        torch.tensor([500]),
    )
    sample = torch.randn(1, 9, 8, 8)
    embeds = torch.randn(1, 4, pipe.unet.config.cross_attention_dim)
    plain = pipe.unet(sample, 500, encoder_hidden_states=embeds).sample
    injected = pipe.unet(
        sample,
        500,
        encoder_hidden_states=embeds,
        down_block_additional_residuals=down,
        mid_block_additional_residual=mid,
    ).sample
    assert len(down) == len(config.residual_shapes())
    assert torch.equal(plain, injected)


def test_adapter_checkpoint_restores_with_the_sd_backbone(adapter_folder):
    config = json.loads((adapter_folder / checkpoint.CONFIG).read_text())
    assert config["backbone"] == "sd" and config["training"]["steps"] == 3
    engine = PriorDiffusionEngine(checkpoint=str(adapter_folder), options={"window": 32})
    rng = np.random.default_rng(2)
    image = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
    mask = np.zeros((40, 48), bool)
    mask[8:20, 10:30] = True
    events = []

    def on_progress(step, total, *, preview=None):
        events.append((step, total, None if preview is None else preview().shape))

    result = engine.restore(
        image, mask, seed=1, params={"steps": 2, "scheduler": "ddim"}, on_progress=on_progress
    )
    again = engine.restore(
        image,
        mask,
        seed=1,
        params={"steps": 2, "scheduler": "ddim"},
        on_progress=lambda *a, **k: None,
    )
    assert np.array_equal(result.image[~mask], image[~mask])
    assert np.array_equal(result.image, again.image)
    assert result.info["backbone"] == "sd" and result.info["sd_model"] == config["sd_model"]
    assert [e[0] for e in events][-1] == events[-1][1]
    assert all(e[2] == image.shape for e in events if e[2] is not None)


def test_train_engine_trains_the_adapter_from_the_command_line(tiny_pipeline, tmp_path):  # noqa: F811
    from django.core.management import call_command

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((48, 48, 3), 120, np.uint8)).save(images / "a.png")
    out = tmp_path / "adapter"
    call_command(
        "train_engine",
        "prior_diffusion",
        "--data",
        str(images),
        "--out",
        str(out),
        "--sd-model",
        str(tiny_pipeline),
        "--size",
        "32",
        "--steps",
        "1",
        "--batch",
        "1",
    )
    assert json.loads((out / checkpoint.CONFIG).read_text())["backbone"] == "sd"
