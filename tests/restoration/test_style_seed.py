"""Shipped style weights are registered by seed_models; the demo gallery stylizes the demo
photograph with them (and stylizes nothing without them)."""

import io
import json
import shutil

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from heritage.models import Motif
from restoration.management.commands import seed_models
from restoration.models import ModelCheckpoint, Restoration, Task

pytest.importorskip("torch")
pytest.importorskip("restoration.engines.cyclegan")


@pytest.fixture(scope="module")
def tiny_cyclegan(tmp_path_factory):
    """A CycleGAN trained for two steps on generated crops, as a shipped folder would hold it."""
    from restoration.style.training import StyleTrainOptions, train_style

    root = tmp_path_factory.mktemp("style")
    rng = np.random.default_rng(0)
    for domain, tint in (("a", (120, 160, 90)), ("b", (40, 120, 110))):
        folder = root / domain
        folder.mkdir()
        for i in range(2):
            pixels = np.clip(rng.normal(tint, 30, (40, 48, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{domain}{i}.png")
    out = root / "trained"
    train_style(
        StyleTrainOptions(
            variant="cyclegan",
            domain_a=[root / "a"],
            domain_b=[root / "b"],
            out=out,
            size=32,
            load_size=36,
            steps=2,
            sample_every=2,
            save_every=2,
            ngf=8,
            n_blocks=1,
        ),
        log=lambda line: None,
    )
    shipped = root / "models" / "cyclegan-tiny"
    shipped.mkdir(parents=True)
    for name in ("model.safetensors", "config.json"):
        shutil.copy2(out / name, shipped / name)
    (shipped / "model.md").write_text("# cyclegan-tiny\n\nA test model.\n", encoding="utf-8")
    return shipped


def test_seed_models_registers_a_shipped_style_checkpoint_once_as_the_default(tiny_cyclegan, db):
    assert seed_models.shipped_folders(tiny_cyclegan.parent) == [tiny_cyclegan]
    checkpoint, created = seed_models.register_shipped(tiny_cyclegan)
    again, created_again = seed_models.register_shipped(tiny_cyclegan)
    assert created and not created_again and again == checkpoint
    assert checkpoint.engine == "cyclegan" and checkpoint.is_default
    assert checkpoint.name == "cyclegan-tiny" and checkpoint.steps == 2
    assert checkpoint.config == {
        "variant": "cyclegan",
        "ngf": 8,
        "n_blocks": 1,
        "antialias": False,
        "size": 32,
        "load_size": 36,
    }
    data = checkpoint.training_data
    assert [entry["file"] for entry in data["domain_a"]] == ["a0.png", "a1.png"]
    assert len(data["domain_b"]) == 2 and data["options"]["steps"] == 2
    config = json.loads((tiny_cyclegan / "config.json").read_text())
    assert checkpoint.losses["last"] == config["losses"] and len(config["losses"]) >= 4


def _seed(*commands):
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    for name, *args in commands:
        call_command(name, *args, **quiet)
    return quiet["stdout"].getvalue()


def test_the_demo_gallery_stylizes_the_demo_photograph_with_the_registered_weights(
    tiny_cyclegan, settings, media, db, monkeypatch
):
    monkeypatch.delenv("HERITAGE_DEMO_PASSWORD", raising=False)
    settings.DEBUG = True
    checkpoint, _ = seed_models.register_shipped(tiny_cyclegan)
    output = _seed(("seed_demo", "--motifs", "1"), ("seed_gallery",))

    photo = Motif.objects.get(kind=Motif.Kind.PHOTOGRAPH)
    stylized = Restoration.objects.get(task=Task.STYLIZE)
    assert stylized.job.motif == photo and stylized.engine == "cyclegan"
    assert stylized.checkpoint_sha256 == checkpoint.sha256
    with stylized.image.open("rb") as handle:
        assert Image.open(handle).size == (photo.width, photo.height)
    assert "1 style transfers run" in output

    again = _seed(("seed_gallery",))
    assert Restoration.objects.filter(task=Task.STYLIZE).count() == 1
    assert "0 style transfers run" in again


def test_the_demo_gallery_stylizes_nothing_without_style_weights(settings, media, db, monkeypatch):
    monkeypatch.delenv("HERITAGE_DEMO_PASSWORD", raising=False)
    settings.DEBUG = True
    output = _seed(("seed_demo", "--motifs", "1"), ("seed_gallery",))
    assert not ModelCheckpoint.objects.filter(engine="cyclegan").exists()
    assert not Restoration.objects.filter(task=Task.STYLIZE).exists()
    assert "0 style transfers run" in output
