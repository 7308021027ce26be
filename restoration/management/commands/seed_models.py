"""`manage.py seed_models`: register the weights that ship in models/ (idempotent)."""

import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from restoration.checkpoints import checkpoint_register, folder_files, listing_sha256
from restoration.models import ModelCheckpoint

MODELS_DIR = Path(settings.BASE_DIR) / "models"
# Style engines (models/cyclegan-qinglv, models/cut-qinglv) and their architecture keys.
STYLE_ENGINES = ("cyclegan", "cut")
STYLE_ARCHITECTURE = ("variant", "ngf", "n_blocks", "antialias", "size", "load_size")


def shipped_folders(root: Path = MODELS_DIR) -> list[Path]:
    """Checkpoint folders under `root`: those with a config.json that names an engine."""
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        config = folder / "config.json"
        if folder.is_dir() and config.is_file():
            try:
                if json.loads(config.read_text(encoding="utf-8")).get("engine"):
                    found.append(folder)
            except json.JSONDecodeError:
                continue
    return found


def register_shipped(folder: Path) -> tuple[ModelCheckpoint, bool]:
    """Register one shipped folder unless the same files are registered; (checkpoint, created).

    The first checkpoint of an engine becomes its default, so a fresh install restores (or
    stylizes) with the shipped weights out of the box; an operator's later choice of default
    is kept.
    """
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    engine = config["engine"]
    sha = listing_sha256(folder_files(folder))
    existing = ModelCheckpoint.objects.filter(engine=engine, sha256=sha).first()
    if existing is not None:
        return existing, False
    training = config.get("training", {})
    name = folder.name
    if ModelCheckpoint.objects.filter(engine=engine, name=name).exists():
        name = f"{folder.name} ({sha[:8]})"
    if engine in STYLE_ENGINES:
        # restoration.style.training's config: architecture and steps at the top, the files
        # of both domains with their licences under training_data.
        described = {
            "config": {key: config[key] for key in STYLE_ARCHITECTURE if key in config},
            "training_data": {
                **config.get("training_data", {}),
                "options": training.get("options", {}),
            },
            "steps": config.get("steps"),
            "losses": {"last": config.get("losses", {}), "history": training.get("history", [])},
        }
    else:
        described = {
            "config": config.get("architecture", {}),
            "training_data": {
                "images": training.get("data", []),
                "options": training.get("options", {}),
            },
            "steps": training.get("steps"),
            "losses": {"every_10_steps": training.get("losses", [])},
        }
    checkpoint = checkpoint_register(
        location=folder,
        engine=engine,
        name=name,
        default=not ModelCheckpoint.objects.filter(engine=engine, is_default=True).exists(),
        metrics=config.get("metrics", {}),
        notes=f"Shipped with the project; model card: models/{folder.name}/model.md",
        **described,
    )
    return checkpoint, True


class Command(BaseCommand):
    help = "Register the checkpoints that ship in models/ (each once; the first is the default)."

    def handle(self, *args, **options) -> None:
        for folder in shipped_folders():
            try:
                checkpoint, created = register_shipped(folder)
            except (ValidationError, KeyError, json.JSONDecodeError) as exc:
                raise CommandError(f"{folder}: {exc}") from exc
            state = "registered" if created else "already registered"
            self.stdout.write(f"{checkpoint.engine}: {checkpoint.name} {state}")
