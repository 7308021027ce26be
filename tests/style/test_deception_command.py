"""train_style_classifier and deception_rate: tiny end-to-end runs and clear errors."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from PIL import Image

from restoration.engines.base import Restored, StyleEngine


class InvertStyleEngine(StyleEngine):
    """A stand-in style engine for these tests only: the photographic negative."""

    name = "cyclegan"
    version = "test"
    needs_weights = True

    def stylize(self, image, *, seed, params, on_progress):
        on_progress(1, 1)
        return Restored(255 - np.asarray(image), {"stand_in": True})


def _write(folder: Path, make, count: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(make(np.random.default_rng(start + i))).save(folder / f"im{i:02d}.png")
    return folder


def _stripes(rng):
    y, x = np.mgrid[:64, :64]
    wave = (np.sin((x + y + rng.integers(0, 9)) * 2 * np.pi / 8) > 0).astype(np.uint8)
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 1], image[..., 2] = 90 + 120 * wave, 150
    return image


def _noise(rng):
    return np.clip(rng.normal((150, 120, 90), 40, (64, 64, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("style_data")
    style = _write(root / "style", _stripes, 5)
    photos = _write(root / "photos", _noise, 5, 100)
    other = _write(root / "other", lambda r: _noise(r) // 3, 5, 200)
    # The GANs' held-out photos: copies of three of the photos (same content, same hash).
    held = _write(root / "testA", _noise, 3, 100)
    out = root / "clf"
    call_command(
        "train_style_classifier",
        "--style", str(style),
        "--photos", str(photos),
        "--other", str(other),
        "--held-out-photos", str(held),
        "--out", str(out),
        "--steps", "3", "--batch", "4", "--size", "32", "--width", "4",
        stdout=open("/dev/null", "w"),
        stderr=open("/dev/null", "w"),
    )  # fmt: skip
    return root, out


def test_train_style_classifier_writes_weights_and_held_out_accuracy(trained):
    _, out = trained
    meta = json.loads((out / "classifier.json").read_text())
    assert (out / "classifier.safetensors").is_file()
    # The GANs' held-out photos are tested on, never trained on.
    assert meta["held_out"]["subsets"]["photo (GAN held-out)"]["n"] == 3
    root = out.parent
    held = {
        hashlib.sha256((root / "testA" / f"im{i:02d}.png").read_bytes()).hexdigest()
        for i in range(3)
    }
    trained_hashes = {row["sha256"] for row in meta["training_data"]}
    assert len(held) == 3 and not held & trained_hashes
    assert any(row["group"] == "photo" for row in meta["training_data"])
    assert 0 <= meta["held_out"]["accuracy"] <= 1


def test_deception_rate_of_the_reinhard_baseline_prints_rate_interval_and_accuracy(trained, capsys):
    root, out = trained
    call_command(
        "deception_rate", "--reinhard", "--images", str(root / "testA"),
        "--classifier", str(out), "--side", "64",
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "Reinhard" in printed and "3 images" in printed
    assert "Deception rate: " in printed and "95% Wilson interval" in printed
    assert "Classifier accuracy on held-out real images: " in printed


def test_deception_rate_runs_a_style_engine_from_the_registry(trained, settings, tmp_path, capsys):
    root, out = trained
    settings.RESTORATION_ENGINES = {
        "cyclegan": {"BACKEND": "tests.style.test_deception_command.InvertStyleEngine"}
    }
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"engine": "cyclegan"}))
    saved = tmp_path / "saved"
    call_command(
        "deception_rate", "--checkpoint", str(checkpoint), "--images", str(root / "testA"),
        "--classifier", str(out), "--side", "64", "--save", str(saved),
    )  # fmt: skip
    assert "cyclegan" in capsys.readouterr().out
    source = np.asarray(Image.open(root / "testA" / "im00.png"))
    assert np.array_equal(np.asarray(Image.open(saved / "im00.png")), 255 - source)


def test_deception_rate_errors_are_clear(trained, tmp_path):
    root, out = trained
    images = str(root / "testA")
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("deception_rate", "--reinhard", "--images", str(tmp_path / "none"))
    with pytest.raises(CommandError, match="not a style classifier folder"):
        call_command(
            "deception_rate", "--reinhard", "--images", images, "--classifier", str(tmp_path)
        )
    with pytest.raises(CommandError, match="does not exist"):
        call_command("deception_rate", "--checkpoint", str(tmp_path / "nope"), "--images", images)
    with pytest.raises(CommandError, match="cannot tell the engine"):
        call_command("deception_rate", "--checkpoint", str(tmp_path), "--images", images)
    with pytest.raises(CommandError, match="holds no image"):
        call_command(
            "deception_rate", "--reinhard", "--images", str(tmp_path), "--classifier", str(out)
        )


def test_train_style_classifier_refuses_missing_folders(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "train_style_classifier",
            "--style", str(tmp_path / "a"),
            "--photos", str(tmp_path),
            "--other", str(tmp_path),
            "--out", str(tmp_path / "out"),
        )  # fmt: skip
    assert not (tmp_path / "out").exists()
