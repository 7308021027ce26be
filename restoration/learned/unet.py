"""Seed 000's prior-guided denoising U-Net, built from diffusers' U-Net blocks.

The U-Net denoises x_t conditioned on the damaged image and its mask (concatenated at the input).
Two small branches encode the structure prior and the texture prior (restoration.priors) into
feature maps at every resolution of the encoder. At each level a timestep-gated fusion injects
them: per-channel gates g_s(t) and g_x(t) come from the timestep embedding plus a learnable,
monotone schedule term, initialised so that structure dominates early (noisy) steps and texture
late (clean) steps, as seed 000 describes. Mask-adaptive FiLM (seed 002) then modulates the level's
features by a scale and shift computed from the (possibly continuous, for fading) mask.
The injections are zero-initialised (ControlNet-style) so training starts from a plain U-Net.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.unets.unet_2d_blocks import UNetMidBlock2D, get_down_block, get_up_block
from torch import nn
from torch.nn import functional as F

from restoration.learned.data import COARSE_FILLS
from restoration.priors import STRUCTURE_CHANNELS, TEXTURE_CHANNELS


@dataclass
class UNetConfig:
    """Architecture of PriorGuidedUNet; saved beside the weights as JSON."""

    block_out_channels: list[int] = field(default_factory=lambda: [64, 96, 128, 192])
    # Pixels per side folded into channels before the first level (space-to-depth): the U-Net
    # runs at 1/patch resolution, which cuts CPU cost ~patch^2 at the finest level.
    patch_size: int = 2
    layers_per_block: int = 1
    # Self-attention at the coarsest level only (16 x 16 tokens for 256 px input); off by
    # default: on this CPU it costs about as much as the rest of the network.
    mid_attention: bool = False
    attention_head_dim: int = 32
    norm_groups: int = 16
    prior_channels: int = 16
    num_train_timesteps: int = 1000
    # "telea" or "harmonic": the network also takes that classical fill of the damage
    # (restoration.learned.data.coarse_fill) and predicts what to add to it: its output layer
    # starts at zero, so an untrained network already restores as that fill does. "none"
    # (earlier checkpoints): neither.
    coarse_fill: str = "none"
    # Width of the border refiner (BorderRefiner): a small full-resolution CNN after the U-Net
    # that corrects the restored damage near its border, which the U-Net sees only at 1/patch
    # resolution. 0 (earlier checkpoints): none.
    refiner_channels: int = 0

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (one halving per level but the last)."""
        return self.patch_size * 2 ** (len(self.block_out_channels) - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> UNetConfig:
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        return cls(**known)


class PriorEncoder(nn.Module):
    """A small strided CNN: one feature map per U-Net level (resolution 1, 1/2, 1/4, ...)."""

    def __init__(self, in_channels: int, width: int, levels: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
        )
        self.downs = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Conv2d(width, width, 3, stride=2, padding=1))
            for _ in range(levels - 1)
        )

    def forward(self, prior: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(prior)]
        for down in self.downs:
            features.append(down(features[-1]))
        return features


class GatedPriorFusion(nn.Module):
    """Injects structure and texture features into one level, gated by the timestep.

    h' = FiLM_mask(h + g_s(t) * P_s(S) + g_x(t) * P_x(X)), with
    g_s = sigmoid(MLP_s(emb) + a * (2 t / T - 1)), g_x = sigmoid(MLP_x(emb) - a * (2 t / T - 1)),
    a learnable (init 2): structure leads at large t, texture at small t.
    FiLM: h * (1 + gamma(m)) + beta(m) from the mask at this level's resolution.
    """

    def __init__(self, channels: int, prior_channels: int, temb_channels: int):
        super().__init__()
        self.project_structure = nn.Conv2d(prior_channels, channels, 1)
        self.project_texture = nn.Conv2d(prior_channels, channels, 1)
        self.gate_structure = nn.Linear(temb_channels, channels)
        self.gate_texture = nn.Linear(temb_channels, channels)
        self.schedule = nn.Parameter(torch.tensor(2.0))
        self.film = nn.Sequential(
            nn.Conv2d(1, prior_channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(prior_channels, 2 * channels, 1),
        )
        for layer in (self.project_structure, self.project_texture, self.film[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for layer in (self.gate_structure, self.gate_texture):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def gates(self, emb: torch.Tensor, progress: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(g_structure, g_texture), each (B, C); progress = t / T in [0, 1]."""
        ramp = self.schedule * (2.0 * progress - 1.0)[:, None]
        return (
            torch.sigmoid(self.gate_structure(emb) + ramp),
            torch.sigmoid(self.gate_texture(emb) - ramp),
        )

    def forward(self, h, structure, texture, mask, emb, progress):
        g_s, g_x = self.gates(emb, progress)
        h = (
            h
            + g_s[:, :, None, None] * self.project_structure(structure)
            + g_x[:, :, None, None] * self.project_texture(texture)
        )
        mask = F.interpolate(mask, size=h.shape[-2:], mode="area")
        gamma, beta = self.film(mask).chunk(2, dim=1)
        return h * (1.0 + gamma) + beta


class BorderRefiner(nn.Module):
    """Full-resolution correction of a restoration where the damage meets intact pixels.

    Input: the restoration with the intact pixels put back (known + estimate * mask) and the
    mask; dilated 3 x 3 convolutions with residual connections (receptive field 49 px) give a
    correction that is added to the estimate inside the damage only, so intact pixels keep the
    U-Net's value. The output layer starts at zero: added to a trained U-Net (`train_engine
    --init ... --refiner N`), the network first restores exactly as before.
    """

    DILATIONS = (1, 2, 4, 8, 4, 2, 1)

    def __init__(self, channels: int):
        super().__init__()
        self.conv_in = nn.Conv2d(4, channels, 5, padding=2)
        self.body = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=d, dilation=d) for d in self.DILATIONS
        )
        self.conv_out = nn.Conv2d(channels, 3, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, estimate, known, mask):
        h = F.silu(self.conv_in(torch.cat([known + estimate * mask, mask], dim=1)))
        for conv in self.body:
            h = h + F.silu(conv(h))
        return estimate + self.conv_out(h) * (mask > 0).to(estimate.dtype)


class PriorGuidedUNet(nn.Module):
    """x0-predicting denoiser: (x_t, damaged image, mask, priors, t) -> clean image estimate.

    Inputs (B, ., H, W), H and W multiples of `config.multiple`, images in [-1, 1]:
    x_t (3), known = damaged image with damage zeroed (3), mask (1, damage strength 0-1),
    structure prior (2), texture prior (8); timesteps (B,) ints in [0, T); coarse (3, the
    classical fill of the damage named by `config.coarse_fill`) unless that is "none".
    """

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        self.config = config = config or UNetConfig()
        channels = config.block_out_channels
        levels = len(channels)
        temb = channels[0] * 4
        self.time_proj = Timesteps(channels[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(channels[0], temb)
        p2 = config.patch_size**2
        if config.coarse_fill not in COARSE_FILLS:
            raise ValueError(
                f"coarse_fill must be one of {', '.join(COARSE_FILLS)}, got {config.coarse_fill!r}"
            )
        inputs = 7 if config.coarse_fill == "none" else 10
        self.conv_in = nn.Conv2d(inputs * p2, channels[0], 3, padding=1)
        self.structure_encoder = PriorEncoder(
            STRUCTURE_CHANNELS * p2, config.prior_channels, levels
        )
        self.texture_encoder = PriorEncoder(
            (TEXTURE_CHANNELS + 1) * p2, config.prior_channels, levels
        )
        # Level 0 is conv_in's output; level i + 1 is down block i's downsampled output.
        level_channels = [channels[0], *channels[:-1]]
        self.fusions = nn.ModuleList(
            GatedPriorFusion(c, config.prior_channels, temb) for c in level_channels
        )
        common = {
            "resnet_eps": 1e-5,
            "resnet_act_fn": "silu",
            "resnet_groups": config.norm_groups,
            "attention_head_dim": config.attention_head_dim,
        }
        self.down_blocks = nn.ModuleList()
        out = channels[0]
        for i, width in enumerate(channels):
            block_in, out = out, width
            self.down_blocks.append(
                get_down_block(
                    "DownBlock2D",
                    num_layers=config.layers_per_block,
                    in_channels=block_in,
                    out_channels=out,
                    temb_channels=temb,
                    add_downsample=i < levels - 1,
                    downsample_padding=1,
                    **common,
                )
            )
        self.mid_block = UNetMidBlock2D(
            in_channels=channels[-1],
            temb_channels=temb,
            resnet_eps=1e-5,
            resnet_act_fn="silu",
            resnet_groups=config.norm_groups,
            attention_head_dim=min(config.attention_head_dim, channels[-1]),
            add_attention=config.mid_attention,
        )
        self.up_blocks = nn.ModuleList()
        reversed_channels = list(reversed(channels))
        out = reversed_channels[0]
        for i, width in enumerate(reversed_channels):
            prev, out = out, width
            block_in = reversed_channels[min(i + 1, levels - 1)]
            self.up_blocks.append(
                get_up_block(
                    "UpBlock2D",
                    num_layers=config.layers_per_block + 1,
                    in_channels=block_in,
                    out_channels=out,
                    prev_output_channel=prev,
                    temb_channels=temb,
                    add_upsample=i < levels - 1,
                    resolution_idx=i,
                    **common,
                )
            )
        self.conv_norm_out = nn.GroupNorm(config.norm_groups, channels[0], eps=1e-5)
        self.conv_out = nn.Conv2d(channels[0], 3 * p2, 3, padding=1)
        if config.coarse_fill != "none":
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)
        if config.refiner_channels < 0:
            raise ValueError(f"refiner_channels must be 0 or more, got {config.refiner_channels}")
        self.refiner = BorderRefiner(config.refiner_channels) if config.refiner_channels else None

    def forward(self, x_t, known, mask, structure, texture, timesteps, coarse=None, refine=True):
        """The clean-image estimate; `refine` False leaves out the border refiner (if any)."""
        T = self.config.num_train_timesteps
        timesteps = timesteps.to(x_t.device).reshape(-1).expand(x_t.shape[0])
        emb = self.time_embedding(self.time_proj(timesteps).to(x_t.dtype))
        progress = timesteps.to(x_t.dtype) / T
        p = self.config.patch_size
        fold = (lambda x: F.pixel_unshuffle(x, p)) if p > 1 else (lambda x: x)
        structure_features = self.structure_encoder(fold(structure))
        texture_features = self.texture_encoder(fold(torch.cat([texture, mask], dim=1)))

        def inject(level, h):
            return self.fusions[level](
                h, structure_features[level], texture_features[level], mask, emb, progress
            )

        given = [x_t, known, mask]
        if self.config.coarse_fill != "none":
            if coarse is None:
                raise ValueError("this network needs the coarse fill of the damage")
            given.insert(2, coarse)
        sample = inject(0, self.conv_in(fold(torch.cat(given, dim=1))))
        residuals = (sample,)
        for i, block in enumerate(self.down_blocks):
            sample, res = block(hidden_states=sample, temb=emb)
            if i < len(self.down_blocks) - 1:
                sample = inject(i + 1, sample)
                res = (*res[:-1], sample)
            residuals += res
        sample = self.mid_block(sample, emb)
        for block in self.up_blocks:
            res = residuals[-len(block.resnets) :]
            residuals = residuals[: -len(block.resnets)]
            sample = block(sample, res, emb)
        sample = self.conv_out(F.silu(self.conv_norm_out(sample)))
        sample = F.pixel_shuffle(sample, p) if p > 1 else sample
        if self.config.coarse_fill != "none":
            sample = sample + coarse
        if self.refiner is None or not refine:
            return sample
        return self.refiner(sample, known, mask)
