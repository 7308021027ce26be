"""Checkpoint folders of learned engines: safetensors weights + a JSON config.

Layout of a checkpoint folder (what `train_engine` writes and `register_checkpoint` registers):
    model.safetensors   the (EMA) weights, float16 to keep shipped files small
    config.json         {"engine", "architecture", "scheduler", "training": {steps, losses,
                         data manifest, seconds, device, command}, "metrics"}
    training_state.pt   optional: optimiser, raw weights and generator states, for --resume
    samples/            optional: sample grids written during training
"""

from __future__ import annotations

import json
from pathlib import Path

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE = "training_state.pt"


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be read; the message is meant for the user."""


def save(folder: str | Path, model, config: dict) -> Path:
    """Write weights (float16) and config atomically enough: weights first, config last."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        key: (value.half() if value.is_floating_point() else value).contiguous()
        for key, value in model.state_dict().items()
    }
    tmp = folder / (WEIGHTS + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(folder / WEIGHTS)
    tmp_config = folder / (CONFIG + ".tmp")
    tmp_config.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    tmp_config.replace(folder / CONFIG)
    return folder


def read_config(folder: str | Path) -> dict:
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    path = folder / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a checkpoint folder: it has no {CONFIG}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc


def load_model(folder: str | Path, *, engine: str, device: str = "cpu", dtype=None):
    """The PriorGuidedUNet of a checkpoint folder, in eval mode on `device`.

    Raises CheckpointError for a missing or foreign checkpoint (another engine's, wrong keys).
    """
    import torch
    from safetensors.torch import load_file

    from restoration.learned.unet import PriorGuidedUNet, UNetConfig

    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    config = read_config(folder)
    if config.get("engine") != engine:
        raise CheckpointError(
            f"{folder} holds weights of engine {config.get('engine')!r}, not {engine!r}"
        )
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS}")
    model = PriorGuidedUNet(UNetConfig.from_dict(config.get("architecture", {})))
    state = load_file(str(weights))
    try:
        model.load_state_dict({key: value.float() for key, value in state.items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{weights} does not match its architecture: {exc}") from exc
    model.eval().requires_grad_(False)
    return model.to(device=device, dtype=dtype or torch.float32), config
