"""`manage.py stylize`: a photograph through cyclegan or cut from the command line, no database."""

import io
import json

import numpy as np
import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from restoration.style.networks import ResnetGenerator


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def checkpoints(tmp_path):
    """A tiny original-layout .pth per engine."""
    paths = {}
    for name, antialias in (("cyclegan", False), ("cut", True)):
        with torch.random.fork_rng():
            torch.manual_seed(2)
            model = ResnetGenerator(ngf=4, n_blocks=1, antialias=antialias)
        paths[name] = tmp_path / f"{name}_net_G.pth"
        torch.save(model.state_dict(), paths[name])
    return paths


@pytest.fixture
def photo(tmp_path):
    rows, cols = np.mgrid[0:70, 0:90]
    image = np.stack([rows * 3, cols * 2, 255 - rows - cols], axis=-1).astype(np.uint8)
    path = tmp_path / "landscape.jpg"
    Image.fromarray(image).save(path, quality=95)
    return path


def stylize(image, *args) -> str:
    stdout = io.StringIO()
    call_command("stylize", str(image), *[str(arg) for arg in args], stdout=stdout)
    return stdout.getvalue()


@pytest.mark.parametrize("engine", ["cyclegan", "cut"])
def test_stylize_writes_the_picture_at_the_inputs_size(tmp_path, photo, checkpoints, engine):
    out = tmp_path / "styled.png"
    printed = stylize(
        photo,
        "--engine",
        engine,
        "--checkpoint",
        checkpoints[engine],
        "--out",
        out,
        "--tile",
        64,
        "--device",
        "cpu",
    )
    with Image.open(out) as written:
        assert written.size == (90, 70) and written.mode == "RGB"
        assert np.asarray(written).std() > 5
    assert f"Wrote {out} (90x70, {engine} 1, 4 tile(s), cpu)" in printed
    details = json.loads(printed.split("Engine details: ", 1)[1])
    assert details["tiles"] == 4 and details["ngf"] == 4
    assert details["checkpoint"] == str(checkpoints[engine])


def test_the_same_command_writes_the_same_pixels(tmp_path, photo, checkpoints):
    outputs = []
    for seed in (0, 9):
        out = tmp_path / f"styled-{seed}.png"
        stylize(
            photo,
            "--engine",
            "cyclegan",
            "--checkpoint",
            checkpoints["cyclegan"],
            "--out",
            out,
            "--seed",
            seed,
            "--long-side",
            120,
        )
        with Image.open(out) as written:
            outputs.append(np.asarray(written))
    assert outputs[0].shape == (70, 90, 3)
    assert np.array_equal(*outputs)


def test_errors_are_clear_and_write_nothing(tmp_path, photo, checkpoints):
    out = tmp_path / "styled.png"
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    cut = checkpoints["cut"]
    cases = [
        (
            (tmp_path / "missing.jpg", "--engine", "cut", "--checkpoint", cut, "--out", out),
            "Cannot read",
        ),
        ((text, "--engine", "cut", "--checkpoint", cut, "--out", out), "notes.txt"),
        (
            (photo, "--engine", "telea", "--checkpoint", cut, "--out", out),
            "Engine 'telea' restores damage; it does not transfer a style "
            r"\(style engines: cut, cyclegan\)",
        ),
        ((photo, "--engine", "nope", "--checkpoint", cut, "--out", out), "Unknown engine 'nope'"),
        (
            (photo, "--engine", "cyclegan", "--checkpoint", cut, "--out", out),
            "holds a CUT generator .* use the cut engine",
        ),
        (
            (photo, "--engine", "cut", "--checkpoint", tmp_path / "none.pth", "--out", out),
            "--checkpoint: .*none.pth does not exist",
        ),
        (
            (photo, "--engine", "cut", "--checkpoint", text, "--out", out),
            "is not a PyTorch state dict",
        ),
        (
            (photo, "--engine", "cut", "--checkpoint", cut, "--out", tmp_path / "x" / "o.png"),
            "The folder of .* does not exist",
        ),
        (
            (photo, "--engine", "cut", "--checkpoint", cut, "--out", tmp_path / "o.gif"),
            "--out must end in one of",
        ),
        (
            (photo, "--engine", "cut", "--checkpoint", cut, "--out", out, "--tile", 30),
            "Parameter 'tile' must be a multiple of 4 from 64 to 4096",
        ),
        (
            (photo, "--engine", "cut", "--checkpoint", cut, "--out", out, "--device", "gpu"),
            "HERITAGE_DEVICE must be auto, cpu or cuda",
        ),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            stylize(*args)
    assert not out.exists()
