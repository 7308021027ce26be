"""Tests for the simulate_damage management command."""

import io

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from heritage import masks


def _image(path, size=(120, 80)):
    Image.new("RGB", size, (200, 150, 100)).save(path)
    return path


@pytest.mark.parametrize("protocol", sorted(masks.PROTOCOLS))
def test_simulate_damage_writes_the_protocol_mask_of_the_image_size(tmp_path, protocol):
    image = _image(tmp_path / "motif.jpg")
    out = tmp_path / "mask.png"
    stdout = io.StringIO()
    call_command(
        "simulate_damage", str(image), protocol=protocol, seed=4, out=str(out), stdout=stdout
    )
    mask = masks.read_mask(out.read_bytes(), width=120, height=80)
    assert np.array_equal(mask, masks.simulate(protocol, width=120, height=80, seed=4))
    assert f"coverage {masks.coverage(mask):.4f}" in stdout.getvalue()


def test_simulate_damage_refuses_a_file_that_is_not_an_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(CommandError, match="not a readable image"):
        call_command(
            "simulate_damage", str(text), protocol="dust", seed=0, out=str(tmp_path / "m.png")
        )


def test_simulate_damage_refuses_a_missing_image(tmp_path):
    with pytest.raises(CommandError, match="No such image"):
        call_command(
            "simulate_damage",
            str(tmp_path / "absent.png"),
            protocol="dust",
            seed=0,
            out=str(tmp_path / "m.png"),
        )


def test_simulate_damage_never_overwrites_the_image(tmp_path):
    image = _image(tmp_path / "motif.png")
    before = image.read_bytes()
    with pytest.raises(CommandError, match="must not be the image"):
        call_command("simulate_damage", str(image), protocol="blocks", seed=0, out=str(image))
    assert image.read_bytes() == before


def test_simulate_damage_refuses_an_unknown_protocol(tmp_path):
    image = _image(tmp_path / "motif.png")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command(
            "simulate_damage", str(image), "--protocol=mold", "--seed=0", f"--out={tmp_path}/m.png"
        )
