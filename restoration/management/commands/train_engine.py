"""`manage.py train_engine NAME --data DIR --out CKPT`: train a learned engine on a folder."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from restoration.learned.data import COARSE_FILLS
from restoration.training_runs import TRAINABLE


class Command(BaseCommand):
    help = (
        "Train a learned restoration engine on folders of intact images with simulated damage "
        "(dust, jelly, blocks) and optional mask files; writes a checkpoint folder "
        "(model.safetensors + config.json) and registers it when --register is given."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("engine", choices=TRAINABLE)
        parser.add_argument(
            "--data",
            action="append",
            required=True,
            type=Path,
            help="folder of training images (repeatable)",
        )
        parser.add_argument("--masks", type=Path, help="folder of damage masks (white = damaged)")
        parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
        parser.add_argument("--size", type=int, default=128, help="crop size in pixels")
        parser.add_argument("--steps", type=int, default=1000)
        parser.add_argument("--batch", type=int, default=8)
        parser.add_argument("--lr", type=float, default=2e-4)
        parser.add_argument("--device", default="cpu", help="auto, cpu or cuda")
        parser.add_argument("--resume", type=Path, help="checkpoint folder to continue from")
        parser.add_argument(
            "--init",
            type=Path,
            help="start from the weights of this checkpoint folder (fine-tune it on --data); "
            "its architecture is kept",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sample-every", type=int, default=250)
        parser.add_argument("--save-every", type=int, default=250)
        parser.add_argument(
            "--generated",
            type=int,
            default=0,
            help="add this many of the project's generated artworks",
        )
        parser.add_argument(
            "--redistributable-only",
            action="store_true",
            help="skip images whose manifest licence is not CC0/public domain/CC BY",
        )
        parser.add_argument("--max-minutes", type=float, help="stop (and save) after this long")
        parser.add_argument("--threads", type=int, help="torch CPU threads")
        parser.add_argument("--channels", help="U-Net widths per level, e.g. 64,96,128,192")
        parser.add_argument(
            "--coarse",
            choices=COARSE_FILLS,
            default="harmonic",
            help="the classical fill of the damage the network improves on: membrane "
            "interpolation (harmonic, default), Telea's, or none",
        )
        parser.add_argument(
            "--mid-attention",
            action="store_true",
            help="self-attention at the coarsest level (1/16 of the crop's side)",
        )
        parser.add_argument(
            "--refiner",
            type=int,
            default=0,
            metavar="CHANNELS",
            help="add a full-resolution border refiner of this width (e.g. 32) after the U-Net; "
            "with --init, to the network it starts from",
        )
        parser.add_argument(
            "--refiner-only",
            action="store_true",
            help="train the border refiner only: the rest of the network keeps its weights",
        )
        parser.add_argument(
            "--high-noise",
            type=float,
            default=0.0,
            help="share of samples drawn from the noisy end of the schedule (0-1)",
        )
        parser.add_argument(
            "--noisy-from",
            type=float,
            default=0.7,
            help="where the noisy end of --high-noise starts, as a share of the schedule "
            "(default 0.7: the noisiest 30%%)",
        )
        parser.add_argument(
            "--ssim-weight",
            type=float,
            default=0.0,
            help="add this weight times 1 - SSIM of the restored damage to the squared error",
        )
        parser.add_argument(
            "--oversample",
            action="append",
            default=[],
            metavar="PATTERN=WEIGHT",
            help="draw training images whose file name matches PATTERN (e.g. 'dh_*') WEIGHT "
            "times as often (repeatable)",
        )
        parser.add_argument(
            "--sd-model",
            help="train the prior adapter of a frozen Stable Diffusion inpainting pipeline "
            "(a local diffusers folder) instead of the pixel-space U-Net",
        )
        parser.add_argument(
            "--register",
            action="store_true",
            help="register the result as a ModelCheckpoint in the database",
        )
        parser.add_argument("--name", help="name of the registered checkpoint")

    def handle(self, *args, **options) -> None:
        from restoration.engines.registry import resolve_device
        from restoration.learned.training import TrainOptions, train

        if options["steps"] < 1 or options["batch"] < 1 or options["size"] < 16:
            raise CommandError("--steps and --batch must be at least 1, --size at least 16")
        if not 0 <= options["high_noise"] <= 1:
            raise CommandError("--high-noise must be between 0 and 1")
        if not 0 <= options["noisy_from"] < 1:
            raise CommandError("--noisy-from must be at least 0 and below 1")
        if options["ssim_weight"] < 0:
            raise CommandError("--ssim-weight must not be negative")
        if options["refiner"] < 0:
            raise CommandError("--refiner must be 0 (none) or a number of channels")
        oversample = {}
        for item in options["oversample"]:
            pattern, _, weight = item.rpartition("=")
            try:
                value = float(weight)
            except ValueError:
                value = 0.0
            if not pattern or not value > 0:
                raise CommandError(
                    f"--oversample takes PATTERN=WEIGHT with a positive weight, got {item!r}"
                )
            oversample[pattern] = value
        if options["init"] and (options["channels"] or options["mid_attention"]):
            raise CommandError(
                "--init keeps the architecture of the checkpoint it starts from: "
                "leave out --channels and --mid-attention"
            )
        architecture = {"coarse_fill": options["coarse"], "mid_attention": options["mid_attention"]}
        if options["channels"]:
            try:
                architecture["block_out_channels"] = [
                    int(x) for x in options["channels"].split(",")
                ]
            except ValueError:
                raise CommandError("--channels must be integers separated by commas") from None
        train_options = TrainOptions(
            data=[str(folder) for folder in options["data"]],
            out=str(options["out"]),
            masks=str(options["masks"]) if options["masks"] else None,
            size=options["size"],
            steps=options["steps"],
            batch=options["batch"],
            lr=options["lr"],
            device=resolve_device(options["device"]),
            resume=str(options["resume"]) if options["resume"] else None,
            init=str(options["init"]) if options["init"] else None,
            seed=options["seed"],
            sample_every=options["sample_every"],
            save_every=options["save_every"],
            redistributable_only=options["redistributable_only"],
            generated=options["generated"],
            max_minutes=options["max_minutes"],
            threads=options["threads"],
            architecture=architecture,
            high_noise=options["high_noise"],
            noisy_from=options["noisy_from"],
            ssim_weight=options["ssim_weight"],
            oversample=oversample,
            refiner=options["refiner"],
            refiner_only=options["refiner_only"],
        )
        bar = tqdm(total=options["steps"], desc=options["engine"], unit="step", file=self.stderr)
        if options["sd_model"]:
            self._train_adapter(options, bar)
            return

        def on_step(step: int, total: int, loss: float) -> None:
            bar.n = step
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.refresh()

        try:
            config = train(train_options, on_step=on_step, log=bar.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(
            f"Wrote {options['out']} after {config['training']['steps']} steps "
            f"({config['training']['seconds']:.0f} s)."
        )
        if options["register"]:
            self._register(options, config)

    def _train_adapter(self, options, bar) -> None:
        from restoration.engines.registry import resolve_device
        from restoration.learned import data, sd_backbone

        try:
            sources = []
            for folder in options["data"]:
                sources += data.load_folder(
                    folder, redistributable_only=options["redistributable_only"]
                )
            config = sd_backbone.train_adapter(
                sd_model=options["sd_model"],
                sources=sources,
                out=options["out"],
                size=options["size"],
                steps=options["steps"],
                batch=options["batch"],
                lr=options["lr"],
                seed=options["seed"],
                device=resolve_device(options["device"]),
                on_step=lambda step, total, loss: (
                    bar.update(1),
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=True),
                ),
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(
            f"Wrote the SD prior adapter {options['out']} ({config['training']['steps']} steps)."
        )
        if options["register"]:
            self._register(options, config)

    def _register(self, options, config) -> None:
        from django.core.management import call_command

        args = [str(options["out"]), "--engine", options["engine"]]
        if options["name"]:
            args += ["--name", options["name"]]
        call_command("register_checkpoint", *args, stdout=self.stdout)
