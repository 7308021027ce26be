"""Denoising loop of the prior-guided inpainter with diffusers schedulers.

The network predicts the clean image (prediction_type "sample"). DDPM defines the forward process
used in training; DDIM or DPM-Solver++ sample in a configurable number of steps. After every step
the intact region is re-imposed (noised to the next step's level, as in RePaint), so what the
network sees outside the damage is always the evidence. The caller gets the clean-image estimate
of every step through a callback, to preview it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

SCHEDULERS = ("ddim", "dpm++")


def training_scheduler(num_train_timesteps: int = 1000):
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=num_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="sample",
        clip_sample=True,
    )


def sampling_scheduler(name: str, num_train_timesteps: int = 1000):
    """A sampler sharing the training noise schedule: "ddim" or "dpm++" (DPM-Solver++ 2M)."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    config = training_scheduler(num_train_timesteps).config
    if name == "ddim":
        return DDIMScheduler.from_config(
            config, clip_sample=True, set_alpha_to_one=True, timestep_spacing="trailing"
        )
    if name == "dpm++":
        return DPMSolverMultistepScheduler.from_config(
            config,
            algorithm_type="dpmsolver++",
            solver_order=2,
            thresholding=False,
            timestep_spacing="trailing",
        )
    raise ValueError(f"Unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


def to_tensor(array: np.ndarray, device, dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(device=device, dtype=dtype)


@torch.inference_mode()
def inpaint(
    model,
    *,
    known: torch.Tensor,
    mask: torch.Tensor,
    structure: torch.Tensor,
    texture: torch.Tensor,
    steps: int,
    scheduler: str,
    generator: torch.Generator,
    on_step: Callable[[int, int, Callable[[], torch.Tensor]], None] | None = None,
    coarse: torch.Tensor | None = None,
) -> torch.Tensor:
    """Restore a batch: returns the clean estimate (B, 3, H, W) in [-1, 1], intact pixels kept.

    known: observed image in [-1, 1] attenuated by the damage; mask: damage strength (B, 1, H, W);
    coarse: the classical fill of the damage (UNetConfig.coarse_fill), for networks that take it.
    on_step(step, total, estimate): called after each step, estimate() gives the current
    clean-image prediction composited with the intact pixels (computed only when called).
    A network's border refiner (UNetConfig.refiner_channels) is left out of the denoising steps:
    it corrects the expected fill (expected_fill), and on the benchmark it made samples worse.
    """
    sampler = sampling_scheduler(scheduler, model.config.num_train_timesteps)
    sampler.set_timesteps(steps, device=known.device)
    intact = (mask <= 0).to(known.dtype)
    x = torch.randn(known.shape, generator=generator, device=known.device, dtype=known.dtype)
    x = x * sampler.init_noise_sigma
    timesteps = sampler.timesteps
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        batch_t = t.reshape(1).expand(known.shape[0]).to(known.device)
        predicted = model(
            x, known, mask, structure, texture, batch_t, coarse=coarse, refine=False
        ).clamp(-1, 1)
        x = sampler.step(predicted, t, x, generator=generator).prev_sample
        if i + 1 < total:
            # Re-impose the evidence at the next step's noise level.
            noise = torch.randn(
                known.shape, generator=generator, device=known.device, dtype=known.dtype
            )
            evidence = sampler.add_noise(known, noise, timesteps[i + 1].reshape(1))
            x = intact * evidence + (1 - intact) * x
        else:
            x = intact * known + (1 - intact) * x.clamp(-1, 1)
        if on_step is not None:
            current = predicted

            def estimate(current=current):
                return intact * known + (1 - intact) * current

            on_step(i + 1, total, estimate)
    return x


def dihedral(image: np.ndarray, view: int) -> np.ndarray:
    """One of the 8 rotations/reflections of a square (S, S, ...) array: view 0 is the array."""
    image = np.rot90(image, view % 4, axes=(0, 1))
    return np.ascontiguousarray(image[:, ::-1] if view % 8 >= 4 else image)


def undihedral(x: torch.Tensor, view: int) -> torch.Tensor:
    """(B, C, S, S) network outputs of dihedral(., view) inputs, turned back."""
    if view % 8 >= 4:
        x = x.flip(3)
    return torch.rot90(x, -(view % 4), dims=(2, 3))


@torch.inference_mode()
def expected_fill(
    model,
    *,
    known: torch.Tensor,
    mask: torch.Tensor,
    structure: torch.Tensor,
    texture: torch.Tensor,
    generator: torch.Generator,
    coarse: torch.Tensor | None = None,
) -> torch.Tensor:
    """The network's clean-image estimate from the noisiest level, intact pixels kept.

    Trained with a squared error on the clean image, the network's output from pure noise is its
    estimate of the expected fill given the evidence (the posterior mean): the restoration with
    the least error on average, smoother than any sample. One network pass.
    """
    timestep = model.config.num_train_timesteps - 1
    batch_t = torch.full((known.shape[0],), timestep, device=known.device, dtype=torch.long)
    x = torch.randn(known.shape, generator=generator, device=known.device, dtype=known.dtype)
    predicted = model(x, known, mask, structure, texture, batch_t, coarse=coarse).clamp(-1, 1)
    intact = (mask <= 0).to(known.dtype)
    return intact * known + (1 - intact) * predicted


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    array = ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()
    return array.transpose(1, 2, 0)
