"""`manage.py train_style NAME --domain-a PHOTOS --domain-b PAINTINGS --out CKPT`: CycleGAN/CUT."""

import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

# Short names of the losses on the progress bar.
SHOWN = {"cycle_A": "cyc_A", "cycle_B": "cyc_B"}


class Command(BaseCommand):
    help = (
        "Train an unpaired style-transfer model (CycleGAN, CUT or FastCUT) from domain A "
        "(photos) to domain B (paintings): random crops and flips, a progress bar with each "
        "loss, sample grids, a checkpoint folder (model.safetensors + config.json, "
        "training_state.pt to resume) registered as checkpoint NAME when a database is there."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="name of the registered checkpoint")
        parser.add_argument("--variant", choices=("cyclegan", "cut", "fastcut"), default="cut")
        parser.add_argument(
            "--domain-a",
            action="append",
            required=True,
            type=Path,
            help="folder or list file of domain A images, e.g. photos (repeatable)",
        )
        parser.add_argument(
            "--domain-b",
            action="append",
            required=True,
            type=Path,
            help="folder or list file of domain B images, e.g. paintings (repeatable)",
        )
        parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
        parser.add_argument("--size", type=int, default=256, help="crop size in pixels")
        parser.add_argument(
            "--load-size",
            type=int,
            help="shorter side images are resized to before cropping (default: size * 286/256)",
        )
        parser.add_argument("--steps", type=int, default=1000)
        parser.add_argument("--batch", type=int, default=1)
        parser.add_argument("--lr", type=float, default=2e-4)
        parser.add_argument(
            "--decay-from", type=int, help="step where the linear decay to 0 starts (default: half)"
        )
        parser.add_argument("--device", default="cpu", help="auto, cpu or cuda")
        parser.add_argument("--resume", type=Path, help="checkpoint folder to continue from")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sample-every", type=int, default=250)
        parser.add_argument("--save-every", type=int, default=250)
        parser.add_argument("--ngf", type=int, default=64, help="generator width")
        parser.add_argument("--n-blocks", type=int, default=9, help="generator residual blocks")
        parser.add_argument("--ndf", type=int, default=64, help="discriminator width")
        parser.add_argument("--threads", type=int, help="torch CPU threads")
        parser.add_argument("--max-minutes", type=float, help="stop (and save) after this long")
        parser.add_argument("--no-register", action="store_true", help="do not register the result")

    def handle(self, *args, **options) -> None:
        from restoration.engines.base import EngineError
        from restoration.engines.registry import resolve_device
        from restoration.style.training import StyleTrainOptions, train_style

        try:
            device = resolve_device(options["device"])
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        size = options["size"]
        train_options = StyleTrainOptions(
            variant=options["variant"],
            domain_a=options["domain_a"],
            domain_b=options["domain_b"],
            out=options["out"],
            size=size,
            load_size=options["load_size"] or round(size * 286 / 256),
            steps=options["steps"],
            batch=options["batch"],
            lr=options["lr"],
            decay_from=options["decay_from"],
            seed=options["seed"],
            sample_every=options["sample_every"],
            save_every=options["save_every"],
            device=device,
            resume=options["resume"],
            ngf=options["ngf"],
            n_blocks=options["n_blocks"],
            ndf=options["ndf"],
            threads=options["threads"],
            max_minutes=options["max_minutes"],
            # The command line, for the model card (empty when called from code).
            command=(
                shlex.join(["python", "manage.py", *sys.argv[1:]])
                if sys.argv[1:2] == ["train_style"]
                else ""
            ),
        )
        bar = tqdm(total=options["steps"], desc=options["variant"], unit="step", file=self.stderr)

        def on_step(step: int, total: int, losses: dict[str, float], sample) -> None:
            bar.n = step
            bar.set_postfix(
                {SHOWN.get(name, name): f"{value:.3f}" for name, value in losses.items()},
                refresh=False,
            )
            bar.refresh()

        try:
            config = train_style(train_options, on_step=on_step, log=bar.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        seconds = config["training"]["seconds"]
        self.stdout.write(
            f"Wrote {options['out']} after {config['steps']} steps ({seconds:.0f} s)."
        )
        if not options["no_register"]:
            self._register(options, config)

    def _register(self, options, config) -> None:
        """Register weights, config and the last sample grid (not the optimiser state)."""
        from django.core.exceptions import ValidationError
        from django.db import DatabaseError

        from restoration.checkpoints import checkpoint_register

        folder = Path(options["out"])
        with tempfile.TemporaryDirectory(prefix="train-style-") as staging:
            staging = Path(staging)
            for name in ("model.safetensors", "config.json"):
                shutil.copy2(folder / name, staging / name)
            samples = sorted((folder / "samples").glob("step_*.png"))
            if samples:
                (staging / "samples").mkdir()
                shutil.copy2(samples[-1], staging / "samples" / samples[-1].name)
            try:
                checkpoint = checkpoint_register(
                    location=staging,
                    engine=config["engine"],
                    name=options["name"],
                    training_data=config["training_data"],
                    steps=config["steps"],
                    losses={"last": config["losses"], "history": config["training"]["history"]},
                    notes=f"Trained by manage.py train_style ({config['variant']}).",
                )
            except DatabaseError as exc:
                self.stderr.write(f"Not registered (no usable database: {exc}).")
                return
            except ValidationError as exc:
                self.stderr.write(f"Not registered: {' '.join(exc.messages)}")
                return
        self.stdout.write(
            f"Registered checkpoint {checkpoint.name!r} of engine {checkpoint.engine} "
            f"(sha256 {checkpoint.sha256[:16]})."
        )
