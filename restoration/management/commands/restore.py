"""`manage.py restore IMAGE --mask MASK --engine NAME --out OUT.png`: any engine, no database."""

import json
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from heritage import imaging, masks
from restoration import pipeline
from restoration.engines.base import EngineError
from restoration.engines.registry import registry, resolve_device

LOSSLESS = (".png", ".tif", ".tiff")


class Command(BaseCommand):
    help = "Restore the damaged pixels of IMAGE marked in MASK with one engine; writes OUT."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("image", type=Path)
        parser.add_argument("--mask", type=Path, required=True, help="PNG, white = damaged")
        parser.add_argument("--engine", required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--steps", type=int, help="denoising steps, for engines that have them")
        parser.add_argument(
            "--checkpoint",
            help="weights (file, folder or Hugging Face id) for engines that need them",
        )
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--colour-correction", action="store_true")
        parser.add_argument(
            "--device",
            default=settings.RESTORATION_DEVICE,
            help="auto, cpu, cuda or cuda:N (default: HERITAGE_DEVICE)",
        )

    def handle(self, *args, **options) -> None:
        engines = registry()
        out = options["out"] = Path(options["out"])
        if out.suffix.lower() not in LOSSLESS:
            # A lossy file would change the intact pixels the result promises to keep.
            raise CommandError(f"--out must be a lossless file ({', '.join(LOSSLESS)}), got {out}")
        if not out.parent.is_dir():
            raise CommandError(f"The folder of {out} does not exist.")
        params = self._params(options["param"])
        try:
            engine_class = engines.engine_class(options["engine"])
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        if options["steps"] is not None:
            if "steps" not in engine_class.params:
                raise CommandError(f"--steps: engine {options['engine']!r} has no denoising steps")
            params["steps"] = options["steps"]
        if options["checkpoint"] and not engine_class.needs_weights:
            raise CommandError(f"--checkpoint: engine {options['engine']!r} uses no weights")
        image = self._read_image(options["image"])
        try:
            mask = masks.read_mask(
                options["mask"].read_bytes(), width=image.shape[1], height=image.shape[0]
            )
        except OSError as exc:
            raise CommandError(f"Cannot read the mask: {exc}") from exc
        except masks.MaskError as exc:
            raise CommandError(str(exc)) from exc
        try:
            device = resolve_device(options["device"])
            engine = engines.get(options["engine"], checkpoint=options["checkpoint"], device=device)
            with tqdm(desc=options["engine"], unit="step", leave=False) as bar:

                def on_progress(step: int, total: int, preview=None) -> None:
                    bar.total = total
                    bar.update(step - bar.n)

                started = time.perf_counter()
                result = pipeline.run(
                    engine,
                    image,
                    masks.binary(mask),
                    seed=options["seed"],
                    params=params,
                    on_progress=on_progress,
                    colour_correction=options["colour_correction"],
                )
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        Image.fromarray(result.image).save(options["out"])
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Wrote {options['out']} ({image.shape[1]}x{image.shape[0]}, {options['engine']} "
            f"{engine.version}, seed {options['seed']}, {device}) in {seconds:.2f} s"
        )
        if result.info:
            self.stdout.write("Engine details: " + json.dumps(result.info, sort_keys=True))

    def _params(self, pairs: list[str]) -> dict[str, str]:
        params = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise CommandError(f"--param takes KEY=VALUE, got {pair!r}")
            params[key.strip()] = value.strip()
        return params

    def _read_image(self, path: Path) -> np.ndarray:
        try:
            with path.open("rb") as handle:
                inspected = imaging.inspect(handle, max_pixels=settings.HERITAGE_MAX_IMAGE_PIXELS)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except (imaging.ImageRejected, UnidentifiedImageError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        return np.asarray(inspected.rgb)
