"""Loading the generator of a CycleGAN or CUT checkpoint, ours or one of the original projects'.

What `load_generator` accepts:
- a checkpoint folder written by training (`model.safetensors` + `config.json`, whose "engine"
  says cyclegan or cut), or the `model.safetensors` inside one;
- a lone `.safetensors` file of a generator in the original layout;
- a state dict saved by the original projects with `torch.save` (`latest_net_G_A.pth` of
  junyanz/pytorch-CycleGAN-and-pix2pix, `latest_net_G.pth` of taesungp/contrastive-unpaired-
  translation or of CycleGAN's pretrained downloads), or a folder holding one of these; files
  are recognised by their content, not their suffix, and read with `weights_only=True`.

Without a config the architecture (ngf, n_blocks, anti-aliasing) comes from the keys
(`networks.infer_architecture`), and so does the engine: CUT's generator has blur filters
(`filt` buffers) in its down- and up-sampling, CycleGAN's has strided and transposed
convolutions. A CUT model trained with `--no_antialias --no_antialias_up` has CycleGAN's layout
and network, and runs under the cyclegan engine.

Variants of the originals' files that are real and handled: a "module." prefix on every key (a
generator saved while wrapped in DataParallel: the originals unwrap it, other code may not);
InstanceNorm `running_mean` / `running_var` / `num_batches_tracked` entries (PyTorch before 0.4
tracked them; the originals' `__patch_instance_norm_state_dict` drops them, and so do we: with
affine=False and no running statistics they are never used); and residual blocks trained with
dropout (`--no_dropout` off: the second convolution is `conv_block.6` instead of `.5`; dropout
does nothing at inference, so the weights are renamed). Anything else that is not such a
generator is refused with a message naming what it looks like (a discriminator, CUT's MLP head,
a U-Net generator, a batch-norm generator, a training state).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restoration.style.networks import ResnetGenerator, infer_architecture

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
# What the original projects save for the A -> B generator, looked for in a folder without config.
ORIGINAL_FILES = ("latest_net_G_A.pth", "latest_net_G.pth")
ENGINES = ("cyclegan", "cut")
_STATS = (".running_mean", ".running_var", ".num_batches_tracked")
_DROPOUT_CONV = re.compile(r"^(model\.\d+\.conv_block\.)(6|7)\.(.+)$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is meant for the user."""


def engine_of(architecture: Mapping[str, Any]) -> str:
    """The engine whose generator has this layout: "cut" when anti-aliased, else "cyclegan"."""
    return "cut" if architecture.get("antialias") else "cyclegan"


def load_generator(
    path: str | Path,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    *,
    engine: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """(ResnetGenerator in eval mode without gradients on device/dtype, its config).

    path: see the module docstring. engine: "cyclegan" or "cut" to refuse the other's weights
    (the message says which engine the checkpoint belongs to). The config is config.json's
    content (empty without one) with "engine", "ngf", "n_blocks", "antialias" set from the
    weights and "source": {"path", "format" ("folder", "safetensors" or "pth"), "sha256" of the
    weights file, "renamed" (what was adapted: "module. prefix", "instance-norm statistics",
    "dropout layout")}. Raises CheckpointError for anything that is not such a generator.
    """
    if engine is not None and engine not in ENGINES:
        raise CheckpointError(f"Unknown style engine {engine!r}; expected one of {ENGINES}")
    weights, config, fmt = _locate(Path(path).expanduser())
    state = _read_state(weights)
    state, renamed = _adapt(state, weights)
    try:
        architecture = infer_architecture(state)
    except ValueError as exc:
        raise CheckpointError(f"{weights}: {exc}") from exc
    found = engine_of(architecture)
    if config:
        declared = config.get("engine")
        if declared not in ENGINES:
            raise CheckpointError(
                f"{weights.parent / CONFIG} names engine {declared!r}, not cyclegan or cut"
            )
        for key, value in architecture.items():
            if key in config and config[key] != value:
                raise CheckpointError(
                    f"{weights.parent / CONFIG} says {key} = {config[key]!r}, but the weights "
                    f"in {weights.name} have {key} = {value!r}"
                )
        if declared != found:
            raise CheckpointError(
                f"{weights.parent / CONFIG} says engine {declared!r}, but the weights have the "
                f"{found} layout"
            )
    if engine is not None and engine != found:
        raise CheckpointError(_mismatch(weights, found, engine))
    model = ResnetGenerator(**architecture)
    leftover = sorted(set(state) - set(model.state_dict()))
    if leftover:
        raise CheckpointError(
            f"{weights} has {len(leftover)} entries a {found} generator does not have, "
            f"e.g. {leftover[0]!r}"
        )
    try:
        model.load_state_dict({key: value.float() for key, value in state.items()}, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0])
        raise CheckpointError(f"{weights} does not fit a {found} generator: {detail}") from exc
    model.eval().requires_grad_(False)
    model = model.to(device=device, dtype=dtype or torch.float32)
    merged = dict(config)
    merged.update(architecture, engine=found)
    merged["source"] = {
        "path": str(weights),
        "format": fmt,
        "sha256": _sha256(weights),
        "renamed": renamed,
    }
    return model, merged


def _mismatch(weights: Path, found: str, engine: str) -> str:
    if found == "cut":
        return (
            f"{weights} holds a CUT generator (anti-aliased down- and up-sampling, 'filt' "
            f"buffers), not a CycleGAN one: use the cut engine"
        )
    return (
        f"{weights} holds a CycleGAN-layout generator (strided and transposed convolutions), "
        f"not CUT's anti-aliased one: use the cyclegan engine (a CUT model trained with "
        f"--no_antialias --no_antialias_up has this layout and runs there unchanged)"
    )


def _locate(path: Path) -> tuple[Path, dict[str, Any], str]:
    """(weights file, config.json content or {}, format) for a folder or a file."""
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist")
    if path.is_dir():
        if (path / CONFIG).is_file():
            weights = path / WEIGHTS
            if not weights.is_file():
                raise CheckpointError(f"{path} has a {CONFIG} but no {WEIGHTS}")
            return weights, _read_config(path / CONFIG), "folder"
        for name in ORIGINAL_FILES:
            if (path / name).is_file():
                return path / name, {}, "pth"
        if (path / WEIGHTS).is_file():
            return path / WEIGHTS, {}, "safetensors"
        raise CheckpointError(
            f"{path} is not a style checkpoint: it has neither {WEIGHTS} + {CONFIG} nor one of "
            f"{', '.join(ORIGINAL_FILES)}"
        )
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} is not a file or folder")
    if path.name == WEIGHTS and (path.parent / CONFIG).is_file():
        return path, _read_config(path.parent / CONFIG), "folder"
    return path, {}, "safetensors" if _is_safetensors(path) else "pth"


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} is not a JSON object")
    return config


def _is_safetensors(path: Path) -> bool:
    """A safetensors file starts with its header's length (8 bytes, little-endian) and '{'."""
    with path.open("rb") as handle:
        head = handle.read(9)
    return (
        len(head) == 9
        and head[8:9] == b"{"
        and int.from_bytes(head[:8], "little") < path.stat().st_size
    )


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if _is_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc
    try:
        # weights_only: a state dict is tensors in dicts; a pickle that runs code is refused.
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip, runtime and value errors alike
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path} is not a PyTorch state dict or safetensors file ({message[:200]})"
        ) from exc
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
    nested = sorted(str(key) for key, value in state.items() if isinstance(value, Mapping))
    if nested:
        raise CheckpointError(
            f"{path} holds several parts ({', '.join(nested[:6])}), not one generator's state "
            f"dict: give the generator's own file (latest_net_G_A.pth, latest_net_G.pth) or a "
            f"checkpoint folder with {WEIGHTS}"
        )
    if not state or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()
    ):
        raise CheckpointError(f"{path} is not a state dict of tensors")
    return dict(state)


def _adapt(state: dict[str, torch.Tensor], path: Path) -> tuple[dict[str, torch.Tensor], list]:
    """The state dict in our keys, and what was adapted; refuses other networks by name."""
    renamed = []
    if all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
        renamed.append("module. prefix")
    _refuse_other_networks(state, path)
    norms = _instance_norm_positions(state)
    dropped = {key for key in state if key.endswith(_STATS) and key.rpartition(".")[0] in norms}
    if dropped:
        state = {key: value for key, value in state.items() if key not in dropped}
        renamed.append("instance-norm statistics")
    if any(_DROPOUT_CONV.match(key) for key in state) and not any(
        re.match(r"^model\.\d+\.conv_block\.5\.", key) for key in state
    ):
        state = {
            _DROPOUT_CONV.sub(lambda m: f"{m[1]}{int(m[2]) - 1}.{m[3]}", key): value
            for key, value in state.items()
        }
        renamed.append("dropout layout")
    return state, renamed


def _instance_norm_positions(state: Mapping[str, torch.Tensor]) -> set[str]:
    """Module paths (e.g. "model.2", "model.12.conv_block.2") that hold instance norms.

    In both layouts a norm follows a convolution: top-level index i + 1 after a conv at i,
    and conv_block.2 / .6 (.7 with dropout) inside residual blocks. Only entries that are
    running statistics are looked at, so weights are never taken for statistics.
    """
    positions = set()
    for key in state:
        if not key.endswith(_STATS):
            continue
        module = key.rpartition(".")[0]
        top = re.fullmatch(r"model\.(\d+)", module)
        block = re.fullmatch(r"model\.\d+\.conv_block\.(\d+)", module)
        if top and f"model.{int(top[1]) - 1}.weight" in state:
            positions.add(module)
        elif block and f"{module.rpartition('.')[0]}.{int(block[1]) - 1}.weight" in state:
            positions.add(module)
    # An affine norm (batch norm, or instance norm with affine=True) has weights of its own:
    # that is another network, refused by _refuse_other_networks before we get here.
    return positions


def _refuse_other_networks(state: Mapping[str, torch.Tensor], path: Path) -> None:
    keys = set(state)
    if any(key.startswith("mlp_") for key in keys):
        raise CheckpointError(
            f"{path} is CUT's patch-sampling MLP (netF, latest_net_F.pth), not the generator: "
            f"use latest_net_G.pth"
        )
    if any(key.startswith("model.model.") for key in keys):
        raise CheckpointError(
            f"{path} is a U-Net generator (--netG unet_*); only ResNet generators "
            f"(resnet_9blocks, resnet_6blocks) are supported"
        )
    first = state.get("model.0.weight")
    if first is not None and first.ndim == 4 and tuple(first.shape[2:]) == (4, 4):
        raise CheckpointError(
            f"{path} is a PatchGAN discriminator (netD, latest_net_D*.pth), not a generator: "
            f"use latest_net_G_A.pth (CycleGAN) or latest_net_G.pth (CUT)"
        )
    norm = state.get("model.2.weight")
    if "model.1.weight" in keys and (norm is not None or "model.1.bias" not in keys):
        raise CheckpointError(
            f"{path} is a generator with batch (or affine) normalisation (--norm batch); only "
            f"the default instance-norm generators are supported"
        )
    conv = state.get("model.1.weight")
    if conv is not None and conv.ndim == 4 and conv.shape[1] != 3:
        raise CheckpointError(
            f"{path} is a generator for {conv.shape[1]}-channel input; only RGB (3) is supported"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
