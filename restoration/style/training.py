"""Training of CycleGAN, CUT and FastCUT on two unpaired image domains (`manage.py train_style`).

The methods follow the original implementations (junyanz/pytorch-CycleGAN-and-pix2pix
models/cycle_gan_model.py, taesungp/contrastive-unpaired-translation models/cut_model.py):
- cyclegan: generators G_A (A->B) and G_B (B->A), PatchGAN discriminators D_A (judges B) and
  D_B (judges A), LSGAN loss, cycle loss (lambda 10), identity loss (0.5 x 10), a pool of 50
  earlier fakes for the discriminators, Adam(2e-4, betas 0.5/0.999).
- cut: one generator G, PatchNCE (lambda 1) between the encoder features of input and output
  at layers 0, 4, 8, 12, 16 (256 patches each, a two-layer MLP head per layer), plus the same
  loss on B -> G(B) (nce_idt); fastcut: lambda_NCE 10, no nce_idt, flip-equivariance.
The learning rate is constant, then decays linearly to 0 from `decay_from` to the last step
(with max_minutes, at the step count or the share of the time used, whichever is further).
Deterministic on the CPU for a seed: crops, flips and the pool draw from one numpy Generator,
patch positions from one torch.Generator; initial weights from the seed under fork_rng.

Checkpoint folder (written atomically every `save_every` steps and at the end):
  model.safetensors  the A->B generator (G_A / G), keys in the originals' layout, float32
  config.json        engine, variant, architecture, size, steps, losses, training data
  training_state.pt  all networks, optimisers, generators' states, pool, step: for --resume
  samples/step_NNNNNN.png  rows of input | output [| reconstruction] on fixed held-back crops
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from restoration.style import data

VARIANTS = ("cyclegan", "cut", "fastcut")
WEIGHTS, CONFIG, STATE = "model.safetensors", "config.json", "training_state.pt"


@dataclass
class StyleTrainOptions:
    variant: str
    domain_a: list[Path]
    domain_b: list[Path]
    out: Path
    size: int = 256
    load_size: int = 286
    steps: int = 1000
    batch: int = 1
    lr: float = 2e-4
    decay_from: int | None = None  # default: half of the steps
    seed: int = 0
    sample_every: int = 250
    save_every: int = 250
    device: str = "cpu"
    resume: Path | None = None
    ngf: int = 64
    n_blocks: int = 9
    ndf: int = 64
    threads: int | None = None
    max_minutes: float | None = None
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    lambda_nce: float | None = None  # default: 1 (cut), 10 (fastcut)
    num_patches: int = 256
    nce_layers: tuple[int, ...] = (0, 4, 8, 12, 16)
    nce_temperature: float = 0.07
    command: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return "cyclegan" if self.variant == "cyclegan" else "cut"

    def validate(self) -> None:
        """Raises ValueError for options that cannot train."""
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.size < 16 or self.size % 4:
            raise ValueError(f"size must be a multiple of 4 and at least 16, got {self.size}")
        if self.load_size < self.size:
            raise ValueError(f"load_size ({self.load_size}) must be >= size ({self.size})")
        for name in ("steps", "batch", "sample_every", "save_every", "ngf", "ndf"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks must be 0 or more, got {self.n_blocks}")
        if self.decay_from is not None and self.decay_from < 0:
            raise ValueError(f"decay_from must be 0 or more, got {self.decay_from}")
        # CUT's generator has 23 + n_blocks layers; a layer id past them would never be reached.
        if self.variant != "cyclegan" and (
            list(self.nce_layers) != sorted(set(self.nce_layers))
            or not 0 <= self.nce_layers[0] <= self.nce_layers[-1] < 23 + self.n_blocks
        ):
            raise ValueError("nce_layers must be ascending ids of generator layers")


class ImagePool:
    """CycleGAN's buffer of earlier fakes: once full, each query returns a stored fake (and
    stores the new one in its place) half of the time, so the discriminator sees history."""

    def __init__(self, size: int):
        self.size = size
        self.images: list = []

    def query(self, images, rng: np.random.Generator):
        import torch

        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif rng.random() < 0.5:
                index = int(rng.integers(0, self.size))
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)


def _lr_factor(step: int, steps: int, decay_from: int) -> float:
    """Linear decay as the originals' 'linear' policy, counted in steps instead of epochs."""
    return 1.0 - max(0, step - decay_from) / float(steps - decay_from + 1)


def _to_uint8(tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    array = tensor.detach().float().cpu().clamp(-1, 1).numpy().transpose(1, 2, 0)
    return np.round((array + 1) * 127.5).astype(np.uint8)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


class _Model:
    """The networks, optimisers and one training step of a variant."""

    def __init__(self, options: StyleTrainOptions, device):
        import torch

        from restoration.style.networks import (
            NLayerDiscriminator,
            PatchSampleMLP,
            ResnetGenerator,
            init_weights,
        )

        self.options, self.device = options, device
        o = options
        cyclegan = o.variant == "cyclegan"
        betas = (0.5, 0.999)
        # Layer constructors draw from torch's global generator; fork_rng restores it afterwards,
        # so the weights depend on the seed alone and nothing else in the process is disturbed.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(o.seed)
            init = "normal" if cyclegan else "xavier"  # the originals' defaults

            def generator():
                net = ResnetGenerator(ngf=o.ngf, n_blocks=o.n_blocks, antialias=not cyclegan)
                init_weights(net, init)
                return net.to(device)

            def discriminator():
                net = NLayerDiscriminator(ndf=o.ndf, n_layers=3, antialias=not cyclegan)
                init_weights(net, init)
                return net.to(device)

            if cyclegan:
                self.nets = {
                    "G_A": generator(),
                    "G_B": generator(),
                    "D_A": discriminator(),
                    "D_B": discriminator(),
                }
            else:
                self.nets = {"G": generator(), "D": discriminator()}
                head = PatchSampleMLP(self.nets["G"].feature_channels(o.nce_layers), nc=256)
                init_weights(head, init)
                self.nets["F"] = head.to(device)
        if cyclegan:
            g_params = [*self.nets["G_A"].parameters(), *self.nets["G_B"].parameters()]
            d_params = [*self.nets["D_A"].parameters(), *self.nets["D_B"].parameters()]
            self.optimisers = {
                "G": torch.optim.Adam(g_params, lr=o.lr, betas=betas),
                "D": torch.optim.Adam(d_params, lr=o.lr, betas=betas),
            }
            self.pools = {"A": ImagePool(o.pool_size), "B": ImagePool(o.pool_size)}
        else:
            self.optimisers = {
                name: torch.optim.Adam(self.nets[name].parameters(), lr=o.lr, betas=betas)
                for name in ("G", "D", "F")
            }
            self.pools = {}
            default_lambda = 10.0 if o.variant == "fastcut" else 1.0
            self.lambda_nce = default_lambda if o.lambda_nce is None else o.lambda_nce
            self.nce_idt = o.variant == "cut"
            self.flip_equivariance = o.variant == "fastcut"

    @property
    def generator(self):
        """The A->B generator (what is shipped)."""
        return self.nets["G_A" if "G_A" in self.nets else "G"]

    def set_lr(self, lr: float) -> None:
        for optimiser in self.optimisers.values():
            for group in optimiser.param_groups:
                group["lr"] = lr

    def state(self) -> dict:
        return {
            "nets": {name: net.state_dict() for name, net in self.nets.items()},
            "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
            "pools": {name: pool.images for name, pool in self.pools.items()},
        }

    def load_state(self, state: dict) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(state["nets"][name])
        for name, optimiser in self.optimisers.items():
            optimiser.load_state_dict(state["optimisers"][name])
        for name, pool in self.pools.items():
            pool.images = [image.to(self.device) for image in state["pools"][name]]

    def step(self, real_a, real_b, rng: np.random.Generator, generator) -> dict[str, float]:
        if self.options.variant == "cyclegan":
            return self._cyclegan_step(real_a, real_b, rng)
        return self._cut_step(real_a, real_b, rng, generator)

    def _cyclegan_step(self, real_a, real_b, rng) -> dict[str, float]:
        from torch.nn import functional as F

        from restoration.style.losses import lsgan

        o, n = self.options, self.nets
        fake_b = n["G_A"](real_a)
        rec_a = n["G_B"](fake_b)
        fake_a = n["G_B"](real_b)
        rec_b = n["G_A"](fake_a)
        # Generators, with the discriminators frozen.
        for name in ("D_A", "D_B"):
            n[name].requires_grad_(False)
        losses = {}
        if o.lambda_identity > 0:
            weight = o.lambda_cycle * o.lambda_identity
            losses["idt_A"] = F.l1_loss(n["G_A"](real_b), real_b) * weight
            losses["idt_B"] = F.l1_loss(n["G_B"](real_a), real_a) * weight
        losses["G_A"] = lsgan(n["D_A"](fake_b), True)
        losses["G_B"] = lsgan(n["D_B"](fake_a), True)
        losses["cycle_A"] = F.l1_loss(rec_a, real_a) * o.lambda_cycle
        losses["cycle_B"] = F.l1_loss(rec_b, real_b) * o.lambda_cycle
        self.optimisers["G"].zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        self.optimisers["G"].step()
        # Discriminators, on real images and pooled earlier fakes.
        for name in ("D_A", "D_B"):
            n[name].requires_grad_(True)
        self.optimisers["D"].zero_grad(set_to_none=True)
        pooled_b = self.pools["B"].query(fake_b, rng)
        losses["D_A"] = (
            lsgan(n["D_A"](real_b), True) + lsgan(n["D_A"](pooled_b.detach()), False)
        ) * 0.5
        pooled_a = self.pools["A"].query(fake_a, rng)
        losses["D_B"] = (
            lsgan(n["D_B"](real_a), True) + lsgan(n["D_B"](pooled_a.detach()), False)
        ) * 0.5
        (losses["D_A"] + losses["D_B"]).backward()
        self.optimisers["D"].step()
        return {name: float(value.detach()) for name, value in losses.items()}

    def _nce(self, src, tgt, flipped: bool, generator):
        import torch

        from restoration.style.losses import patch_nce

        o, g, head = self.options, self.nets["G"], self.nets["F"]
        feat_q = g.encode(tgt, o.nce_layers)
        if flipped:
            feat_q = [torch.flip(f, [3]) for f in feat_q]
        feat_k = g.encode(src, o.nce_layers)
        pooled_k, ids = head(feat_k, o.num_patches, generator=generator)
        pooled_q, _ = head(feat_q, o.num_patches, patch_ids=ids)
        total = 0.0
        for q, k in zip(pooled_q, pooled_k, strict=True):
            loss = patch_nce(q, k, batch=src.shape[0], temperature=o.nce_temperature)
            total = total + (loss * self.lambda_nce).mean()
        return total / len(o.nce_layers)

    def _cut_step(self, real_a, real_b, rng, generator) -> dict[str, float]:
        import torch

        from restoration.style.losses import lsgan

        n = self.nets
        real = torch.cat([real_a, real_b]) if self.nce_idt else real_a
        flipped = self.flip_equivariance and rng.random() < 0.5
        if flipped:
            real = torch.flip(real, [3])
        fake = n["G"](real)
        fake_b = fake[: real_a.shape[0]]
        idt_b = fake[real_a.shape[0] :] if self.nce_idt else None
        losses = {}
        # Discriminator first (as CUT's optimize_parameters), on a detached fake.
        n["D"].requires_grad_(True)
        self.optimisers["D"].zero_grad(set_to_none=True)
        losses["D_fake"] = lsgan(n["D"](fake_b.detach()), False)
        losses["D_real"] = lsgan(n["D"](real_b), True)
        ((losses["D_fake"] + losses["D_real"]) * 0.5).backward()
        self.optimisers["D"].step()
        # Generator and MLP head.
        n["D"].requires_grad_(False)
        self.optimisers["G"].zero_grad(set_to_none=True)
        self.optimisers["F"].zero_grad(set_to_none=True)
        losses["G_GAN"] = lsgan(n["D"](fake_b), True)
        losses["NCE"] = self._nce(real_a, fake_b, flipped, generator)
        nce_both = losses["NCE"]
        if self.nce_idt:
            losses["NCE_Y"] = self._nce(real_b, idt_b, flipped, generator)
            nce_both = (losses["NCE"] + losses["NCE_Y"]) * 0.5
        (losses["G_GAN"] + nce_both).backward()
        self.optimisers["G"].step()
        self.optimisers["F"].step()
        return {name: float(value.detach()) for name, value in losses.items()}

    def sample_grid(self, preview) -> np.ndarray:
        """Rows of input | output [| reconstruction] for the fixed preview crops."""
        import torch

        g = self.generator
        was_training = g.training
        with torch.no_grad():
            g.eval()
            fake = g(preview)
            columns = [preview, fake]
            if "G_B" in self.nets:
                self.nets["G_B"].eval()
                columns.append(self.nets["G_B"](fake))
                self.nets["G_B"].train(was_training)
            g.train(was_training)
        rows = [
            np.concatenate([_to_uint8(column[i]) for column in columns], axis=1)
            for i in range(preview.shape[0])
        ]
        return np.concatenate(rows, axis=0)


def train_style(
    options: StyleTrainOptions,
    *,
    on_step: Callable[[int, int, dict[str, float], Path | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train and write the checkpoint folder; returns its config (also in config.json).

    on_step(step, total, losses, sample) after every step, once that step's sample grid (its
    path, else None) and checkpoint (when due) are written; it may raise to stop (the last saved
    checkpoint stays). should_stop() -> True, or max_minutes passing, saves and stops cleanly.
    Raises ValueError for bad options or data (empty folder, unreadable image, bad resume).
    """
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    options.validate()
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    domain_a = data.load_domain(options.domain_a, load_size=options.load_size, size=options.size)
    domain_b = data.load_domain(options.domain_b, load_size=options.load_size, size=options.size)
    log(f"{len(domain_a)} images in domain A, {len(domain_b)} in domain B")
    out = Path(options.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)

    model = _Model(options, device)
    rng = np.random.default_rng(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    step, history, seconds_before = 0, [], 0.0
    if options.resume:
        state_path = Path(options.resume)
        state_path = state_path / STATE if state_path.is_dir() else state_path
        if not state_path.is_file():
            raise ValueError(f"resume: {state_path} does not exist")
        state = torch.load(state_path, map_location=device, weights_only=False)
        if state.get("variant") != options.variant:
            raise ValueError(
                f"resume: {state_path} is a {state.get('variant')!r} run, not {options.variant!r}"
            )
        try:
            model.load_state(state["model"])
        except (KeyError, RuntimeError) as exc:
            raise ValueError(f"resume: {state_path} does not fit these options: {exc}") from exc
        rng.bit_generator.state = state["numpy_rng"]
        generator.set_state(state["torch_rng"])
        step, history, seconds_before = state["step"], state["history"], state["seconds"]
        log(f"resumed from step {step}")
    if step >= options.steps:
        raise ValueError(f"resume: the run is already at step {step} of {options.steps}")

    # Fixed preview crops (centre crops of the first images of A), for comparable samples.
    preview = torch.from_numpy(
        data.to_tensor_batch([data.center_crop(image, size=options.size) for image in domain_a[:4]])
    ).to(device)
    decay_from = options.steps // 2 if options.decay_from is None else options.decay_from
    manifest = {
        "domain_a": [image.manifest_entry() for image in domain_a],
        "domain_b": [image.manifest_entry() for image in domain_b],
    }
    started = time.monotonic()
    window: dict[str, list[float]] = {}
    last: dict[str, float] = {}

    def save() -> dict:
        seconds = seconds_before + time.monotonic() - started
        generator_net = model.generator
        config = {
            "engine": options.engine,
            "variant": options.variant,
            "ngf": options.ngf,
            "n_blocks": options.n_blocks,
            "antialias": options.engine == "cut",
            "size": options.size,
            "load_size": options.load_size,
            "steps": step,
            "losses": {name: round(value, 5) for name, value in last.items()},
            "training_data": manifest,
            "training": {
                "options": {
                    key: (str(value) if isinstance(value, Path) else value)
                    for key, value in asdict(options).items()
                    if key not in ("domain_a", "domain_b", "out", "resume")
                }
                | {
                    "domain_a": [str(p) for p in options.domain_a],
                    "domain_b": [str(p) for p in options.domain_b],
                },
                "seconds": round(seconds, 1),
                "device": str(device),
                "threads": torch.get_num_threads(),
                "history": history,
            },
        }
        tensors = {
            key: value.detach().float().cpu().contiguous()
            for key, value in generator_net.state_dict().items()
        }
        _atomic_write(
            out / WEIGHTS, lambda p: save_file(tensors, str(p), metadata={"format": "pt"})
        )
        torch.save(
            {
                "variant": options.variant,
                "model": model.state(),
                "numpy_rng": rng.bit_generator.state,
                "torch_rng": generator.get_state(),
                "step": step,
                "history": history,
                "seconds": seconds,
            },
            out / (STATE + ".tmp"),
        )
        (out / (STATE + ".tmp")).replace(out / STATE)
        # Config last: a folder with a config.json always has the weights it describes.
        _atomic_write(
            out / CONFIG,
            lambda p: p.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8"),
        )
        return config

    for net in model.nets.values():
        net.train()
    while step < options.steps:
        minutes = (time.monotonic() - started) / 60
        if options.max_minutes and minutes > options.max_minutes:
            log(f"stopping at step {step}: max_minutes {options.max_minutes} reached")
            break
        if should_stop is not None and should_stop():
            log(f"stopping at step {step} as asked")
            break
        # With a time limit the schedule follows whichever is further along, steps or time, so
        # a run cut short by max_minutes still ends its linear decay near 0.
        position = step
        if options.max_minutes:
            position = max(step, int(options.steps * minutes / options.max_minutes))
        lr = options.lr * _lr_factor(position, options.steps, decay_from)
        model.set_lr(lr)
        real_a = data.sample_batch(domain_a, batch=options.batch, size=options.size, rng=rng)
        real_b = data.sample_batch(domain_b, batch=options.batch, size=options.size, rng=rng)
        losses = model.step(
            torch.from_numpy(real_a).to(device),
            torch.from_numpy(real_b).to(device),
            rng,
            generator,
        )
        step += 1
        last = losses
        for name, value in losses.items():
            window.setdefault(name, []).append(value)
        if step % 50 == 0 or step == options.steps:
            history.append(
                {"step": step, "lr": lr}
                | {k: round(float(np.mean(v)), 5) for k, v in window.items()}
            )
            window = {}
        sample = None
        if step % options.sample_every == 0 or step == options.steps:
            sample = out / "samples" / f"step_{step:06d}.png"
            Image.fromarray(model.sample_grid(preview)).save(sample)
        if step % options.save_every == 0:
            save()
        # Last, so a watcher finds this step's sample grid and checkpoint already written.
        if on_step is not None:
            on_step(step, options.steps, losses, sample)
    if window:  # the steps since the last history point, when stopped early
        history.append(
            {"step": step, "lr": lr} | {k: round(float(np.mean(v)), 5) for k, v in window.items()}
        )
    return save()
