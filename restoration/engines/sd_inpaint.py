"""Any diffusers inpainting pipeline from a local folder (Stable Diffusion inpainting and kin).

The operator supplies the weights: a folder saved by diffusers' `save_pretrained` (or a Hugging
Face id already in the local cache), registered with `register_checkpoint FOLDER --engine
sd_inpaint`. `AutoPipelineForInpainting` picks the pipeline class from its `model_index.json`;
nothing is downloaded unless the operator sets OPTIONS `online`.

The text is damage-aware in the spirit of seeds 001 and 004: by default the prompt describes the
intact mural (`prompt_template` with the `style` parameter) plus, when given, the curator's
description of what was lost, and the negative prompt names the damage (cracks, stains,
flaking...) so that the model does not paint it back.

Large images are restored window by window around the damage at the pipeline's working size
(OPTIONS `size`), windows overlapping and blended with feathered weights
(restoration.engines.windowing, shared with prior_diffusion), so intact pixels are never
downscaled and the cost follows the damaged area. Each window's damage is widened to whole
latent cells for the pipeline (a crack thinner than a latent cell would otherwise vanish from
its mask and be reproduced), but only the damaged pixels are taken from its output: the intact
ones stay byte for byte.

Progress is reported once per denoising step through `callback_on_step_end`; the preview is a
fixed linear projection of the 4 latent channels to RGB (the known Stable Diffusion latent ->
RGB approximation), upscaled, so no VAE decode runs per step. Pipelines whose latents have
another number of channels report progress without a preview.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from restoration.engines.base import Engine, EngineError, Param, ProgressCallback, Restored
from restoration.engines.windowing import WindowedCanvas, windows

DEFAULT_SIZE = 512
PROMPT_TEMPLATE = "a restored {style} mural, intact pigment, continuous outlines"
NEGATIVE_PROMPT = "cracks, stains, flaking, modern paint, text, watermark"
MAX_TEXT = 1000  # characters; the text encoder reads 77 tokens anyway

# Scaled SD latents (x 0.18215) -> RGB in [-1, 1]: rows are the 4 latent channels.
LATENT_RGB = np.array(
    [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ],
    np.float32,
)
DTYPES = ("auto", "float16", "float32", "bfloat16")


def build_prompt(template: str, style: str, damage: str) -> str:
    """The default prompt: the template with `style`, plus what the curator says was lost."""
    prompt = template.format(style=style.strip() or "ancient").replace("  ", " ")
    damage = damage.strip().rstrip(".")
    return f"{prompt}; restore where {damage}" if damage else prompt


def latent_preview(latents: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB approximation of (4, h, w) scaled SD latents."""
    rgb = np.tensordot(latents.astype(np.float32), LATENT_RGB, axes=([0], [0]))
    return np.clip((rgb + 1.0) * 127.5, 0, 255).astype(np.uint8)


def latent_cells(mask: np.ndarray, cell: int) -> np.ndarray:
    """The mask widened to whole cell x cell blocks (any damaged pixel marks its block)."""
    height, width = mask.shape
    blocks = mask.reshape(height // cell, cell, width // cell, cell).any(axis=(1, 3))
    return np.repeat(np.repeat(blocks, cell, axis=0), cell, axis=1)


class SDInpaintEngine(Engine):
    """Text-guided diffusion inpainting with any diffusers inpainting pipeline, weights supplied."""

    name = "sd_inpaint"
    version = "1"
    needs_weights = True
    params = {
        "prompt": Param(
            str,
            "",
            help="What the restored area shows; empty: the mural style and the damage text below",
        ),
        "style": Param(str, "ancient", help="Style of the mural in the default prompt"),
        "damage": Param(
            str,
            "",
            help="What was lost, e.g. the figure's face is partially missing (seed 004)",
        ),
        "negative_prompt": Param(str, NEGATIVE_PROMPT, help="What must not be painted"),
        "strength": Param(
            float, 1.0, minimum=0.05, maximum=1.0, help="How much of the damaged area is redrawn"
        ),
        "guidance_scale": Param(
            float, 7.5, minimum=1.0, maximum=20.0, help="How closely to follow the prompt"
        ),
        "steps": Param(int, 30, minimum=1, maximum=150, help="Denoising steps"),
    }

    @classmethod
    def clean_params(cls, params):
        cleaned = super().clean_params(params)
        for key in ("prompt", "style", "damage", "negative_prompt"):
            if len(cleaned[key]) > MAX_TEXT:
                raise EngineError(f"Parameter {key!r} must be at most {MAX_TEXT} characters")
        if int(cleaned["steps"] * cleaned["strength"]) < 1:
            raise EngineError(
                f"steps x strength must be at least 1 (strength {cleaned['strength']} leaves "
                f"no step of {cleaned['steps']}): raise steps or strength"
            )
        return cleaned

    def __init__(self, *, options=None, checkpoint=None, device="cpu") -> None:
        super().__init__(options=options, checkpoint=checkpoint, device=device)
        import torch
        from diffusers import AutoPipelineForInpainting

        dtype_name = str(self.options.get("dtype", "auto"))
        if dtype_name not in DTYPES:
            raise EngineError(f"sd_inpaint: dtype must be one of {', '.join(DTYPES)}")
        if dtype_name == "auto":
            dtype_name = "float16" if str(device).startswith("cuda") else "float32"
        self.dtype = getattr(torch, dtype_name)
        size = self.options.get("size", DEFAULT_SIZE)
        if isinstance(size, bool) or not isinstance(size, int) or size < 64 or size % 8:
            raise EngineError(f"sd_inpaint: size must be a multiple of 8 from 64, got {size!r}")
        self.size = size
        self.template = str(self.options.get("prompt_template", PROMPT_TEMPLATE))
        try:
            build_prompt(self.template, "x", "")
        except (KeyError, IndexError, ValueError) as exc:
            raise EngineError(
                f"sd_inpaint: prompt_template may only use {{style}}, got {self.template!r}"
            ) from exc
        location, revision = str(checkpoint), None
        if not Path(location).exists() and "@" in location:
            location, _, revision = location.partition("@")
        kwargs: dict[str, Any] = {
            dtype_keyword(): self.dtype,
            # The product never downloads weights unless the operator allows it.
            "local_files_only": not bool(self.options.get("online", False)),
        }
        if revision:
            kwargs["revision"] = revision
        if not self.options.get("safety_checker", True):
            kwargs["safety_checker"] = None
        try:
            pipe = AutoPipelineForInpainting.from_pretrained(location, **kwargs)
        except Exception as exc:  # what a bad folder raises varies by component and library
            raise EngineError(
                f"sd_inpaint: cannot load a diffusers inpainting pipeline from {checkpoint}: {exc}"
            ) from exc
        pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        self.cell = int(getattr(pipe, "vae_scale_factor", 8))
        if self.size % self.cell:
            raise EngineError(
                f"sd_inpaint: size must be a multiple of {self.cell} for this pipeline's VAE"
            )
        # A pipeline keeps per-call state (its scheduler's timesteps, guidance): jobs running in
        # threads of one worker take turns on it.
        self._lock = threading.Lock()

    def close(self) -> None:
        import gc

        import torch

        self.pipe = None
        gc.collect()
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
        """Restore window by window; progress once per denoising step of each window.

        The preview is the whole image with the finished windows and the current window's
        latent approximation in the damaged pixels.
        """
        with self._lock:
            return self._restore(image, mask, seed=seed, params=params, on_progress=on_progress)

    def _restore(self, image, mask, *, seed, params, on_progress) -> Restored:
        import cv2
        import diffusers
        import torch
        from PIL import Image

        damaged = np.asarray(mask) > 0
        height, width = damaged.shape
        size = self.size
        # A small image is padded (mirroring its pixels, which count as intact) up to one
        # window; the padding is cut off at the end.
        pad_h, pad_w = max(0, size - height), max(0, size - width)
        work = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        work_mask = np.pad(damaged, ((0, pad_h), (0, pad_w)))
        corners = windows(work_mask, size)
        steps, strength = int(params["steps"]), float(params["strength"])
        guidance = float(params["guidance_scale"])
        per_window = min(int(steps * strength), steps)
        total = len(corners) * per_window
        prompt = params["prompt"].strip() or build_prompt(
            self.template, params["style"], params["damage"]
        )
        negative = params["negative_prompt"].strip()

        canvas = WindowedCanvas(work, work_mask, size, height=height, width=width)
        generator = torch.Generator(self.device).manual_seed(int(seed))

        on_progress(0, total)
        for index, (y, x) in enumerate(corners):
            tile = work[y : y + size, x : x + size]
            cells = latent_cells(work_mask[y : y + size, x : x + size], self.cell)

            def on_step_end(pipe, i, _t, tensors, index=index, y=y, x=x):
                latents = tensors["latents"]
                # One report per step; a second-order scheduler's extra calls repeat a step.
                done = min(per_window, round((i + 1) * per_window / max(pipe.num_timesteps, 1)))
                preview = None
                if latents.shape[1] == 4:

                    def preview():
                        small = latent_preview(latents[0].float().cpu().numpy())
                        large = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
                        canvas.estimate((y, x), large)
                        return canvas.render()

                on_progress(index * per_window + max(done, 1), total, preview=preview)
                return tensors

            result = self.pipe(
                prompt=prompt,
                negative_prompt=negative or None,
                image=Image.fromarray(np.ascontiguousarray(tile)),
                mask_image=Image.fromarray(cells.astype(np.uint8) * 255),
                height=size,
                width=size,
                strength=strength,
                guidance_scale=guidance,
                num_inference_steps=steps,
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step_end,
                callback_on_step_end_tensor_inputs=["latents"],
            )
            flagged = getattr(result, "nsfw_content_detected", None)
            if flagged and any(flagged):
                raise EngineError(
                    "sd_inpaint: the pipeline's safety checker blanked the window at "
                    f"({x}, {y}); the operator can turn it off with OPTIONS safety_checker false"
                )
            restored = np.clip(np.rint(np.asarray(result.images[0]) * 255.0), 0, 255)
            canvas.add((y, x), restored)
        info = {
            "pipeline": type(self.pipe).__name__,
            "model": str(self.checkpoint),
            "scheduler": type(self.pipe.scheduler).__name__,
            "steps": steps,
            "denoising_steps": per_window,
            "guidance_scale": guidance,
            "strength": strength,
            "prompt": prompt,
            "negative_prompt": negative,
            "size": size,
            "windows": len(corners),
            "dtype": str(self.dtype).removeprefix("torch."),
            "diffusers": diffusers.__version__,
            "torch": torch.__version__,
        }
        try:
            import transformers

            info["transformers"] = transformers.__version__
        except ImportError:  # pipelines without a transformers text encoder
            pass
        return Restored(canvas.result(), info)


def dtype_keyword() -> str:
    """from_pretrained's dtype argument: `dtype` in diffusers that renamed `torch_dtype`."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return "torch_dtype"
    return "dtype"
