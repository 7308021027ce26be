"""Seed 000's own setting: a frozen Stable Diffusion inpainting U-Net with the priors as an adapter.

The adapter encodes the structure and texture priors (restoration.priors) and the damage mask
into one residual per skip connection of the SD U-Net's encoder plus one for its middle block
(diffusers' ControlNet interface: `down_block_additional_residuals`,
`mid_block_additional_residual`). Each residual is the timestep-gated sum of the structure and
texture features (structure early, texture late, as in restoration.learned.unet), modulated by
mask-adaptive FiLM, through zero-initialised projections so an untrained adapter leaves the SD
U-Net's output unchanged. Only the adapter is trained; the U-Net, VAE and text encoder stay
frozen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn
from torch.nn import functional as F

from restoration.priors import STRUCTURE_CHANNELS, TEXTURE_CHANNELS


@dataclass
class AdapterConfig:
    """Shape of the SD U-Net the adapter feeds, and the adapter's own width."""

    block_out_channels: list[int] = field(default_factory=lambda: [320, 640, 1280, 1280])
    layers_per_block: int = 2
    vae_scale: int = 8
    width: int = 64
    num_train_timesteps: int = 1000

    @classmethod
    def for_unet(cls, unet_config, **overrides) -> AdapterConfig:
        """The adapter shape for a diffusers UNet2DConditionModel config."""
        layers = unet_config["layers_per_block"]
        if not isinstance(layers, int):
            layers = int(layers[0])
        return cls(
            block_out_channels=list(unet_config["block_out_channels"]),
            layers_per_block=layers,
            **overrides,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AdapterConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def residual_shapes(self) -> list[tuple[int, int]]:
        """(channels, level) of each skip residual of the U-Net encoder, in order."""
        shapes = [(self.block_out_channels[0], 0)]
        levels = len(self.block_out_channels)
        for i, channels in enumerate(self.block_out_channels):
            shapes += [(channels, i)] * self.layers_per_block
            if i < levels - 1:
                shapes.append((channels, i + 1))
        return shapes


class PriorAdapter(nn.Module):
    """(structure, texture, mask at pixel resolution, timesteps) -> SD U-Net residuals."""

    def __init__(self, config: AdapterConfig):
        super().__init__()
        self.config = config
        width = config.width
        levels = len(config.block_out_channels)
        fold = config.vae_scale**2

        def encoder(channels_in: int) -> nn.ModuleList:
            stem = nn.Sequential(
                nn.Conv2d(channels_in * fold, width, 3, padding=1),
                nn.SiLU(),
                nn.Conv2d(width, width, 3, padding=1),
            )
            downs = [
                nn.Sequential(nn.SiLU(), nn.Conv2d(width, width, 3, stride=2, padding=1))
                for _ in range(levels - 1)
            ]
            return nn.ModuleList([stem, *downs])

        self.structure = encoder(STRUCTURE_CHANNELS)
        self.texture = encoder(TEXTURE_CHANNELS + 1)
        temb = width * 4
        self.time_proj = Timesteps(width, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(width, temb)
        shapes = [*config.residual_shapes(), (config.block_out_channels[-1], levels - 1)]
        self.levels = [level for _, level in shapes]
        self.project_structure = nn.ModuleList(nn.Conv2d(width, c, 1) for c, _ in shapes)
        self.project_texture = nn.ModuleList(nn.Conv2d(width, c, 1) for c, _ in shapes)
        self.gate_structure = nn.ModuleList(nn.Linear(temb, c) for c, _ in shapes)
        self.gate_texture = nn.ModuleList(nn.Linear(temb, c) for c, _ in shapes)
        self.film = nn.ModuleList(nn.Conv2d(1, 2 * c, 3, padding=1) for c, _ in shapes)
        self.schedule = nn.Parameter(torch.tensor(2.0))
        for module in (
            *self.project_structure,
            *self.project_texture,
            *self.gate_structure,
            *self.gate_texture,
            *self.film,
        ):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)

    def _features(self, encoder: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.pixel_unshuffle(x, self.config.vae_scale)
        features = [encoder[0](x)]
        for down in encoder[1:]:
            features.append(down(features[-1]))
        return features

    def forward(self, structure, texture, mask, timesteps):
        """Returns (down residuals tuple, mid residual) for UNet2DConditionModel.forward."""
        batch = structure.shape[0]
        timesteps = timesteps.reshape(-1).expand(batch).to(structure.device)
        emb = self.time_embedding(self.time_proj(timesteps).to(structure.dtype))
        progress = timesteps.to(structure.dtype) / self.config.num_train_timesteps
        ramp = self.schedule * (2.0 * progress - 1.0)[:, None]
        s_features = self._features(self.structure, structure)
        x_features = self._features(self.texture, torch.cat([texture, mask], dim=1))
        residuals = []
        for i, level in enumerate(self.levels):
            g_s = torch.sigmoid(self.gate_structure[i](emb) + ramp)[:, :, None, None]
            g_x = torch.sigmoid(self.gate_texture[i](emb) - ramp)[:, :, None, None]
            r = g_s * self.project_structure[i](s_features[level]) + g_x * self.project_texture[i](
                x_features[level]
            )
            m = F.interpolate(mask, size=r.shape[-2:], mode="area")
            gamma, beta = self.film[i](m).chunk(2, dim=1)
            residuals.append(r * (1.0 + gamma) + beta)
        return tuple(residuals[:-1]), residuals[-1]
