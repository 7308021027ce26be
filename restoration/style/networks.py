"""Networks of CycleGAN and CUT, with the state-dict layout of the original implementations.

`ResnetGenerator(antialias=False)` has the keys of CycleGAN's ResnetGenerator
(junyanz/pytorch-CycleGAN-and-pix2pix, instance norm without affine parameters, no dropout):
a published `latest_net_G_A.pth` loads as is. `ResnetGenerator(antialias=True)` has the keys of
CUT's ResnetGenerator (taesungp/contrastive-unpaired-translation, anti-aliased down- and
up-sampling with fixed blur filters stored as `filt` buffers): `latest_net_G.pth` loads as is.
Both are one `nn.Sequential` named `model`, so the keys are `model.<index>.<...>` and the
PatchNCE layers of CUT (0, 4, 8, 12, 16) are indices into it.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn
from torch.nn import functional as F

NCE_LAYERS = (0, 4, 8, 12, 16)


def _binomial(size: int) -> torch.Tensor:
    """The normalised 2-D binomial blur filter of `size` taps (the anti-aliasing filters)."""
    row = torch.tensor([float(math.comb(size - 1, k)) for k in range(size)])
    filt = row[:, None] * row[None, :]
    return filt / filt.sum()


class Downsample(nn.Module):
    """Blur (3x3 binomial, reflect padding) then take every second pixel: CUT's Downsample."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.register_buffer("filt", _binomial(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """Zero-insertion by 2 then a 4x4 binomial blur (replicate padding): CUT's Upsample."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReplicationPad2d(1)
        self.register_buffer("filt", (_binomial(4) * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Same arithmetic as the original (padding 1 + (4 - 1) // 2, crop one row/column at
        # each end), so published weights see exactly the features they were trained on.
        out = F.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=x.shape[1])
        return out[:, :, 1:-1, 1:-1]


class ResnetBlock(nn.Module):
    """Two 3x3 convolutions with reflection padding and instance norm, plus the input."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=True),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=True),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Image-to-image ResNet generator: (N, 3, H, W) in [-1, 1] -> same shape in [-1, 1].

    H and W must be multiples of 4 (two halvings). antialias=False is CycleGAN's layout
    (strided and transposed convolutions), antialias=True is CUT's (blur-pool down, blur up).
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        antialias: bool = False,
    ):
        super().__init__()
        if ngf < 1 or n_blocks < 0:
            raise ValueError(f"ngf must be >= 1 and n_blocks >= 0, got {ngf}, {n_blocks}")
        self.ngf, self.n_blocks, self.antialias = ngf, n_blocks, antialias
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, bias=True),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            channels = ngf * 2**i
            if antialias:
                layers += [
                    nn.Conv2d(channels, channels * 2, kernel_size=3, padding=1, bias=True),
                    nn.InstanceNorm2d(channels * 2),
                    nn.ReLU(True),
                    Downsample(channels * 2),
                ]
            else:
                layers += [
                    nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1, bias=True),
                    nn.InstanceNorm2d(channels * 2),
                    nn.ReLU(True),
                ]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            channels = ngf * 2 ** (2 - i)
            if antialias:
                layers += [
                    Upsample(channels),
                    nn.Conv2d(channels, channels // 2, kernel_size=3, padding=1, bias=True),
                    nn.InstanceNorm2d(channels // 2),
                    nn.ReLU(True),
                ]
            else:
                layers += [
                    nn.ConvTranspose2d(
                        channels,
                        channels // 2,
                        kernel_size=3,
                        stride=2,
                        padding=1,
                        output_padding=1,
                        bias=True,
                    ),
                    nn.InstanceNorm2d(channels // 2),
                    nn.ReLU(True),
                ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def encode(self, x: torch.Tensor, layers: tuple[int, ...] = NCE_LAYERS) -> list[torch.Tensor]:
        """Outputs of the given `model` indices (ascending), stopping after the last (CUT)."""
        feats = []
        for index, layer in enumerate(self.model):
            x = layer(x)
            if index in layers:
                feats.append(x)
                if index == layers[-1]:
                    break
        return feats

    def feature_channels(self, layers: tuple[int, ...] = NCE_LAYERS) -> list[int]:
        """Channels of `encode`'s outputs (for the MLP heads), found by a tiny forward."""
        with torch.no_grad():
            param = next(self.parameters())
            probe = torch.zeros(1, self.model[1].in_channels, 16, 16, device=param.device)
            return [feat.shape[1] for feat in self.encode(probe.to(param.dtype), layers)]


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator (n_layers=3: 70 x 70 receptive field); logits, no sigmoid.

    Keys follow CycleGAN's NLayerDiscriminator (instance norm, so biases everywhere);
    antialias=True is CUT's version with blur-pool instead of strided convolutions.
    """

    def __init__(
        self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, antialias: bool = False
    ):
        super().__init__()

        def down(cin: int, cout: int, norm: bool) -> list[nn.Module]:
            conv = nn.Conv2d(cin, cout, 4, stride=1 if antialias else 2, padding=1, bias=True)
            block = [conv] + ([nn.InstanceNorm2d(cout)] if norm else [])
            block.append(nn.LeakyReLU(0.2, True))
            return block + ([Downsample(cout)] if antialias else [])

        sequence = down(input_nc, ndf, norm=False)
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2**n, 8)
            sequence += down(ndf * previous, ndf * mult, norm=True)
        previous, mult = mult, min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * previous, ndf * mult, 4, stride=1, padding=1, bias=True),
            nn.InstanceNorm2d(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*sequence)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchSampleMLP(nn.Module):
    """CUT's PatchSampleF with MLP heads: sample patches of each feature map, project, L2-norm.

    One two-layer MLP (Linear, ReLU, Linear to `nc`) per feature layer, keys `mlp_<i>.0/2`.
    Built eagerly from the channel counts (CUT builds them on the first batch).
    """

    def __init__(self, channels: list[int], nc: int = 256):
        super().__init__()
        self.nc = nc
        for index, cin in enumerate(channels):
            mlp = nn.Sequential(nn.Linear(cin, nc), nn.ReLU(), nn.Linear(nc, nc))
            setattr(self, f"mlp_{index}", mlp)
        self.layers = len(channels)

    def forward(
        self,
        feats: list[torch.Tensor],
        num_patches: int = 256,
        patch_ids: list[torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(per layer (N * patches, nc) unit vectors, the patch indices used per layer).

        The same positions are taken in every image of the batch, as in CUT; pass the indices
        returned for the source features to sample the same positions of the output's.
        """
        if len(feats) != self.layers:
            raise ValueError(f"expected {self.layers} feature maps, got {len(feats)}")
        out, ids = [], []
        for index, feat in enumerate(feats):
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)
            if patch_ids is not None:
                patch_id = patch_ids[index]
            else:
                patch_id = torch.randperm(flat.shape[1], generator=generator)
                patch_id = patch_id[: min(num_patches, flat.shape[1])].to(feat.device)
            sample = getattr(self, f"mlp_{index}")(flat[:, patch_id, :].flatten(0, 1))
            out.append(sample / (sample.norm(p=2, dim=1, keepdim=True) + 1e-7))
            ids.append(patch_id)
        return out, ids


def init_weights(module: nn.Module, kind: str = "normal", gain: float = 0.02) -> None:
    """The originals' init: conv/linear weights N(0, gain) ("normal", CycleGAN) or Xavier-normal
    ("xavier", CUT's default), biases 0. Draws from torch's global generator (seed it first)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            if kind == "normal":
                nn.init.normal_(layer.weight, 0.0, gain)
            elif kind == "xavier":
                nn.init.xavier_normal_(layer.weight, gain=gain)
            else:
                raise ValueError(f"unknown init {kind!r}")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.1\.weight$")


def infer_architecture(state_dict: dict) -> dict:
    """{"ngf", "n_blocks", "antialias"} of a ResnetGenerator state dict in the original layout.

    Accepts a "module." prefix (DataParallel). Raises ValueError for anything else.
    """
    keys = {key.removeprefix("module."): value for key, value in state_dict.items()}
    first = keys.get("model.1.weight")
    if first is None or getattr(first, "ndim", 0) != 4 or tuple(first.shape[1:]) != (3, 7, 7):
        raise ValueError(
            "not a ResNet generator in the CycleGAN/CUT layout: no 7x7 RGB input convolution "
            "'model.1.weight'"
        )
    n_blocks = sum(1 for key in keys if _BLOCK_KEY.match(key))
    antialias = any(key.endswith(".filt") for key in keys)
    architecture = {"ngf": int(first.shape[0]), "n_blocks": n_blocks, "antialias": antialias}
    with torch.device("meta"):
        expected = ResnetGenerator(**architecture).state_dict()
    missing = sorted(set(expected) - set(keys))
    if missing:
        raise ValueError(f"generator state dict lacks {len(missing)} keys, e.g. {missing[0]!r}")
    return architecture
