"""`manage.py deception_rate --checkpoint CKPT --images DIR`: how often stylized photos pass."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

STYLE_ENGINES = ("cyclegan", "cut")


def default_classifier() -> Path:
    """Where `train_style_classifier` output is looked for unless --classifier says otherwise."""
    return Path(settings.BASE_DIR) / "var" / "style_classifier"


def engine_of(checkpoint: Path, requested: str | None) -> str:
    """The style engine of a checkpoint: --engine, else its config.json "engine".

    Raises CommandError when neither names cyclegan or cut.
    """
    if requested:
        return requested
    config = checkpoint / "config.json" if checkpoint.is_dir() else None
    if config is not None and config.is_file():
        try:
            name = json.loads(config.read_text()).get("engine")
        except (json.JSONDecodeError, AttributeError):
            name = None
        if name in STYLE_ENGINES:
            return name
    raise CommandError(
        f"cannot tell the engine of {checkpoint}: give --engine {'|'.join(STYLE_ENGINES)}"
    )


class Command(BaseCommand):
    help = (
        "Stylize every image of a folder (centre-cropped to --side x --side) with a CycleGAN or "
        "CUT checkpoint, or with the Reinhard colour-transfer baseline, and print the share the "
        "style classifier assigns to the target style, with its 95% Wilson interval and the "
        "classifier's accuracy on held-out real images."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        method = parser.add_mutually_exclusive_group(required=True)
        method.add_argument("--checkpoint", type=Path, help="style checkpoint folder or file")
        method.add_argument(
            "--reinhard",
            action="store_true",
            help="the training-free baseline: Reinhard transfer to the classifier's style palette",
        )
        parser.add_argument("--images", type=Path, required=True, help="folder of photos")
        parser.add_argument("--classifier", type=Path, help="train_style_classifier output")
        parser.add_argument("--engine", choices=STYLE_ENGINES, help="default: from config.json")
        parser.add_argument("--side", type=int, default=512, help="input crop side in pixels")
        parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
        parser.add_argument("--threads", type=int, help="torch CPU threads")
        parser.add_argument("--save", type=Path, help="also write the stylized images here")

    def handle(self, *args, **options) -> None:
        folder = options["classifier"] or default_classifier()
        if options["side"] < 64:
            raise CommandError("--side must be at least 64")
        if not options["images"].is_dir():
            raise CommandError(f"--images {options['images']} is not a folder")
        checkpoint = options["checkpoint"]
        if checkpoint is not None and not checkpoint.exists():
            raise CommandError(f"--checkpoint {checkpoint} does not exist")
        engine_name = engine_of(checkpoint, options["engine"]) if checkpoint else None

        import torch

        from restoration import pipeline
        from restoration.engines.base import EngineError
        from restoration.engines.registry import registry, resolve_device
        from restoration.style import classifier, measure

        if options["threads"]:
            torch.set_num_threads(options["threads"])
        try:
            model, meta = classifier.load(folder)
            paths = classifier.image_files([options["images"]])
            inputs = [measure.square(classifier.read_image(p), options["side"]) for p in paths]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if checkpoint is None:
            target = measure.Palette.from_json(meta["palette"])

            def stylize(image):
                return measure.reinhard(image, target)

            label = "Reinhard colour transfer to the style palette"
        else:
            try:
                engine = registry().get(
                    engine_name,
                    checkpoint=str(checkpoint),
                    device=resolve_device(options["device"]),
                )
            except EngineError as exc:
                raise CommandError(str(exc)) from exc

            def stylize(image):
                return pipeline.stylize(engine, image, seed=0, params=None).image

            label = f"{engine_name} {checkpoint}"
        outputs = []
        for path, image in zip(paths, inputs, strict=True):
            try:
                outputs.append(stylize(image))
            except EngineError as exc:
                raise CommandError(f"{path.name}: {exc}") from exc
            if options["save"]:
                from PIL import Image

                options["save"].mkdir(parents=True, exist_ok=True)
                Image.fromarray(outputs[-1]).save(options["save"] / f"{path.stem}.png")
        rate, hits, total = measure.deception_rate(classifier.probabilities(model, outputs))
        held = meta["held_out"]
        self.stdout.write(f"{label}, {total} images of {options['images']}")
        self.stdout.write(
            f"Deception rate: {rate.value:.3f} (95% Wilson interval {rate.low:.3f}-"
            f"{rate.high:.3f}; {hits} of {total} judged the target style)"
        )
        self.stdout.write(
            f"Classifier accuracy on held-out real images: {held['accuracy']:.3f} "
            f"(balanced {held['balanced_accuracy']:.3f}, {held['n']} images; {folder})"
        )
