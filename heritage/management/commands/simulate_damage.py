"""Write a simulated damage mask (dust, jelly or blocks) of an image's size."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image, UnidentifiedImageError

from heritage import masks


class Command(BaseCommand):
    help = (
        "Write a simulated damage mask PNG (255 = damaged) of IMAGE's size, as displayed after "
        "EXIF orientation, and print its coverage. Reads only the image's header; no database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("image", type=Path, help="image whose size the mask takes")
        parser.add_argument("--protocol", required=True, choices=sorted(masks.PROTOCOLS))
        parser.add_argument("--seed", type=int, required=True, help="non-negative integer")
        parser.add_argument("--out", type=Path, required=True, help="mask PNG to write")

    def handle(self, *args, image: Path, protocol: str, seed: int, out: Path, **options) -> None:
        # call_command(...) passes keyword options through without argparse's type conversion.
        image, out = Path(image), Path(out)
        try:
            with Image.open(image) as opened:
                width, height = masks.oriented_size(opened)
        except FileNotFoundError as exc:
            raise CommandError(f"No such image: {image}") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise CommandError(f"{image} is not a readable image") from exc
        # The original is never written again, whatever --out says.
        if out.resolve() == image.resolve():
            raise CommandError("--out must not be the image itself")
        if not out.parent.is_dir():
            raise CommandError(f"The folder {out.parent} does not exist")
        try:
            mask = masks.simulate(protocol, width=width, height=height, seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        out.write_bytes(masks.encode_png(mask))
        self.stdout.write(
            f"Wrote {out} ({width}x{height}, {protocol}, seed {seed}): "
            f"coverage {masks.coverage(mask):.4f}"
        )
