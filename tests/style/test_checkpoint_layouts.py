"""Checkpoints of the original projects load into the style engines and translate as they would.

The state dicts here are written out from the originals' ResnetGenerator structure
(junyanz/pytorch-CycleGAN-and-pix2pix and taesungp/contrastive-unpaired-translation,
models/networks.py, norm=instance, default options), and `reference` runs them with plain
torch functions in that structure, independently of restoration.style.networks: a key,
shape or layer of ours that differs from the originals makes these tests fail.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch.nn import functional as F

from restoration import pipeline
from restoration.engines.base import EngineError
from restoration.engines.cut import CUTEngine
from restoration.engines.cyclegan import CycleGANEngine
from restoration.style.checkpoint import CheckpointError, load_generator

NGF, BLOCKS = 4, 1
ENGINES = {"cyclegan": CycleGANEngine, "cut": CUTEngine}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def layers(ngf: int, n_blocks: int, antialias: bool, dropout: bool = False) -> list[tuple]:
    """The originals' `model` Sequential, one tuple per index: (kind, in, out)."""
    spec = [("pad3",), ("conv7", 3, ngf), ("norm", ngf), ("relu",)]
    for i in range(2):
        c = ngf * 2**i
        if antialias:  # CUT: conv (stride 1), norm, relu, Downsample (blur 3x3, stride 2)
            spec += [("conv3", c, 2 * c), ("norm", 2 * c), ("relu",), ("down", 2 * c)]
        else:  # CycleGAN: strided conv, norm, relu
            spec += [("conv3s2", c, 2 * c), ("norm", 2 * c), ("relu",)]
    spec += [("block", 4 * ngf, dropout)] * n_blocks
    for i in range(2):
        c = ngf * 4 // 2**i
        if antialias:  # CUT: Upsample (zero-insert, blur 4x4), conv, norm, relu
            spec += [("up", c), ("conv3", c, c // 2), ("norm", c // 2), ("relu",)]
        else:  # CycleGAN: ConvTranspose2d(3, stride 2, padding 1, output_padding 1)
            spec += [("convT", c, c // 2), ("norm", c // 2), ("relu",)]
    return spec + [("pad3",), ("conv7", ngf, 3), ("tanh",)]


def blur(taps: list[float], channels: int, gain: float = 1.0) -> torch.Tensor:
    row = torch.tensor(taps)
    filt = row[:, None] * row[None, :]
    return (filt / filt.sum() * gain)[None, None].repeat(channels, 1, 1, 1)


def original_state(
    antialias: bool,
    *,
    ngf: int = NGF,
    n_blocks: int = BLOCKS,
    seed: int = 0,
    dropout: bool = False,
    norm_statistics: bool = False,
) -> dict[str, torch.Tensor]:
    """A generator state dict with the originals' keys, random weights.

    dropout: blocks built with use_dropout (Dropout at conv_block.4, second conv at .6).
    norm_statistics: InstanceNorm entries saved by PyTorch before 0.4.
    """
    gen = torch.Generator().manual_seed(seed)

    def conv(key: str, cin: int, cout: int, k: int, *, transposed=False, gain=0.4):
        shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        state[f"{key}.weight"] = torch.randn(shape, generator=gen) * gain / (cin * k * k) ** 0.5
        state[f"{key}.bias"] = torch.randn(cout, generator=gen) * 0.1

    def norm(key: str, channels: int):
        if norm_statistics:
            state[f"{key}.running_mean"] = torch.zeros(channels)
            state[f"{key}.running_var"] = torch.ones(channels)
            state[f"{key}.num_batches_tracked"] = torch.tensor(0)

    state: dict[str, torch.Tensor] = {}
    for index, (kind, *args) in enumerate(layers(ngf, n_blocks, antialias, dropout)):
        key = f"model.{index}"
        if kind == "conv7":
            conv(key, args[0], args[1], 7, gain=4.0 if args[1] == 3 else 1.0)
        elif kind in ("conv3", "conv3s2"):
            conv(key, args[0], args[1], 3)
        elif kind == "convT":
            conv(key, args[0], args[1], 3, transposed=True)
        elif kind == "norm":
            norm(key, args[0])
        elif kind == "down":
            state[f"{key}.filt"] = blur([1.0, 2.0, 1.0], args[0])
        elif kind == "up":
            state[f"{key}.filt"] = blur([1.0, 3.0, 3.0, 1.0], args[0], gain=4.0)
        elif kind == "block":
            dim, second = args[0], 6 if dropout else 5
            conv(f"{key}.conv_block.1", dim, dim, 3)
            norm(f"{key}.conv_block.2", dim)
            conv(f"{key}.conv_block.{second}", dim, dim, 3)
            norm(f"{key}.conv_block.{second + 1}", dim)
    return state


def reference(state: dict, image: np.ndarray, antialias: bool) -> np.ndarray:
    """The originals' forward pass of `state` on an (H, W, 3) uint8 image, H and W % 4 == 0."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    with torch.no_grad():
        for index, (kind, *_) in enumerate(layers(NGF, BLOCKS, antialias)):
            key = f"model.{index}"
            if kind == "pad3":
                x = F.pad(x, (3, 3, 3, 3), mode="reflect")
            elif kind in ("conv7", "conv3"):
                padding = 1 if kind == "conv3" else 0
                x = F.conv2d(x, state[f"{key}.weight"], state[f"{key}.bias"], padding=padding)
            elif kind == "conv3s2":
                x = F.conv2d(x, state[f"{key}.weight"], state[f"{key}.bias"], 2, 1)
            elif kind == "convT":
                x = F.conv_transpose2d(
                    x, state[f"{key}.weight"], state[f"{key}.bias"], 2, 1, output_padding=1
                )
            elif kind == "norm":
                x = F.instance_norm(x, eps=1e-5)
            elif kind == "relu":
                x = F.relu(x)
            elif kind == "tanh":
                x = torch.tanh(x)
            elif kind == "down":
                padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
                x = F.conv2d(padded, state[f"{key}.filt"], stride=2, groups=x.shape[1])
            elif kind == "up":
                padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
                x = F.conv_transpose2d(
                    padded, state[f"{key}.filt"], stride=2, padding=2, groups=x.shape[1]
                )[:, :, 1:, 1:][:, :, :-1, :-1]
            elif kind == "block":
                y = F.pad(x, (1, 1, 1, 1), mode="reflect")
                y = F.conv2d(
                    y, state[f"{key}.conv_block.1.weight"], state[f"{key}.conv_block.1.bias"]
                )
                y = F.relu(F.instance_norm(y, eps=1e-5))
                y = F.pad(y, (1, 1, 1, 1), mode="reflect")
                y = F.conv2d(
                    y, state[f"{key}.conv_block.5.weight"], state[f"{key}.conv_block.5.bias"]
                )
                x = x + F.instance_norm(y, eps=1e-5)
    out = ((x[0] + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return out.permute(1, 2, 0).numpy()


@pytest.fixture
def photo():
    """A 40 x 56 picture (multiples of 4, so the reference needs no padding)."""
    rows, cols = np.mgrid[0:40, 0:56]
    rng = np.random.default_rng(3)
    base = np.stack([rows * 5, cols * 4, 200 - rows * 2 - cols], axis=-1) + rng.integers(
        0, 50, (40, 56, 3)
    )
    return np.clip(base, 0, 255).astype(np.uint8)


def stylize(engine, image, **params) -> np.ndarray:
    return pipeline.stylize(engine, image, seed=0, params=params).image


@pytest.mark.parametrize(
    "engine, antialias, file_name",
    [("cyclegan", False, "latest_net_G_A.pth"), ("cut", True, "latest_net_G.pth")],
)
def test_an_original_pth_translates_as_the_original_network_would(
    tmp_path, photo, engine, antialias, file_name
):
    state = original_state(antialias)
    path = tmp_path / file_name
    torch.save(state, path)
    expected = reference(state, photo, antialias)
    assert expected.std() > 10  # the network does something to compare

    styled = ENGINES[engine](checkpoint=str(path))
    result = pipeline.stylize(styled, photo, seed=0, params={})

    assert result.image.shape == photo.shape
    assert np.abs(result.image.astype(int) - expected).max() <= 1
    assert result.info["ngf"] == NGF and result.info["n_blocks"] == BLOCKS
    assert result.info["antialias"] is antialias
    assert result.info["checkpoint_format"] == "pth"
    assert result.info["tiles"] == 1 and result.info["seed_used"] is False


@pytest.mark.parametrize("engine, antialias", [("cyclegan", False), ("cut", True)])
def test_the_originals_checkpoint_folder_is_searched_for_the_generator(
    tmp_path, photo, engine, antialias
):
    state = original_state(antialias)
    torch.save(
        state, tmp_path / ("latest_net_G_A.pth" if engine == "cyclegan" else "latest_net_G.pth")
    )
    torch.save({"model.0.weight": torch.zeros(8, 3, 4, 4)}, tmp_path / "latest_net_D_A.pth")

    output = stylize(ENGINES[engine](checkpoint=str(tmp_path)), photo)

    assert np.abs(output.astype(int) - reference(state, photo, antialias)).max() <= 1


@pytest.mark.parametrize("antialias", [False, True])
def test_saved_variants_of_the_originals_load_as_the_same_network(tmp_path, photo, antialias):
    """DataParallel's prefix, pre-0.4 InstanceNorm statistics and dropout-trained blocks."""
    plain = original_state(antialias)
    expected = reference(plain, photo, antialias)
    variants = {
        "prefixed": {f"module.{key}": value for key, value in plain.items()},
        "statistics": original_state(antialias, norm_statistics=True),
        "dropout": original_state(antialias, dropout=True, norm_statistics=True),
    }
    assert any(key.endswith(".conv_block.6.weight") for key in variants["dropout"])
    engine = CUTEngine if antialias else CycleGANEngine
    for name, state in variants.items():
        path = tmp_path / f"{name}.pth"
        torch.save(state, path)
        output = stylize(engine(checkpoint=str(path)), photo)
        assert np.abs(output.astype(int) - expected).max() <= 1, name
    _, config = load_generator(tmp_path / "dropout.pth")
    assert config["source"]["renamed"] == ["instance-norm statistics", "dropout layout"]


def test_a_lone_safetensors_file_and_a_training_folder_load(tmp_path, photo):
    state = original_state(True)
    expected = reference(state, photo, True)
    save_file({key: value.half() for key, value in state.items()}, tmp_path / "g.safetensors")
    lone = stylize(CUTEngine(checkpoint=str(tmp_path / "g.safetensors")), photo)
    assert np.abs(lone.astype(int) - expected).max() <= 2  # float16 weights

    folder = tmp_path / "run"
    folder.mkdir()
    save_file(state, folder / "model.safetensors")
    config = {"engine": "cut", "variant": "fastcut", "ngf": NGF, "n_blocks": BLOCKS, "steps": 7}
    (folder / "config.json").write_text(json.dumps(config))
    result = pipeline.stylize(CUTEngine(checkpoint=str(folder)), photo, seed=0, params={})
    assert np.abs(result.image.astype(int) - expected).max() <= 1
    assert result.info["checkpoint_format"] == "folder" and result.info["trained_steps"] == 7
    model, loaded = load_generator(folder / "model.safetensors")
    assert loaded["variant"] == "fastcut" and loaded["source"]["format"] == "folder"


def test_each_engine_refuses_the_others_generator_and_says_which_to_use(tmp_path):
    torch.save(original_state(True), tmp_path / "cut.pth")
    torch.save(original_state(False), tmp_path / "cyclegan.pth")

    with pytest.raises(EngineError, match="holds a CUT generator .* use the cut engine"):
        CycleGANEngine(checkpoint=str(tmp_path / "cut.pth"))
    with pytest.raises(EngineError, match="CycleGAN-layout generator .* use the cyclegan engine"):
        CUTEngine(checkpoint=str(tmp_path / "cyclegan.pth"))


def test_a_folders_config_must_agree_with_its_weights(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    save_file(original_state(False), folder / "model.safetensors")
    config = folder / "config.json"

    config.write_text(json.dumps({"engine": "cut"}))
    with pytest.raises(
        CheckpointError, match="says engine 'cut', but the weights have the cyclegan"
    ):
        load_generator(folder)
    config.write_text(json.dumps({"engine": "cyclegan", "ngf": 64}))
    with pytest.raises(CheckpointError, match="says ngf = 64, but the weights .* have ngf = 4"):
        load_generator(folder)
    config.write_text(json.dumps({"engine": "telea"}))
    with pytest.raises(CheckpointError, match="names engine 'telea', not cyclegan or cut"):
        load_generator(folder)
    config.write_text("{not json")
    with pytest.raises(CheckpointError, match="is not readable JSON"):
        load_generator(folder)
    (folder / "model.safetensors").unlink()
    config.write_text(json.dumps({"engine": "cyclegan"}))
    with pytest.raises(CheckpointError, match="has a config.json but no model.safetensors"):
        load_generator(folder)


def _bad_files(tmp_path):
    generator = original_state(False)
    batch_norm = {key: value for key, value in generator.items() if key != "model.1.bias"}
    batch_norm["model.2.weight"] = torch.ones(NGF)
    grey = dict(generator, **{"model.1.weight": torch.zeros(NGF, 1, 7, 7)})
    wider_output = dict(generator)
    last = max(int(key.split(".")[1]) for key in generator)
    wider_output[f"model.{last}.weight"] = torch.zeros(1, NGF, 7, 7)
    wider_output[f"model.{last}.bias"] = torch.zeros(1)
    extra = dict(generator, **{"model.3.weight": torch.zeros(3)})
    truncated = dict(generator)
    truncated.pop("model.4.weight")
    return {
        "a PatchGAN discriminator": {"model.0.weight": torch.zeros(8, 3, 4, 4)},
        "CUT's patch-sampling MLP": {"mlp_0.0.weight": torch.zeros(256, 3)},
        "a U-Net generator": {"model.model.0.weight": torch.zeros(8, 3, 4, 4)},
        "batch .*normalisation": batch_norm,
        "for 1-channel input": grey,
        "holds several parts \\(netD_A, netG_A\\)": {"netG_A": generator, "netD_A": {}},
        "does not fit a cyclegan generator": wider_output,
        "entries a cyclegan generator does not have, e.g. 'model.3.weight'": extra,
        "lacks 1 keys, e.g. 'model.4.weight'": truncated,
        "not a ResNet generator": {"weight": torch.zeros(3)},
        "holds a list, not a state dict": [torch.zeros(1)],
    }


def test_files_that_are_not_a_generator_are_refused_by_name(tmp_path):
    for message, content in _bad_files(tmp_path).items():
        path = tmp_path / "thing.pth"
        torch.save(content, path)
        with pytest.raises(CheckpointError, match=message):
            load_generator(path, engine="cyclegan")


def test_paths_and_files_that_are_no_checkpoint_are_refused(tmp_path):
    picture = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(picture)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((20).to_bytes(8, "little") + b"{nope" + b" " * 40)
    folder = tmp_path / "nothing"
    folder.mkdir()
    cases = {
        tmp_path / "missing.pth": "does not exist",
        picture: "is not a PyTorch state dict or safetensors file",
        empty: "is not a PyTorch state dict or safetensors file",
        broken: "is not a readable safetensors file",
        folder: "is not a style checkpoint: it has neither model.safetensors",
    }
    for path, message in cases.items():
        with pytest.raises(CheckpointError, match=message):
            load_generator(path)
    with pytest.raises(EngineError, match="needs a checkpoint"):
        CycleGANEngine(checkpoint=None)
    with pytest.raises(EngineError, match="does not exist"):
        CUTEngine(checkpoint=str(tmp_path / "missing"))


def test_a_pickle_that_runs_code_is_not_loaded(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pth"
    torch.save({"model.1.weight": Payload()}, path)
    with pytest.raises(CheckpointError, match="is not a PyTorch state dict"):
        load_generator(path)


def test_a_pth_in_the_legacy_pickle_format_loads(tmp_path, photo):
    """Files written by PyTorch before 1.6 (no zip container), as old published models are."""
    state = original_state(False, norm_statistics=True)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert not path.read_bytes().startswith(b"PK")

    output = stylize(CycleGANEngine(checkpoint=str(path)), photo)

    plain = {key: value for key, value in state.items() if "running" not in key}
    plain = {key: value for key, value in plain.items() if "batches" not in key}
    assert np.abs(output.astype(int) - reference(plain, photo, False)).max() <= 1
