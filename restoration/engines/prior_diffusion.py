"""Seed 000's prior-guided diffusion inpainting: structure + texture priors, gated by timestep.

The network (restoration.learned.unet) is a pixel-space U-Net from diffusers' blocks that
predicts the clean image from the noisy one, the damaged image, its mask and the two priors
(restoration.priors); a DDIM or DPM-Solver++ sampler denoises in `steps` steps and the intact
pixels are re-imposed after every step. Large images are restored window by window around the
damage at the checkpoint's working size, windows overlapping and blended with feathered weights,
so the cost follows the damaged area and intact pixels are never downscaled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from restoration.engines.base import Engine, EngineError, Param, ProgressCallback, Restored
from restoration.engines.windowing import WindowedCanvas, windows

DEFAULT_WINDOW = 256
# Averaging samples estimates the expected restoration (the posterior mean), which is closer to
# the lost original on average than any one sample: see docs/benchmarks.md for what it buys.
DEFAULT_SAMPLES = 1
# "sample": denoise step by step; "expected": the one-pass estimate of the expected fill.
OUTPUTS = ("sample", "expected")


class PriorDiffusionEngine(Engine):
    """Diffusion inpainting guided by structure and texture priors (seed 000), learned weights."""

    name = "prior_diffusion"
    version = "1"
    needs_weights = True
    params = {
        "steps": Param(int, 20, minimum=1, maximum=200, help="Denoising steps"),
        "scheduler": Param(
            str, "ddim", choices=("ddim", "dpm++"), help="Sampler: DDIM or DPM-Solver++ (2M)"
        ),
        "samples": Param(
            int,
            DEFAULT_SAMPLES,
            minimum=1,
            maximum=16,
            label="Samples averaged",
            help="Restorations drawn and averaged: more give a more cautious fill with less "
            "invented detail, at proportional cost; 1 gives one plausible restoration. With the "
            "expected output: rotated and mirrored views of the damage averaged (8 is best)",
        ),
        "output": Param(
            str,
            "sample",
            choices=OUTPUTS,
            label="Output",
            help="sample: a restoration drawn step by step, with plausible invented detail; "
            "expected: the network's estimate of the expected fill in one pass (the least "
            "error on average, smoother, ignores the steps and sampler)",
        ),
    }

    def __init__(self, *, options=None, checkpoint=None, device="cpu") -> None:
        super().__init__(options=options, checkpoint=checkpoint, device=device)
        import torch

        from restoration.learned import checkpoint as checkpoints

        dtype_name = str(self.options.get("dtype", "auto"))
        if dtype_name == "auto":
            dtype_name = "float16" if str(device).startswith("cuda") else "float32"
        if dtype_name not in ("float16", "float32", "bfloat16"):
            raise EngineError("prior_diffusion: dtype must be auto, float16, float32 or bfloat16")
        self.dtype = getattr(torch, dtype_name)
        if not Path(str(checkpoint)).exists():
            raise EngineError(f"prior_diffusion: checkpoint {checkpoint} does not exist")
        try:
            config = checkpoints.read_config(checkpoint)
            if config.get("engine") != self.name:
                raise checkpoints.CheckpointError(
                    f"{checkpoint} holds weights of engine {config.get('engine')!r}, "
                    f"not {self.name!r}"
                )
            self.backbone = config.get("backbone", "pixel")
            if self.backbone == "sd":
                self._load_sd(checkpoint, config)
            else:
                self.model, self.config = checkpoints.load_model(
                    checkpoint, engine=self.name, device=device, dtype=self.dtype
                )
                self.multiple = self.model.config.multiple
        except (checkpoints.CheckpointError, OSError, ValueError) as exc:
            raise EngineError(str(exc)) from exc
        self.window = int(self.options.get("window", DEFAULT_WINDOW))
        if self.window % self.multiple:
            raise EngineError(f"prior_diffusion: window must be a multiple of {self.multiple}")
        self.batch = max(1, int(self.options.get("batch", 1 if device == "cpu" else 8)))

    def _load_sd(self, checkpoint, config) -> None:
        """The paper's setting: a frozen SD inpainting pipeline plus the trained prior adapter.

        The pipeline folder is OPTIONS["sd_model"] when set, else the one the adapter was
        trained on (recorded in its config.json).
        """
        from restoration.learned import sd_backbone

        location = str(self.options.get("sd_model") or config.get("sd_model", ""))
        if not location:
            raise EngineError("prior_diffusion: this adapter names no SD inpainting model")
        self.pipe = sd_backbone.load_pipeline(
            location,
            device=self.device,
            dtype=self.dtype,
            online=bool(self.options.get("online", False)),
        )
        self.adapter, self.config = sd_backbone.load_adapter(
            checkpoint, device=self.device, dtype=self.dtype
        )
        self.prompt = str(self.options.get("prompt") or config.get("prompt", ""))
        self.sd_model = location
        self.multiple = sd_backbone.multiple_of(self.pipe)

    def close(self) -> None:
        import torch

        self.model = self.pipe = self.adapter = None
        if str(self.device).startswith("cuda"):
            torch.cuda.empty_cache()

    def restore(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        *,
        seed: int,
        params: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> Restored:
        """Restore window by window; progress once per denoising step of each batch of windows.

        mask: (H, W) bool, or uint8 0-255 / float 0-1 damage strength (fading, seed 002).
        The preview is the whole image with every window's current clean-image estimate.
        """
        import diffusers
        import torch

        from restoration.learned import data, sampling
        from restoration.priors import damage_strength

        strength = damage_strength(mask)
        damaged = strength > 0
        height, width = damaged.shape
        size = self.window
        # A small image is padded (reflecting its intact pixels, which stay intact) up to one
        # window; padding is cut off again at the end.
        pad_h, pad_w = max(0, size - height), max(0, size - width)
        multiple = self.multiple
        if pad_h or pad_w:
            pad_h += (-(height + pad_h)) % multiple
            pad_w += (-(width + pad_w)) % multiple
        work = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        work_strength = np.pad(strength, ((0, pad_h), (0, pad_w)), mode="reflect")
        size = min(size, work.shape[0], work.shape[1])
        size -= size % multiple
        corners = windows(work_strength > 0, size)
        batches = [corners[i : i + self.batch] for i in range(0, len(corners), self.batch)]
        steps, scheduler = int(params["steps"]), str(params["scheduler"])
        samples = int(params.get("samples", DEFAULT_SAMPLES))
        output = str(params.get("output", "sample"))
        if output == "expected":
            if self.backbone == "sd":
                raise EngineError(
                    "prior_diffusion: the expected output needs a pixel-space checkpoint; "
                    "Stable Diffusion adapters only sample"
                )
            steps = 1  # one network pass per window
        total = len(batches) * steps

        canvas = WindowedCanvas(work, work_strength > 0, size, height=height, width=width)
        generator = torch.Generator(self.device).manual_seed(int(seed))

        coarse = "none" if self.backbone == "sd" else self.model.config.coarse_fill
        on_progress(0, total)
        for index, batch in enumerate(batches):
            if output == "expected":
                crops = [
                    (work[y : y + size, x : x + size], work_strength[y : y + size, x : x + size])
                    for y, x in batch
                ]
                restored = self._expected(crops, samples, coarse, generator)

                def preview(batch=batch, restored=restored):
                    return self._preview_batch(canvas, batch, self._preview_tiles(restored, size))

                on_progress(index + 1, total, preview=preview)
                for corner, tile in zip(batch, restored, strict=True):
                    canvas.add(corner, sampling.to_uint8(tile))
                continue
            inputs = [
                data.model_inputs(
                    work[y : y + size, x : x + size],
                    work_strength[y : y + size, x : x + size],
                    coarse=coarse,
                )
                for y, x in batch
            ]
            # Each window `samples` times over (window-major): the draws differ by their noise.
            tensors = {
                key: sampling.to_tensor(
                    np.stack([part[key] for part in inputs]), self.device, self.dtype
                ).repeat_interleave(samples, dim=0)
                for key in inputs[0]
            }

            def on_step(step, _total, estimate, index=index, batch=batch):
                def preview():
                    tiles = self._preview_tiles(self._average(estimate(), samples), size)
                    return self._preview_batch(canvas, batch, tiles)

                on_progress(index * steps + step, total, preview=preview)

            restored = self._average(
                self._denoise(tensors, steps, scheduler, generator, on_step), samples
            )
            for corner, tile in zip(batch, restored, strict=True):
                canvas.add(corner, sampling.to_uint8(tile))
        info = {
            "backbone": self.backbone,
            "output": output,
            **({"scheduler": scheduler} if output == "sample" else {}),
            "steps": steps,
            "samples": samples,
            "window": size,
            "windows": len(corners),
            "dtype": str(self.dtype).removeprefix("torch."),
            "architecture": self.config.get("architecture", {}),
            "trained_steps": self.config.get("training", {}).get("steps"),
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
        }
        if self.backbone == "sd":
            info.update(sd_model=self.sd_model, prompt=self.prompt)
        return Restored(canvas.result(), info)

    @staticmethod
    def _preview_batch(canvas, batch, tiles):
        for corner, tile in zip(batch, tiles, strict=True):
            canvas.estimate(corner, tile)
        return canvas.render()

    def _expected(self, crops, views: int, coarse: str, generator):
        """(windows, 3, S, S) expected fills in [-1, 1] of (image, strength) window crops.

        Each estimate is averaged over `views` rotated and mirrored copies of its window (the 8
        symmetries of the square, then again with new noise), with the priors computed on each
        copy: that evens out the network's orientation-dependent errors.
        """
        from restoration.learned import data, sampling

        total = None
        for view in range(views):
            inputs = [
                data.model_inputs(
                    sampling.dihedral(image, view), sampling.dihedral(strength, view), coarse=coarse
                )
                for image, strength in crops
            ]
            tensors = {
                key: sampling.to_tensor(
                    np.stack([part[key] for part in inputs]), self.device, self.dtype
                )
                for key in inputs[0]
            }
            fill = sampling.expected_fill(self.model, generator=generator, **tensors)
            fill = sampling.undihedral(fill, view).float()
            total = fill if total is None else total + fill
        return (total / views).clamp(-1, 1)

    @staticmethod
    def _average(images, samples: int):
        """(windows * samples, C, H, W) -> (windows, C, H, W): the mean of each window's draws."""
        if samples == 1:
            return images
        return images.reshape(-1, samples, *images.shape[1:]).float().mean(dim=1)

    def _denoise(self, tensors, steps, scheduler, generator, on_step):
        """Clean images in [-1, 1] for one batch of windows, from the configured backbone.

        tensors: the model inputs (restoration.learned.data.model_inputs), batched.
        """
        from restoration.learned import sampling

        if self.backbone == "sd":
            from restoration.learned import sd_backbone

            return sd_backbone.inpaint(
                self.pipe,
                self.adapter,
                known=tensors["known"],
                mask=tensors["mask"],
                structure=tensors["structure"],
                texture=tensors["texture"],
                prompt=self.prompt,
                steps=steps,
                scheduler=scheduler,
                generator=generator,
                on_step=on_step,
            )
        return sampling.inpaint(
            self.model,
            known=tensors["known"],
            mask=tensors["mask"],
            structure=tensors["structure"],
            texture=tensors["texture"],
            coarse=tensors.get("coarse"),
            steps=steps,
            scheduler=scheduler,
            generator=generator,
            on_step=on_step,
        )

    def _preview_tiles(self, estimate, size: int) -> list[np.ndarray]:
        """float32 (size, size, 3) RGB tiles of a step's clean estimate (latents made RGB
        with the cheap linear approximation, no VAE decode)."""
        import cv2

        from restoration.learned import sampling

        if self.backbone != "sd":
            return [sampling.to_uint8(tile).astype(np.float32) for tile in estimate]
        from restoration.engines.sd_inpaint import latent_preview

        tiles = []
        for latent in estimate.float().cpu().numpy():
            rgb = latent_preview(latent)
            tiles.append(
                cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            )
        return tiles
