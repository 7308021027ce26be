"""`manage.py stylize IMAGE --engine cyclegan|cut --checkpoint CKPT --out OUT.png`, no database."""

import json
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from heritage import imaging
from restoration import pipeline
from restoration.engines.base import EngineError, StyleEngine
from restoration.engines.registry import registry, resolve_device

WRITABLE = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


class Command(BaseCommand):
    help = (
        "Render the photograph IMAGE in the style of a CycleGAN or CUT checkpoint; writes OUT "
        "at the input's size."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("image", type=Path)
        parser.add_argument("--engine", required=True, help="a style engine: cyclegan or cut")
        parser.add_argument(
            "--checkpoint",
            required=True,
            help="checkpoint folder (model.safetensors + config.json), .safetensors file, or "
            "the original projects' latest_net_G_A.pth / latest_net_G.pth",
        )
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument(
            "--tile",
            type=int,
            help="largest side translated in one pass, a multiple of 4 (default: the engine's "
            "setting, 512)",
        )
        parser.add_argument(
            "--long-side",
            type=int,
            help="stylize at this longest side, then resize back (smaller = coarser strokes)",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="recorded; these engines use no randomness"
        )
        parser.add_argument(
            "--device",
            default=settings.RESTORATION_DEVICE,
            help="auto, cpu, cuda or cuda:N (default: HERITAGE_DEVICE)",
        )

    def handle(self, *args, **options) -> None:
        engines = registry()
        name, out = options["engine"], Path(options["out"])
        if out.suffix.lower() not in WRITABLE:
            raise CommandError(f"--out must end in one of {', '.join(WRITABLE)}, got {out}")
        if not out.parent.is_dir():
            raise CommandError(f"The folder of {out} does not exist.")
        try:
            engine_class = engines.engine_class(name)
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        if not issubclass(engine_class, StyleEngine):
            styles = ", ".join(
                other
                for other in engines.names()
                if getattr(_class_or_none(engines, other), "task", "") == "stylize"
            )
            raise CommandError(
                f"Engine {name!r} restores damage; it does not transfer a style "
                f"(style engines: {styles or 'none'})"
            )
        params = {
            key: options[option]
            for key, option in (("tile", "tile"), ("long_side", "long_side"))
            if options[option] is not None
        }
        try:
            engine_class.clean_params(params)
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        image = self._read_image(options["image"])
        checkpoint = options["checkpoint"]
        if not Path(checkpoint).expanduser().exists():
            raise CommandError(f"--checkpoint: {checkpoint} does not exist")
        try:
            device = resolve_device(options["device"])
            engine = engines.get(name, checkpoint=checkpoint, device=device)
            with tqdm(desc=name, unit="tile", leave=False) as bar:

                def on_progress(step: int, total: int, preview=None) -> None:
                    bar.total = total
                    bar.update(step - bar.n)

                result = pipeline.stylize(
                    engine, image, seed=options["seed"], params=params, on_progress=on_progress
                )
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        started = time.perf_counter()
        try:
            Image.fromarray(result.image).save(out)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        writing = time.perf_counter() - started
        self.stdout.write(
            f"Wrote {out} ({image.shape[1]}x{image.shape[0]}, {name} {engine.version}, "
            f"{result.info.get('tiles', 1)} tile(s), {device}) in "
            f"{result.seconds + writing:.2f} s"
        )
        self.stdout.write("Engine details: " + json.dumps(result.info, sort_keys=True))

    def _read_image(self, path: Path) -> np.ndarray:
        try:
            with path.open("rb") as handle:
                inspected = imaging.inspect(handle, max_pixels=settings.HERITAGE_MAX_IMAGE_PIXELS)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except (imaging.ImageRejected, UnidentifiedImageError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        return np.asarray(inspected.rgb)


def _class_or_none(engines, name: str):
    try:
        return engines.engine_class(name)
    except EngineError:
        return None
