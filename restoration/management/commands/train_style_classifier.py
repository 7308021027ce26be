"""`manage.py train_style_classifier --style DIR --photos DIR --other DIR --out FOLDER`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm


class Command(BaseCommand):
    help = (
        "Train the style classifier of the deception rate: target-style paintings against photos, "
        "other painting styles and (unless --no-colour-negatives) photos colour-transferred to the "
        "style palette, as they are and blurred. Holds out a share of each group (whole Qianli "
        "crop indices), prints the accuracy on held-out real images and writes "
        "classifier.safetensors + classifier.json."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        paths = {"action": "extend", "nargs": "+", "type": Path, "default": []}
        parser.add_argument("--style", required=True, help="target-style images", **paths)
        parser.add_argument("--photos", required=True, help="photos", **paths)
        parser.add_argument("--other", required=True, help="other painting styles", **paths)
        parser.add_argument("--test-style", help="extra style images, test only", **paths)
        parser.add_argument("--test-other", help="extra other-style images, test only", **paths)
        parser.add_argument(
            "--held-out-photos",
            help="photos never to train on (the style GANs' testA); tested on",
            **paths,
        )
        parser.add_argument("--out", type=Path, required=True, help="folder to write")
        parser.add_argument("--held-out-fraction", type=float, default=0.2)
        parser.add_argument(
            "--no-colour-negatives",
            action="store_true",
            help="leave out the Reinhard-transferred photos, blurred or not (to show what colour "
            "alone fools)",
        )
        parser.add_argument(
            "--no-smooth-negatives",
            action="store_true",
            help="leave out the blurred (sigma 1-3 px) colour-transferred photos",
        )
        parser.add_argument("--steps", type=int, default=1200)
        parser.add_argument("--batch", type=int, default=16)
        parser.add_argument("--size", type=int, default=128, help="crop side in pixels")
        parser.add_argument("--width", type=int, default=24, help="channels of the first stage")
        parser.add_argument("--lr", type=float, default=2e-3)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threads", type=int, help="torch CPU threads")

    def handle(self, *args, **options) -> None:
        if options["steps"] < 1 or options["batch"] < 2 or not 16 <= options["size"] <= 256:
            raise CommandError("--steps must be >= 1, --batch >= 2 and --size from 16 to 256")
        if not 0 <= options["held_out_fraction"] < 1:
            raise CommandError("--held-out-fraction must be in [0, 1)")
        from restoration.style import classifier

        settings = classifier.ClassifierOptions(
            size=options["size"],
            steps=options["steps"],
            batch=options["batch"],
            lr=options["lr"],
            width=options["width"],
            seed=options["seed"],
            colour_negatives=not options["no_colour_negatives"],
            smooth_negatives=not options["no_smooth_negatives"],
            threads=options["threads"],
        )
        bar = tqdm(total=settings.steps, desc="style classifier", unit="step", file=self.stderr)

        def on_step(step: int, total: int, loss: float) -> None:
            bar.n = step
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.refresh()

        try:
            meta = classifier.train_from_folders(
                style=options["style"],
                photos=options["photos"],
                other=options["other"],
                test_style=options["test_style"],
                test_other=options["test_other"],
                held_out_photos=options["held_out_photos"],
                out=options["out"],
                options=settings,
                fraction=options["held_out_fraction"],
                on_step=on_step,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        held = meta["held_out"]
        self.stdout.write(
            f"Held-out real images: accuracy {held['accuracy']:.3f} "
            f"(balanced {held['balanced_accuracy']:.3f}) on {held['n']} images"
        )
        for subset, entry in sorted(held["subsets"].items()):
            self.stdout.write(f"  {subset}: {entry['correct']}/{entry['n']} correct")
        self.stdout.write(
            f"Wrote {options['out']} ({settings.steps} steps, {meta['seconds']:.0f} s)."
        )
