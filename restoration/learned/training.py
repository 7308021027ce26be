"""Training loop of the prior-guided diffusion inpainter (used by `manage.py train_engine`).

Deterministic on the CPU for a seed: the data comes from one numpy Generator, timesteps and
noise from one torch.Generator, and nothing touches process-wide random state. Writes a
checkpoint folder (restoration.learned.checkpoint) every `save_every` steps and at the end,
with EMA weights, and a sample grid (damaged | restored | truth) every `sample_every` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from restoration.learned import checkpoint, data

ENGINE = "prior_diffusion"
# What a network trained here gets unless its options say otherwise (UNetConfig's own defaults
# describe checkpoints saved before these choices existed).
NEW_NETWORK = {"coarse_fill": "harmonic"}


@dataclass
class TrainOptions:
    data: list[str]
    out: str
    masks: str | None = None
    size: int = 128
    steps: int = 1000
    batch: int = 8
    lr: float = 2e-4
    device: str = "cpu"
    resume: str | None = None
    # Start from the weights of this checkpoint folder (fine-tuning); its architecture is kept.
    init: str | None = None
    seed: int = 0
    sample_every: int = 250
    save_every: int = 250
    sample_steps: int = 10
    ema_decay: float = 0.999
    redistributable_only: bool = False
    generated: int = 0
    longest: int = 768
    max_minutes: float | None = None
    architecture: dict = field(default_factory=dict)
    threads: int | None = None
    # Share of the samples whose noise level is drawn from the noisy end of the schedule,
    # from noisy_from * T to T (the rest uniformly): those steps decide the fill's layout and
    # colours, and the last of them gives the "expected" output.
    high_noise: float = 0.0
    noisy_from: float = 0.7
    # Weight of 1 - SSIM of the restored damage (the intact pixels re-imposed, as the engine
    # does) added to the squared error: 0 trains for the squared error alone.
    ssim_weight: float = 0.0
    # File-name pattern (fnmatch) -> sampling weight of the matching images (others 1), e.g.
    # {"dh_*": 3} draws each Dunhuang crop three times as often as another image.
    oversample: dict = field(default_factory=dict)
    # Add a border refiner of this width (UNetConfig.refiner_channels) to the network; with
    # `init`, to the start's network (which must not have one), its other weights kept.
    refiner: int = 0
    # Train the border refiner only: the rest of the network keeps its weights (those of
    # `init`) and the refiner learns to correct what that network restores.
    refiner_only: bool = False


def _ema_update(ema, model, decay: float) -> None:
    import torch

    with torch.no_grad():
        for target, source in zip(ema.parameters(), model.parameters(), strict=True):
            target.lerp_(source, 1 - decay)
        for target, source in zip(ema.buffers(), model.buffers(), strict=True):
            target.copy_(source)


def _initial_checkpoint(folder: str) -> dict:
    """Weights, config and lineage of the checkpoint a fine-tuning run starts from."""
    from heritage.imaging import sha256_of

    path = Path(folder)
    if not path.exists():
        raise ValueError(f"--init: {folder} does not exist")
    try:
        model, config = checkpoint.load_model(path, engine=ENGINE)
    except checkpoint.CheckpointError as exc:
        raise ValueError(f"--init: {exc}") from exc
    path = path if path.is_dir() else path.parent
    with (path / checkpoint.WEIGHTS).open("rb") as weights:
        digest = sha256_of(weights)
    training = config.get("training", {})
    lineage = {
        "checkpoint": path.name,
        "sha256": digest,
        "steps": training.get("steps"),
        "seconds": training.get("seconds"),
        **({"init": training["init"]} if "init" in training else {}),
    }
    return {"model": model, "config": config, "lineage": lineage}


def _merge_manifests(earlier: list[dict], current: list[dict]) -> list[dict]:
    """Every image a fine-tuned network has learned from: its start's data, then the new data."""
    seen = {entry.get("sha256") for entry in earlier}
    return list(earlier) + [entry for entry in current if entry.get("sha256") not in seen]


def _resumed_config(resume: str) -> dict:
    """The config saved beside the training state `resume` names ({} when there is none)."""
    path = Path(resume)
    try:
        return checkpoint.read_config(path if path.is_dir() else path.parent)
    except checkpoint.CheckpointError:
        return {}


def _tensors(batch: data.Batch, device):
    import torch

    return {
        key: torch.from_numpy(getattr(batch, key)).to(device)
        for key in ("clean", "known", "mask", "structure", "texture", "coarse")
        if getattr(batch, key) is not None
    }


def loss_fn(predicted, clean, mask, *, ssim_weight: float = 0.0):
    """MSE of the clean-image prediction, mostly over the damage (known pixels are given),
    plus ssim_weight * (1 - SSIM of the damaged region) when ssim_weight > 0."""
    weight = 0.1 + 0.9 * (mask > 0).float()
    loss = ((predicted - clean) ** 2 * weight).sum() / (weight.sum() * clean.shape[1])
    if ssim_weight:
        loss = loss + ssim_weight * (1 - damaged_ssim(predicted, clean, mask))
    return loss


def _gaussian_window(channels: int, device, dtype, sigma: float = 1.5, radius: int = 5):
    import torch

    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, -1, -1).contiguous()


def damaged_ssim(predicted, clean, mask):
    """Mean SSIM over the damaged pixels of the restoration (intact pixels re-imposed), with the
    settings of restoration.metrics.ssim (Wang et al. 2004: Gaussian window sigma 1.5, 11 taps,
    K1 0.01, K2 0.03), differentiable. Images (B, 3, H, W) in [-1, 1]; mask (B, 1, H, W)."""
    from torch.nn import functional as F

    damaged = (mask > 0).to(predicted.dtype)
    x = (damaged * predicted + (1 - damaged) * clean + 1) / 2
    y = (clean + 1) / 2
    channels = x.shape[1]
    window = _gaussian_window(channels, x.device, x.dtype)

    def blur(image):
        return F.conv2d(F.pad(image, (5, 5, 5, 5), mode="reflect"), window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    per_pixel = ssim_map.mean(dim=1, keepdim=True)
    return (per_pixel * damaged).sum() / damaged.sum().clamp(min=1.0)


def sample_grid(model, batch: data.Batch, *, steps: int, seed: int, device) -> np.ndarray:
    """(rows * S, 3 * S, 3) uint8: damaged input | restoration | truth for each row."""
    import torch

    from restoration.learned import sampling

    tensors = _tensors(batch, device)
    generator = torch.Generator(device).manual_seed(seed)
    restored = sampling.inpaint(
        model,
        known=tensors["known"],
        mask=tensors["mask"],
        structure=tensors["structure"],
        texture=tensors["texture"],
        steps=steps,
        scheduler="ddim",
        generator=generator,
        coarse=tensors.get("coarse"),
    )
    rows = []
    for i in range(restored.shape[0]):
        rows.append(
            np.concatenate(
                [
                    sampling.to_uint8(tensors["known"][i]),
                    sampling.to_uint8(restored[i]),
                    sampling.to_uint8(tensors["clean"][i]),
                ],
                axis=1,
            )
        )
    return np.concatenate(rows, axis=0)


def train(
    options: TrainOptions,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train and write the checkpoint folder; returns its config (also in config.json).

    on_step(step, total, loss) after every optimisation step, once that step's sample grid and
    checkpoint (when due) are written (raise to stop: the last saved checkpoint stays).
    Raises ValueError for bad data folders or options.
    """
    import torch
    from PIL import Image

    from restoration.learned import sampling
    from restoration.learned.unet import PriorGuidedUNet, UNetConfig

    if options.threads:
        import cv2

        torch.set_num_threads(options.threads)
        cv2.setNumThreads(options.threads)
    device = torch.device(options.device)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)

    sources: list[data.Source] = []
    for folder in options.data:
        sources += data.load_folder(
            folder, longest=options.longest, redistributable_only=options.redistributable_only
        )
    if options.generated:
        sources += data.generated_sources(options.generated)
    mask_files = data.load_mask_folder(options.masks) if options.masks else None
    manifest = [source.manifest_entry() for source in sources]
    log(f"{len(sources)} training images, {len(mask_files or [])} mask files")

    start, lineage = None, None
    resumed = _resumed_config(options.resume) if options.resume else {}
    if options.init:
        if options.resume:
            raise ValueError("--init and --resume exclude each other: --resume continues a run")
        start = _initial_checkpoint(options.init)
        lineage = start["lineage"]
        config = UNetConfig.from_dict(start["config"].get("architecture", {}))
        if options.refiner:
            if config.refiner_channels:
                raise ValueError(
                    f"--refiner: {options.init} already has a border refiner "
                    f"({config.refiner_channels} channels)"
                )
            config.refiner_channels = options.refiner
        manifest = _merge_manifests(start["config"].get("training", {}).get("data", []), manifest)
    elif "init" in resumed.get("training", {}):
        # A fine-tuning run continued: its network keeps the start's architecture, lineage and
        # earlier images, whatever architecture options this call carries.
        lineage = resumed["training"]["init"]
        config = UNetConfig.from_dict(resumed.get("architecture", {}))
        manifest = _merge_manifests(resumed["training"].get("data", []), manifest)
    elif resumed.get("architecture"):
        # A run continued keeps the network it saved, whatever this call's architecture options
        # (or today's defaults for new networks) say.
        config = UNetConfig.from_dict(resumed["architecture"])
    else:
        config = UNetConfig.from_dict(
            {
                **NEW_NETWORK,
                **options.architecture,
                **({"refiner_channels": options.refiner} if options.refiner else {}),
            }
        )
    if options.refiner_only and not config.refiner_channels:
        raise ValueError("--refiner-only needs a network with a border refiner (--refiner N)")
    coarse = config.coarse_fill
    if not 0 <= options.high_noise <= 1:
        raise ValueError(f"high_noise must be between 0 and 1, got {options.high_noise}")
    if not 0 <= options.noisy_from < 1:
        raise ValueError(f"noisy_from must be in [0, 1), got {options.noisy_from}")
    if options.ssim_weight < 0:
        raise ValueError(f"ssim_weight must not be negative, got {options.ssim_weight}")
    weights = data.source_weights(sources, options.oversample)
    if options.size % config.multiple:
        raise ValueError(f"--size must be a multiple of {config.multiple}, got {options.size}")
    # Initial weights from the seed. Layer constructors draw from torch's global generator;
    # fork_rng restores it afterwards, and nothing else in the product draws from it.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        model = PriorGuidedUNet(config).to(device)
    if start is not None:
        missing, unexpected = model.load_state_dict(start["model"].state_dict(), strict=False)
        # Only a refiner added by this run may be missing from the start's weights.
        if unexpected or any(not key.startswith("refiner.") for key in missing):
            raise ValueError(f"--init: {options.init} does not match the network to train")
    ema = PriorGuidedUNet(config).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    if options.refiner_only:
        model.requires_grad_(False)
        model.refiner.requires_grad_(True)
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=options.lr, weight_decay=0.0)
    scheduler = sampling.training_scheduler(config.num_train_timesteps)
    rng = np.random.default_rng(options.seed)
    generator = torch.Generator(device).manual_seed(options.seed)
    step, losses, seconds_before = 0, [], 0.0

    if options.resume:
        state_path = Path(options.resume)
        state_path = state_path / checkpoint.STATE if state_path.is_dir() else state_path
        if not state_path.is_file():
            raise ValueError(f"--resume: {state_path} does not exist")
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimiser.load_state_dict(state["optimiser"])
        rng.bit_generator.state = state["numpy_rng"]
        generator.set_state(state["torch_rng"])
        step, losses, seconds_before = state["step"], state["losses"], state["seconds"]
        log(f"resumed from step {step}")

    preview_rng = np.random.default_rng(options.seed + 1)
    preview_batch = data.make_batch(
        sources, batch=4, size=options.size, rng=preview_rng, mask_files=mask_files, coarse=coarse
    )
    started = time.monotonic()

    def save() -> dict:
        seconds = seconds_before + time.monotonic() - started
        saved = {
            "engine": ENGINE,
            "architecture": config.to_dict(),
            "scheduler": {
                "training": "ddpm",
                "beta_schedule": "squaredcos_cap_v2",
                "prediction_type": "sample",
            },
            "training": {
                "options": {k: v for k, v in asdict(options).items() if k != "architecture"},
                "steps": step,
                "losses": [round(x, 5) for x in losses],
                "seconds": round(seconds, 1),
                "device": str(device),
                "threads": torch.get_num_threads(),
                "data": manifest,
                **({"init": lineage} if lineage is not None else {}),
            },
        }
        checkpoint.save(out, ema, saved)
        torch.save(
            {
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimiser": optimiser.state_dict(),
                "numpy_rng": rng.bit_generator.state,
                "torch_rng": generator.get_state(),
                "step": step,
                "losses": losses,
                "seconds": seconds,
            },
            out / checkpoint.STATE,
        )
        return saved

    model.train()
    window: list[float] = []
    while step < options.steps:
        if options.max_minutes and (time.monotonic() - started) / 60 > options.max_minutes:
            log(f"stopping at step {step}: --max-minutes {options.max_minutes} reached")
            break
        batch = _tensors(
            data.make_batch(
                sources,
                batch=options.batch,
                size=options.size,
                rng=rng,
                mask_files=mask_files,
                coarse=coarse,
                weights=weights,
            ),
            device,
        )
        # Warm-up then cosine decay of the learning rate.
        lr = options.lr * min(1.0, (step + 1) / 100)
        lr *= 0.5 * (1 + math.cos(math.pi * min(step / max(options.steps, 1), 1.0))) * 0.9 + 0.1
        for group in optimiser.param_groups:
            group["lr"] = lr
        T = config.num_train_timesteps
        t = torch.randint(0, T, (options.batch,), generator=generator)
        if options.high_noise:
            noisy = torch.randint(
                int(options.noisy_from * T), T, (options.batch,), generator=generator
            )
            pick = torch.rand(options.batch, generator=generator) < options.high_noise
            t = torch.where(pick, noisy, t)
        t = t.to(device)
        noise = torch.randn(batch["clean"].shape, generator=generator).to(device)
        x_t = scheduler.add_noise(batch["clean"], noise, t)
        predicted = model(
            x_t,
            batch["known"],
            batch["mask"],
            batch["structure"],
            batch["texture"],
            t,
            coarse=batch.get("coarse"),
        )
        loss = loss_fn(predicted, batch["clean"], batch["mask"], ssim_weight=options.ssim_weight)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step()
        step += 1
        _ema_update(ema, model, min(options.ema_decay, (1 + step) / (10 + step)))
        value = float(loss.detach())
        window.append(value)
        if len(window) == 10 or step == options.steps:
            losses.append(float(np.mean(window)))
            window = []
        if step % options.sample_every == 0 or step == options.steps:
            ema.eval()
            grid = sample_grid(
                ema, preview_batch, steps=options.sample_steps, seed=options.seed, device=device
            )
            Image.fromarray(grid).save(out / "samples" / f"step_{step:06d}.png")
            Image.fromarray(grid).save(out / "samples" / "latest.png")
        if step % options.save_every == 0:
            save()
        # Last, so a watcher finds this step's sample grid and checkpoint already written.
        if on_step is not None:
            on_step(step, options.steps, value)
    return save()
