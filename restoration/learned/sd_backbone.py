"""prior_diffusion on a Stable Diffusion inpainting backbone: sampling and adapter training.

The SD inpainting pipeline (a local diffusers folder: UNet with 9 input channels, VAE, CLIP text
encoder) stays frozen; restoration.learned.sd_adapter.PriorAdapter injects the priors into its
U-Net. Sampling follows the SD inpainting pipeline (latents, downsampled mask and masked-image
latents concatenated), with the intact region re-imposed in latent space after every step and a
cheap latent-to-RGB preview of the predicted clean latents. Training teaches the adapter only,
with the backbone's own noise-prediction objective.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from restoration.learned import checkpoint, data
from restoration.learned.sd_adapter import AdapterConfig, PriorAdapter

DEFAULT_PROMPT = "a restored ancient mural, intact pigment, continuous outlines"


def load_pipeline(location: str, *, device, dtype, online: bool = False):
    """The SD inpainting pipeline of a local folder (or a hub id where `online`)."""
    from diffusers import AutoPipelineForInpainting

    from restoration.engines.sd_inpaint import dtype_keyword

    pipe = AutoPipelineForInpainting.from_pretrained(
        location, local_files_only=not online, safety_checker=None, **{dtype_keyword(): dtype}
    )
    pipe.set_progress_bar_config(disable=True)
    for part in (pipe.unet, pipe.vae, pipe.text_encoder):
        part.requires_grad_(False)
    if pipe.unet.config.in_channels != 9:
        raise ValueError(
            f"{location} is not an inpainting model: its U-Net takes "
            f"{pipe.unet.config.in_channels} channels, not 9"
        )
    return pipe.to(device)


def _encode(pipe, images: torch.Tensor, generator=None) -> torch.Tensor:
    latent = pipe.vae.encode(images.to(pipe.vae.dtype)).latent_dist
    sample = latent.mode() if generator is None else latent.sample(generator)
    return sample * pipe.vae.config.scaling_factor


def _prompt_embeds(pipe, prompt: str, batch: int, device) -> torch.Tensor:
    embeds, _ = pipe.encode_prompt(prompt, device, batch, do_classifier_free_guidance=False)
    return embeds


def _conditioning(pipe, known, mask):
    """(mask at latent size, masked-image latents) as the SD inpainting U-Net expects."""
    binary = (mask > 0).to(known.dtype)
    masked = known * (1 - binary)
    latents = _encode(pipe, masked)
    return F.interpolate(binary, size=latents.shape[-2:], mode="nearest"), latents


@torch.inference_mode()
def inpaint(
    pipe,
    adapter: PriorAdapter,
    *,
    known: torch.Tensor,
    mask: torch.Tensor,
    structure: torch.Tensor,
    texture: torch.Tensor,
    prompt: str,
    steps: int,
    scheduler: str,
    generator: torch.Generator,
    on_step: Callable | None = None,
) -> torch.Tensor:
    """Restore a batch; returns images in [-1, 1] (B, 3, H, W), intact pixels not yet composed.

    known: the observed image in [-1, 1] (damaged pixels attenuated), mask: damage strength.
    on_step(step, total, estimate) with estimate() -> (B, 4, h, w) predicted clean latents.
    """
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    config = pipe.scheduler.config
    if scheduler == "ddim":
        sampler = DDIMScheduler.from_config(config)
    else:
        sampler = DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++")
    device, dtype = known.device, pipe.unet.dtype
    sampler.set_timesteps(steps, device=device)
    mask_latent, masked_latents = _conditioning(pipe, known.to(dtype), mask.to(dtype))
    image_latents = _encode(pipe, known.to(dtype))
    embeds = _prompt_embeds(pipe, prompt, known.shape[0], device)
    latents = (
        torch.randn(image_latents.shape, generator=generator, device=device, dtype=dtype)
        * sampler.init_noise_sigma
    )
    timesteps = sampler.timesteps
    for i, t in enumerate(timesteps):
        model_input = torch.cat(
            [sampler.scale_model_input(latents, t), mask_latent, masked_latents], dim=1
        )
        down, mid = adapter(structure.to(dtype), texture.to(dtype), mask.to(dtype), t.reshape(1))
        noise_pred = pipe.unet(
            model_input,
            t,
            encoder_hidden_states=embeds,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
        ).sample
        out = sampler.step(noise_pred, t, latents)
        latents = out.prev_sample
        if i + 1 < len(timesteps):
            noise = torch.randn(latents.shape, generator=generator, device=device, dtype=dtype)
            evidence = sampler.add_noise(image_latents, noise, timesteps[i + 1].reshape(1))
            latents = mask_latent * latents + (1 - mask_latent) * evidence
        if on_step is not None:
            clean = getattr(out, "pred_original_sample", None)
            current = latents if clean is None else clean

            def estimate(current=current):
                return mask_latent * current + (1 - mask_latent) * image_latents

            on_step(i + 1, len(timesteps), estimate)
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return decoded.float().clamp(-1, 1)


def train_adapter(
    *,
    sd_model: str,
    sources: list[data.Source],
    out: str | Path,
    size: int,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    device: str,
    prompt: str = DEFAULT_PROMPT,
    width: int = 64,
    on_step: Callable[[int, int, float], None] | None = None,
) -> dict:
    """Train a PriorAdapter on the frozen backbone; writes a prior_diffusion checkpoint folder."""
    from diffusers import DDPMScheduler

    device = torch.device(device)
    pipe = load_pipeline(sd_model, device=device, dtype=torch.float32)
    config = AdapterConfig.for_unet(
        pipe.unet.config,
        width=width,
        vae_scale=2 ** (len(pipe.vae.config.block_out_channels) - 1),
        num_train_timesteps=pipe.scheduler.config.num_train_timesteps,
    )
    if size % (config.vae_scale * 2 ** (len(config.block_out_channels) - 1)):
        raise ValueError("--size must be a multiple of the VAE factor times the U-Net depth")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        adapter = PriorAdapter(config).to(device)
    noise_schedule = DDPMScheduler.from_config(pipe.scheduler.config)
    optimiser = torch.optim.AdamW(adapter.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    generator = torch.Generator(device).manual_seed(seed)
    embeds = _prompt_embeds(pipe, prompt, batch, device)
    losses, window, started = [], [], time.monotonic()
    for step in range(1, steps + 1):
        sample = data.make_batch(sources, batch=batch, size=size, rng=rng)
        tensors = {
            k: torch.from_numpy(getattr(sample, k)).to(device)
            for k in ("clean", "known", "mask", "structure", "texture")
        }
        with torch.no_grad():
            clean_latents = _encode(pipe, tensors["clean"])
            mask_latent, masked_latents = _conditioning(pipe, tensors["known"], tensors["mask"])
        t = torch.randint(0, config.num_train_timesteps, (batch,), generator=generator).to(device)
        noise = torch.randn(clean_latents.shape, generator=generator).to(device)
        noisy = noise_schedule.add_noise(clean_latents, noise, t)
        down, mid = adapter(tensors["structure"], tensors["texture"], tensors["mask"], t)
        prediction = pipe.unet(
            torch.cat([noisy, mask_latent, masked_latents], dim=1),
            t,
            encoder_hidden_states=embeds,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
        ).sample
        loss = F.mse_loss(prediction, noise)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        window.append(float(loss.detach()))
        if len(window) == 10 or step == steps:
            losses.append(round(float(np.mean(window)), 5))
            window = []
        if on_step is not None:
            on_step(step, steps, float(loss.detach()))
    saved = {
        "engine": "prior_diffusion",
        "backbone": "sd",
        "sd_model": str(sd_model),
        "prompt": prompt,
        "architecture": config.to_dict(),
        "training": {
            "steps": steps,
            "losses": losses,
            "seconds": round(time.monotonic() - started, 1),
            "device": str(device),
            "options": {"size": size, "batch": batch, "lr": lr, "seed": seed},
            "data": [source.manifest_entry() for source in sources],
        },
    }
    checkpoint.save(out, adapter, saved)
    return saved


def load_adapter(folder: str | Path, *, device, dtype) -> tuple[PriorAdapter, dict]:
    from safetensors.torch import load_file

    config = checkpoint.read_config(folder)
    adapter = PriorAdapter(AdapterConfig.from_dict(config.get("architecture", {})))
    state = load_file(str(Path(folder) / checkpoint.WEIGHTS))
    try:
        adapter.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise checkpoint.CheckpointError(f"{folder}: adapter weights do not match: {exc}") from exc
    return adapter.eval().requires_grad_(False).to(device=device, dtype=dtype), config


def multiple_of(pipe) -> int:
    """Window sides must be multiples of this for the backbone (VAE factor x U-Net depth)."""
    vae = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    return vae * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
