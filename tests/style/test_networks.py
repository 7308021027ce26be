"""Networks of CycleGAN/CUT: state-dict keys and shapes of the original implementations."""

import pytest
import torch

from restoration.style.networks import (
    Downsample,
    NLayerDiscriminator,
    PatchSampleMLP,
    ResnetGenerator,
    Upsample,
    infer_architecture,
)

# Written out by hand from junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py
# ResnetGenerator(ngf=4, n_blocks=2, norm=instance, use_dropout=False): pad, conv7, norm, relu,
# 2 x (strided conv, norm, relu), blocks (pad, conv, norm, relu, pad, conv, norm),
# 2 x (transposed conv, norm, relu), pad, conv7, tanh. Instance norm has no parameters.
CYCLEGAN_KEYS = {
    "model.1.weight": (4, 3, 7, 7),
    "model.1.bias": (4,),
    "model.4.weight": (8, 4, 3, 3),
    "model.4.bias": (8,),
    "model.7.weight": (16, 8, 3, 3),
    "model.7.bias": (16,),
    "model.10.conv_block.1.weight": (16, 16, 3, 3),
    "model.10.conv_block.1.bias": (16,),
    "model.10.conv_block.5.weight": (16, 16, 3, 3),
    "model.10.conv_block.5.bias": (16,),
    "model.11.conv_block.1.weight": (16, 16, 3, 3),
    "model.11.conv_block.1.bias": (16,),
    "model.11.conv_block.5.weight": (16, 16, 3, 3),
    "model.11.conv_block.5.bias": (16,),
    "model.12.weight": (16, 8, 3, 3),  # ConvTranspose2d weights are (in, out, k, k)
    "model.12.bias": (8,),
    "model.15.weight": (8, 4, 3, 3),
    "model.15.bias": (4,),
    "model.19.weight": (3, 4, 7, 7),
    "model.19.bias": (3,),
}

# taesungp/contrastive-unpaired-translation models/networks.py ResnetGenerator with its default
# anti-aliasing: down = conv(stride 1), norm, relu, Downsample(filt 3x3); up = Upsample(filt 4x4),
# conv, norm, relu. The blur filters are buffers, one per channel.
CUT_KEYS = {
    "model.1.weight": (4, 3, 7, 7),
    "model.1.bias": (4,),
    "model.4.weight": (8, 4, 3, 3),
    "model.4.bias": (8,),
    "model.7.filt": (8, 1, 3, 3),
    "model.8.weight": (16, 8, 3, 3),
    "model.8.bias": (16,),
    "model.11.filt": (16, 1, 3, 3),
    "model.12.conv_block.1.weight": (16, 16, 3, 3),
    "model.12.conv_block.1.bias": (16,),
    "model.12.conv_block.5.weight": (16, 16, 3, 3),
    "model.12.conv_block.5.bias": (16,),
    "model.13.conv_block.1.weight": (16, 16, 3, 3),
    "model.13.conv_block.1.bias": (16,),
    "model.13.conv_block.5.weight": (16, 16, 3, 3),
    "model.13.conv_block.5.bias": (16,),
    "model.14.filt": (16, 1, 4, 4),
    "model.15.weight": (8, 16, 3, 3),
    "model.15.bias": (8,),
    "model.18.filt": (8, 1, 4, 4),
    "model.19.weight": (4, 8, 3, 3),
    "model.19.bias": (4,),
    "model.23.weight": (3, 4, 7, 7),
    "model.23.bias": (3,),
}

# CycleGAN's NLayerDiscriminator(ndf=4, n_layers=3, norm=instance).
DISCRIMINATOR_KEYS = {
    "model.0.weight": (4, 3, 4, 4),
    "model.0.bias": (4,),
    "model.2.weight": (8, 4, 4, 4),
    "model.2.bias": (8,),
    "model.5.weight": (16, 8, 4, 4),
    "model.5.bias": (16,),
    "model.8.weight": (32, 16, 4, 4),
    "model.8.bias": (32,),
    "model.11.weight": (1, 32, 4, 4),
    "model.11.bias": (1,),
}


def _shapes(module):
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def test_cyclegan_generator_has_the_original_keys_and_shapes():
    assert _shapes(ResnetGenerator(ngf=4, n_blocks=2)) == CYCLEGAN_KEYS


def test_cut_generator_has_the_original_keys_shapes_and_filters():
    generator = ResnetGenerator(ngf=4, n_blocks=2, antialias=True)
    assert _shapes(generator) == CUT_KEYS
    state = generator.state_dict()
    blur3 = torch.tensor([1.0, 2.0, 1.0])
    blur4 = torch.tensor([1.0, 3.0, 3.0, 1.0])
    assert torch.allclose(state["model.7.filt"][0, 0], torch.outer(blur3, blur3) / 16)
    assert torch.allclose(state["model.14.filt"][5, 0], torch.outer(blur4, blur4) / 64 * 4)


def test_full_size_layouts_end_where_published_checkpoints_do():
    # The published 9-block models: netG_A's output conv is model.26, CUT's netG's model.30.
    cyclegan = ResnetGenerator(ngf=8, n_blocks=9).state_dict()
    cut = ResnetGenerator(ngf=8, n_blocks=9, antialias=True).state_dict()
    assert "model.26.weight" in cyclegan and "model.27.weight" not in cyclegan
    assert "model.19.weight" in cyclegan  # first transposed convolution
    assert "model.30.weight" in cut and "model.21.filt" in cut and "model.25.filt" in cut


def test_generators_keep_the_input_size_and_range():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 24, 40) * 2 - 1
    for antialias in (False, True):
        y = ResnetGenerator(ngf=4, n_blocks=1, antialias=antialias)(x)
        assert y.shape == x.shape
        assert y.abs().max() <= 1


def test_upsample_matches_the_original_arithmetic_and_keeps_constants():
    up = Upsample(2)
    x = torch.randn(1, 2, 5, 7)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    reference = torch.nn.functional.conv_transpose2d(padded, up.filt, stride=2, padding=2, groups=2)
    reference = reference[:, :, 1:, 1:][:, :, :-1, :-1]
    assert torch.allclose(up(x), reference)
    assert up(x).shape == (1, 2, 10, 14)
    assert torch.allclose(up(torch.full((1, 2, 4, 4), 0.3)), torch.full((1, 2, 8, 8), 0.3))
    assert Downsample(2)(torch.full((1, 2, 8, 8), 0.3)).allclose(torch.full((1, 2, 4, 4), 0.3))


def test_discriminator_has_the_original_keys_and_patch_output():
    discriminator = NLayerDiscriminator(ndf=4, n_layers=3)
    assert _shapes(discriminator) == DISCRIMINATOR_KEYS
    # 70 x 70 PatchGAN on a 70 x 70 input: one 6 x 6 map of logits.
    assert discriminator(torch.zeros(1, 3, 70, 70)).shape == (1, 1, 6, 6)
    assert NLayerDiscriminator(ndf=4, antialias=True)(torch.zeros(1, 3, 64, 64)).shape[1] == 1


def test_encode_returns_cut_layers_and_patch_sampler_projects_them():
    generator = ResnetGenerator(ngf=4, n_blocks=5, antialias=True)
    x = torch.randn(2, 3, 32, 32)
    feats = generator.encode(x)
    assert [f.shape[1] for f in feats] == [3, 8, 16, 16, 16] == generator.feature_channels()
    assert [f.shape[-1] for f in feats] == [38, 32, 16, 8, 8]
    assert torch.equal(feats[0][:, :, 3:-3, 3:-3], x)  # layer 0 is the reflection-padded input
    head = PatchSampleMLP(generator.feature_channels(), nc=16)
    assert _shapes(head)["mlp_0.0.weight"] == (16, 3)
    assert _shapes(head)["mlp_4.2.weight"] == (16, 16)
    projected, ids = head(feats, num_patches=10)
    assert [p.shape for p in projected] == [(20, 16)] * 5
    assert torch.allclose(projected[2].norm(dim=1), torch.ones(20), atol=1e-5)
    again, same_ids = head(feats, patch_ids=ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, same_ids, strict=True))
    assert torch.allclose(again[3], projected[3])
    assert [len(i) for i in head(feats, num_patches=100)[1]] == [100, 100, 100, 64, 64]


def test_a_state_dict_in_the_original_layout_loads_and_is_inferred():
    # A state dict built from the hand-written key list above, as a published file holds it.
    state = {key: torch.randn(shape) for key, shape in CYCLEGAN_KEYS.items()}
    assert infer_architecture(state) == {"ngf": 4, "n_blocks": 2, "antialias": False}
    generator = ResnetGenerator(ngf=4, n_blocks=2)
    generator.load_state_dict(state)
    assert torch.equal(generator.model[19].weight, state["model.19.weight"])
    cut_state = {key: torch.randn(shape) for key, shape in CUT_KEYS.items()}
    prefixed = {f"module.{key}": value for key, value in cut_state.items()}
    assert infer_architecture(prefixed) == {"ngf": 4, "n_blocks": 2, "antialias": True}
    ResnetGenerator(ngf=4, n_blocks=2, antialias=True).load_state_dict(cut_state)


def test_infer_architecture_refuses_other_state_dicts():
    with pytest.raises(ValueError, match="model.1.weight"):
        infer_architecture({"conv.weight": torch.zeros(4, 3, 7, 7)})
    partial = {key: torch.zeros(shape) for key, shape in CYCLEGAN_KEYS.items()}
    del partial["model.15.weight"]
    with pytest.raises(ValueError, match="lacks 1 keys"):
        infer_architecture(partial)
