"""`manage.py register_checkpoint PATH --engine NAME`: register weights brought from elsewhere."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from heritage.models import User
from restoration.checkpoints import checkpoint_register, parse_json_argument


class Command(BaseCommand):
    help = (
        "Register weights for an engine as a ModelCheckpoint: a local file or folder (hashed, "
        "then copied into storage), or a Hugging Face model id owner/name (recorded as its "
        "source; diffusers loads it where the machine is online; nothing is downloaded here)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="weights file, model folder, or Hugging Face id")
        parser.add_argument("--engine", required=True)
        parser.add_argument("--name", default="", help="default: the file or folder name")
        parser.add_argument(
            "--default", action="store_true", help="make it the engine's default checkpoint"
        )
        parser.add_argument(
            "--config",
            default=None,
            help="architecture config: JSON text or a .json file (default: the folder's "
            "config.json, if any)",
        )
        parser.add_argument(
            "--training-data",
            default="",
            help="training data manifest (file hashes and licences): JSON text or a .json file",
        )
        parser.add_argument("--steps", type=int, help="training steps the weights had")
        parser.add_argument("--losses", default="", help="training losses: JSON text or file")
        parser.add_argument("--metrics", default="", help="metrics at save time: JSON text or file")
        parser.add_argument("--trained-by", default="", help="username of who trained them")
        parser.add_argument("--notes", default="")
        parser.add_argument(
            "--verify",
            action="store_true",
            help="load the weights with the engine's own loader (on the CPU) before registering "
            "them, as the API does; a file or folder the engine cannot load is refused",
        )
        parser.add_argument(
            "--no-copy",
            action="store_true",
            help="record a local path as the source instead of copying it into storage",
        )

    def handle(self, *args, **options) -> None:
        trained_by = None
        if options["trained_by"]:
            trained_by = User.objects.filter(username=options["trained_by"]).first()
            if trained_by is None:
                raise CommandError(f"--trained-by: no user named {options['trained_by']!r}")
        if options["steps"] is not None and options["steps"] < 0:
            raise CommandError(f"--steps must be 0 or more, got {options['steps']}")
        try:
            checkpoint = checkpoint_register(
                location=options["path"],
                engine=options["engine"],
                name=options["name"],
                default=options["default"],
                copy=not options["no_copy"],
                config=(
                    None
                    if options["config"] is None
                    else parse_json_argument(options["config"], "config")
                ),
                training_data=parse_json_argument(options["training_data"], "training data"),
                steps=options["steps"],
                losses=parse_json_argument(options["losses"], "losses"),
                metrics=parse_json_argument(options["metrics"], "metrics"),
                trained_by=trained_by,
                notes=options["notes"],
                verify=options["verify"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        where = (
            f"source {checkpoint.source}"
            if checkpoint.source
            else f"stored as {checkpoint.weights}"
        )
        digest = f"sha256 {checkpoint.sha256}" if checkpoint.sha256 else "not hashed (remote id)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered checkpoint #{checkpoint.pk} {checkpoint.name!r} for "
                f"{checkpoint.engine}{' (default)' if checkpoint.is_default else ''}: {where}, "
                f"{digest}, {len(checkpoint.files)} file(s), {checkpoint.size} bytes."
            )
        )
