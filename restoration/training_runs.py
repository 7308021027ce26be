"""Writes of training runs: create, resume, queue (Celery queue `train`), run, cancel, sweep.

A training run is a long job like a restoration job and shares its life cycle
(restoration.lifecycle: dispatch, claim, heartbeat, finish, cancel, sweep) and its progress
reporting (restoration.progress.Reporter, the WebSocket consumer); this module binds them to
TrainingRun. The run trains on the chosen motifs' own images: a motif with real damage
annotations contributes only tiles that its (current) damage masks leave intact, so damaged
pixels never serve as ground truth. Its folder under HERITAGE_TRAINING_DIR keeps the weights
and the training state, from which a run whose worker died continues and a new run resumes.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from PIL import Image

from heritage.ids import parse_id
from heritage.models import DamageAnnotation, Motif, User
from heritage.services import annotation_read_mask, motif_read_rgb
from restoration import checkpoints, lifecycle, pipeline, progress, training_selectors
from restoration.engines.base import Cancelled, EngineError
from restoration.models import ModelCheckpoint, TrainingRun

logger = logging.getLogger(__name__)

Status = TrainingRun.Status

# The engines that can be trained (restoration.learned.training); the CLI offers the same.
TRAINABLE = ("prior_diffusion",)
# Style-transfer engines trained on two unpaired sets of motifs (restoration.style.training):
# domain A (photographs) -> domain B (paintings); `manage.py train_style` is their CLI.
STYLE_TRAINABLE = ("cyclegan", "cut")
# What a curator can train from the browser.
UI_TRAINABLE = TRAINABLE + STYLE_TRAINABLE
# Files of the checkpoint folder that are registered (the optimiser state stays in the run's
# folder, for resuming).
WEIGHTS, CONFIG, STATE = "model.safetensors", "config.json", "training_state.pt"

DEFAULTS = {"size": 128, "steps": 2000, "batch": 8, "lr": 2e-4, "seed": 0, "sample_every": 100}
# (low, high) of each numeric option, inclusive.
BOUNDS = {
    "size": (16, 512),
    "steps": (1, 1_000_000),
    "batch": (1, 64),
    "lr": (1e-6, 1e-2),
    "seed": (0, 2**31 - 1),
    "sample_every": (1, 1_000_000),
}
# Architecture keys a curator may set, with bounds (restoration.learned.unet.UNetConfig).
ARCHITECTURE_BOUNDS = {
    "prior_channels": (4, 256),
    "norm_groups": (1, 64),
    "patch_size": (1, 4),
    "layers_per_block": (1, 4),
}
DEFAULT_CHANNELS = [64, 96, 128, 192]
DEFAULT_PATCH = 2
DEFAULT_NORM_GROUPS = 16
# A checkpoint to fine-tune keeps its own architecture (restoration.learned.training --init).
WIDTHS_WITH_START = (
    "U-Net widths shape a new network, and a run that starts from a checkpoint keeps that "
    "checkpoint's architecture: choose widths or a checkpoint to start from, not both."
)
# Pixels around real damage that are left out too (brush strokes rarely cover the last halo).
DAMAGE_MARGIN = 8

# Options of style runs (restoration.style.training.StyleTrainOptions) and their bounds.
STYLE_DEFAULTS = {
    "size": 128,
    "steps": 2000,
    "batch": 1,
    "lr": 2e-4,
    "seed": 0,
    "sample_every": 100,
    "ngf": 64,
    "n_blocks": 9,
}
# Crops of at least 32 pixels: the PatchGAN discriminator's instance norms need more than one
# value per channel at its last layers.
STYLE_BOUNDS = {**BOUNDS, "size": (32, 512), "batch": (1, 16), "ngf": (8, 128), "n_blocks": (0, 12)}
# The variants each style engine trains (its checkpoint runs in that engine).
STYLE_VARIANTS = {"cyclegan": ("cyclegan",), "cut": ("cut", "fastcut")}


def _require_curator(user: User | None) -> None:
    if user is None or not getattr(user, "is_curator", False):
        raise PermissionDenied("Only curators can train models.")


def _numbers_clean(
    options: dict, defaults: dict, bounds: dict, errors: list[str]
) -> dict[str, int | float]:
    """The numeric options of `defaults` converted and bounded; problems go to `errors`."""
    cleaned: dict = {}
    for name, default in defaults.items():
        value = options.get(name, default)
        kind = float if isinstance(default, float) else int
        low, high = bounds[name]
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float)):
                raise ValueError
            value = kind(value)
            if kind is float and not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"{name} must be a {'number' if kind is float else 'whole number'}.")
            continue
        if not low <= value <= high:
            errors.append(f"{name} must be from {low:g} to {high:g}, got {value:g}.")
            continue
        cleaned[name] = value
    return cleaned


def training_options_clean(options: dict, *, resumed: bool = False) -> dict:
    """Options with defaults filled in; ValidationError listing every bad one.

    options["init_checkpoint"]: the id of the checkpoint to fine-tune (training_start_check),
    or None for a new network; not with architecture options. Not checked again when
    `resumed`: a resumed run continues its own saved state, and its start may be gone since.
    """
    unknown = set(options) - set(DEFAULTS) - {"architecture", "init_checkpoint"}
    errors = [f"Unknown option {name!r}." for name in sorted(unknown)]
    cleaned = _numbers_clean(options, DEFAULTS, BOUNDS, errors)
    architecture, arch_errors = _architecture_clean(options.get("architecture") or {})
    errors += arch_errors
    init, network = options.get("init_checkpoint"), architecture
    if init is not None:
        if architecture:
            errors.append(WIDTHS_WITH_START)
        try:
            start = training_start_check(checkpoint_id=init)
        except ValidationError as exc:
            if not resumed:
                errors += exc.messages
            network = None
        else:
            init, network = start.pk, start.config.get("architecture") or {}
    if not errors:
        if network is not None:
            multiple = network.get("patch_size", DEFAULT_PATCH) * 2 ** (
                len(network.get("block_out_channels", DEFAULT_CHANNELS)) - 1
            )
            if cleaned["size"] % multiple:
                errors.append(f"size must be a multiple of {multiple} for this network.")
        if cleaned["sample_every"] > cleaned["steps"]:
            errors.append("sample_every must not exceed steps (a sample is also made at the end).")
    if errors:
        raise ValidationError(errors)
    cleaned["architecture"] = architecture
    if init is not None:
        cleaned["init_checkpoint"] = init
    return cleaned


def training_start_check(*, checkpoint_id) -> ModelCheckpoint:
    """The registered checkpoint a prior_diffusion run may start from (fine-tune).

    Raises ValidationError for an id no checkpoint has, another engine's checkpoint, or a
    Stable Diffusion adapter (backbone "sd": train_engine fine-tunes pixel networks only).
    """
    pk = parse_id(checkpoint_id)
    start = ModelCheckpoint.objects.filter(pk=pk).first() if pk is not None else None
    if start is None:
        raise ValidationError(
            f"No checkpoint with the id {checkpoint_id!r} is registered: start from a "
            "registered prior_diffusion checkpoint, or from a new network."
        )
    if start.engine != "prior_diffusion":
        raise ValidationError(
            f"Checkpoint {start.name!r} holds weights of {start.engine}, not prior_diffusion: "
            "a run can only start from weights of the engine it trains."
        )
    if training_selectors.checkpoint_is_sd_backbone(start):
        raise ValidationError(
            f"Checkpoint {start.name!r} is an adapter on Stable Diffusion (backbone sd); runs "
            "from the UI fine-tune pixel networks only: start from another checkpoint or a "
            "new network."
        )
    return start


def style_options_clean(engine: str, options: dict, motifs: list[Motif]) -> dict:
    """Options of a style run with defaults filled in; ValidationError listing every problem.

    options["domain_a"] and options["domain_b"] are the ids of the motifs of each domain
    (photographs to translate from, paintings of the style to translate to): each at least one,
    none in both, all among `motifs`. variant: "cyclegan" for cyclegan, "cut" (default) or
    "fastcut" for cut.
    """
    allowed = set(STYLE_DEFAULTS) | {"variant", "domain_a", "domain_b"}
    errors = [f"Unknown option {name!r}." for name in sorted(set(options) - allowed)]
    cleaned = _numbers_clean(options, STYLE_DEFAULTS, STYLE_BOUNDS, errors)
    variants = STYLE_VARIANTS[engine]
    variant = options.get("variant") or variants[0]
    if variant not in variants:
        errors.append(f"{engine} trains the variant {' or '.join(variants)}, not {variant!r}.")
    cleaned["variant"] = variant
    chosen = {motif.pk for motif in motifs}
    domains = {}
    for key, label in (
        ("domain_a", "domain A (photographs)"),
        ("domain_b", "domain B (paintings)"),
    ):
        ids = options.get(key) or []
        if not isinstance(ids, list) or not all(
            isinstance(pk, int) and not isinstance(pk, bool) for pk in ids
        ):
            errors.append(f"{key} must be a list of motif ids.")
            continue
        ids = sorted(set(ids))
        if not ids:
            errors.append(f"Choose at least one motif for {label}.")
        elif set(ids) - chosen:
            errors.append(f"{label} names motifs that are not among the run's motifs.")
        domains[key] = ids
    if set(domains.get("domain_a", [])) & set(domains.get("domain_b", [])):
        errors.append("A motif cannot be in both domains.")
    if not errors:
        if cleaned["size"] % 4:
            errors.append("size must be a multiple of 4 for this network.")
        if cleaned["sample_every"] > cleaned["steps"]:
            errors.append("sample_every must not exceed steps (a sample is also made at the end).")
    if errors:
        raise ValidationError(errors)
    return {**cleaned, **domains}


def _architecture_clean(architecture) -> tuple[dict, list[str]]:
    if not isinstance(architecture, dict):
        return {}, ["architecture must be a mapping."]
    errors, cleaned = [], {}
    for key, value in architecture.items():
        if key == "block_out_channels":
            if (
                not isinstance(value, list)
                or not 1 <= len(value) <= 6
                or not all(isinstance(v, int) and 8 <= v <= 512 for v in value)
            ):
                errors.append("block_out_channels must be 1 to 6 widths from 8 to 512.")
                continue
        elif key in ARCHITECTURE_BOUNDS:
            low, high = ARCHITECTURE_BOUNDS[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                errors.append(f"architecture {key} must be a whole number from {low} to {high}.")
                continue
        else:
            errors.append(f"Unknown architecture option {key!r}.")
            continue
        cleaned[key] = value
    if not errors:
        groups = cleaned.get("norm_groups", DEFAULT_NORM_GROUPS)
        widths = cleaned.get("block_out_channels", DEFAULT_CHANNELS)
        if any(width % groups for width in widths + [cleaned.get("prior_channels", groups)]):
            errors.append(f"Every width (and prior_channels) must be a multiple of {groups}.")
    return cleaned, errors


def training_run_create(
    *,
    requested_by: User,
    engine: str,
    motifs: list[Motif],
    options: dict,
    resumed_from: TrainingRun | None = None,
    losses: list | None = None,
    queue: bool = True,
) -> TrainingRun:
    """Save a training run and queue it on commit.

    A style engine (cyclegan, cut) trains from the motifs of options["domain_a"] to those of
    options["domain_b"] (see style_options_clean); `motifs` are both domains together.

    Raises PermissionDenied for non-curators, ValidationError for an engine that cannot be
    trained, fewer than HERITAGE_TRAIN_MIN_MOTIFS motifs (restoration engines), an empty or
    shared domain (style engines) or bad options.
    """
    _require_curator(requested_by)
    if engine not in UI_TRAINABLE:
        raise ValidationError(
            f"Engine {engine!r} cannot be trained here; trainable: {', '.join(UI_TRAINABLE)}."
        )
    motifs = list({motif.pk: motif for motif in motifs}.values())
    if engine in STYLE_TRAINABLE:
        cleaned = style_options_clean(engine, options, motifs)
    else:
        if len(motifs) < settings.TRAINING_MIN_MOTIFS:
            raise ValidationError(
                f"Choose at least {settings.TRAINING_MIN_MOTIFS} motifs to train on "
                f"({len(motifs)} chosen)."
            )
        cleaned = training_options_clean(options, resumed=resumed_from is not None)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            engine=engine,
            options=cleaned,
            total=cleaned["steps"],
            resumed_from=resumed_from,
            losses=losses or [],
            requested_by=requested_by,
        )
        run.motifs.set(motifs)
        run.output = f"run-{run.pk:06d}"
        TrainingRun.objects.filter(pk=run.pk).update(output=run.output)
    if queue:
        transaction.on_commit(lambda: training_run_enqueue(run_id=run.pk))
    else:
        TrainingRun.objects.filter(pk=run.pk).update(dispatched_at=timezone.now())
    return run


def sample_legend(run: TrainingRun) -> str:
    """What the columns of the run's sample grids show."""
    if run.engine not in STYLE_TRAINABLE:
        return "damaged input | restoration | truth"
    if run.options.get("variant") == "cyclegan":
        return "photograph | in the style | translated back"
    return "photograph | in the style"


def training_run_folder(run: TrainingRun) -> Path:
    return Path(settings.TRAINING_DIR) / run.output


def training_run_saved_step(run: TrainingRun) -> int:
    """The step of the run's last saved training state (0 when none: it cannot be resumed)."""
    folder = training_run_folder(run)
    if not (folder / STATE).is_file():
        return 0
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        if run.engine in STYLE_TRAINABLE:
            return int(config["steps"])
        return int(config["training"]["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def training_run_resume(*, run: TrainingRun, user: User, steps: int | None = None) -> TrainingRun:
    """A new run that continues `run` from its last saved state up to `steps` in all (default:
    the steps `run` was asked for), on the same motifs with the same options.

    Raises PermissionDenied, ValidationError for a run still going, one with no saved state,
    or `steps` not beyond the saved step.
    """
    _require_curator(user)
    if run.status not in TrainingRun.FINISHED:
        raise ValidationError("Only a run that has ended can be resumed; cancel it first.")
    saved = training_run_saved_step(run)
    if not saved:
        raise ValidationError(
            "This run saved no training state to continue from (it stopped before its first "
            "save, or its folder is gone): start a new run instead."
        )
    steps = run.options["steps"] if steps is None else steps
    if steps <= saved:
        raise ValidationError(
            f"The run saved its state at step {saved}: resume to more steps than that."
        )
    options = {**run.options, "steps": steps}
    options["sample_every"] = min(options["sample_every"], steps)
    return training_run_create(
        requested_by=user,
        engine=run.engine,
        motifs=list(run.motifs.all()),
        options=options,
        resumed_from=run,
        losses=[point for point in run.losses if point[0] <= saved],
    )


def training_run_enqueue(*, run_id: int) -> bool:
    """Send a pending run to its runner and record it; False (logged) if the broker is down."""
    return lifecycle.dispatch(TrainingRun, run_id, _send)


def _send(run_id: int) -> None:
    # Looked up at call time, so tests can replace training_run_dispatch.
    training_run_dispatch(run_id=run_id)


def training_run_dispatch(*, run_id: int) -> None:
    """Hand a saved run to the configured runner: Celery queue `train`, or a server thread."""
    if settings.RESTORATION_RUNNER == "celery":
        from restoration.tasks import run_training_run

        run_training_run.apply_async(args=[run_id], queue="train")
    else:
        from restoration import embedded

        embedded.submit_training(run_id)


def _publish(run_id: int, message: dict) -> None:
    progress.publish_to(progress.group_name(run_id, kind="training"), message)


def _event(run: TrainingRun, kind: str) -> dict:
    return {"type": kind, **training_selectors.training_run_state(run=run)}


def training_run_run(*, run_id: int) -> None:
    """Claim and run one training run to its end; never raises for a failing run (the error is
    stored on the run and published)."""
    if not lifecycle.claim(
        TrainingRun, run_id, worker=lifecycle.worker_name(), device=settings.RESTORATION_DEVICE
    ):
        logger.info("training run %s was not claimable", run_id)
        return
    run = TrainingRun.objects.get(pk=run_id)
    _publish(run_id, _event(run, "job.progress"))
    with lifecycle.Heartbeat(
        TrainingRun,
        run_id,
        attempt=run.attempts,
        interval=settings.RESTORATION_HEARTBEAT_TIMEOUT / 4,
    ):
        _run_claimed(run)
    run.refresh_from_db()
    if run.status in lifecycle.ENDED_EVENTS:
        _publish(run_id, _event(run, lifecycle.ENDED_EVENTS[run.status]))


def _run_claimed(run: TrainingRun) -> None:
    run_id = run.pk
    try:
        config = _train(run)
    except Cancelled:
        if TrainingRun.objects.filter(pk=run_id, cancel_requested=True).exists():
            lifecycle.finish(TrainingRun, run_id, Status.CANCELLED)
    except (ValueError, ValidationError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        lifecycle.finish(TrainingRun, run_id, Status.FAILED, error=message)
    except SoftTimeLimitExceeded:
        limit = settings.TRAINING_TIME_LIMIT
        lifecycle.finish(
            TrainingRun,
            run_id,
            Status.FAILED,
            error=f"The run ran past its time limit ({limit} s); resume it to train further.",
        )
    except Exception as exc:
        logger.exception("training run %s failed", run_id)
        lifecycle.finish(
            TrainingRun,
            run_id,
            Status.FAILED,
            error=f"Training failed: {type(exc).__name__}: {exc}",
        )
    else:
        try:
            _register(run, config)
        except Exception as exc:
            logger.exception("registering the weights of training run %s failed", run_id)
            lifecycle.finish(
                TrainingRun,
                run_id,
                Status.FAILED,
                error=f"The weights were trained but could not be registered: {exc}",
            )


class _Watcher:
    """train()'s on_step: thins the loss curve, picks up new sample grids, reports the step."""

    def __init__(self, run: TrainingRun, folder: Path, reporter: progress.Reporter):
        self.run, self.folder, self.reporter = run, folder, reporter
        self.losses = list(run.losses)
        self.every = max(1, math.ceil(run.options["steps"] / TrainingRun.LOSS_POINTS))
        self.window: list[float] = []
        self.sample_step = 0
        self.unsent: np.ndarray | None = None

    def __call__(self, step: int, total: int, loss: float) -> None:
        self.window.append(loss)
        event: dict = {"loss": loss}
        if step % self.every == 0 or step == total:
            point = [step, round(float(np.mean(self.window)), 6)]
            self.window = []
            self.losses.append(point)
            event["point"] = point
        # train() writes a step's sample grid before calling on_step.
        every = self.run.options["sample_every"]
        self.pick_up_sample(step // every * every)
        self._report(step, total, event)

    def pick_up_sample(self, step: int) -> None:
        path = self.folder / "samples" / f"step_{step:06d}.png"
        if step <= self.sample_step or not path.is_file():
            return
        with Image.open(path) as image:
            grid = np.asarray(image.convert("RGB"))
        self.sample_step, self.unsent = step, grid
        jpeg = pipeline.preview_jpeg(grid, longest_side=512, quality=85)
        stored = self.run.latest_sample.storage.save(
            f"training/samples/run-{self.run.pk}-step-{step}.jpg", ContentFile(jpeg)
        )
        old = TrainingRun.objects.filter(pk=self.run.pk).values_list("latest_sample", flat=True)
        old = old.first()
        TrainingRun.objects.filter(pk=self.run.pk).update(latest_sample=stored, sample_step=step)
        if old:
            self.run.latest_sample.storage.delete(old)

    def _render(self) -> np.ndarray:
        grid, self.unsent = self.unsent, None
        return grid

    def _report(self, step: int, total: int, event: dict) -> None:
        if self.unsent is not None:
            event["sample_step"] = self.sample_step
        # The sample is offered until the reporter (which thins previews) takes it.
        self.reporter(
            step,
            total,
            preview=self._render if self.unsent is not None else None,
            event=event,
            state={"losses": self.losses},
        )

    def finish(self, step: int) -> None:
        """After train() returned: the last grid, if no step report carried it, and the curve."""
        self.pick_up_sample(step)
        if self.unsent is not None:
            jpeg = pipeline.preview_jpeg(self._render())
            _publish(
                self.run.pk,
                {
                    "type": "job.progress",
                    "job": self.run.pk,
                    "status": Status.RUNNING,
                    "step": step,
                    "total": self.run.total,
                    "sample_step": self.sample_step,
                    "preview": progress.data_url(jpeg),
                },
            )
        TrainingRun.objects.filter(pk=self.run.pk).update(losses=self.losses, step=step)


class _StyleWatcher(_Watcher):
    """train_style()'s on_step: several losses a step (each thinned to a curve), the sample
    grid train_style says it wrote at this step, the step reported."""

    def __init__(self, run: TrainingRun, folder: Path, reporter: progress.Reporter):
        super().__init__(run, folder, reporter)
        self.windows: dict[str, list[float]] = {}

    def __call__(
        self, step: int, total: int, losses: dict[str, float], sample: Path | None
    ) -> None:
        for name, value in losses.items():
            self.windows.setdefault(name, []).append(float(value))
        event: dict = {"step_losses": {name: round(float(v), 6) for name, v in losses.items()}}
        if step % self.every == 0 or step == total:
            point = [step, {name: round(float(np.mean(v)), 6) for name, v in self.windows.items()}]
            self.windows = {}
            self.losses.append(point)
            event["point"] = point
        if sample is not None:
            self.pick_up_sample(step)
        self._report(step, total, event)


def _train(run: TrainingRun) -> dict:
    """Export the motifs, train (resuming where a state was saved), return the saved config."""
    if run.engine in STYLE_TRAINABLE:
        return _train_style(run)
    from restoration.learned.training import TrainOptions, train

    device, folder, resume = _prepare(run)
    # A run that continues a saved state (its own or the run it resumes) never starts over from
    # its checkpoint; train() refuses init and resume together.
    init = None if resume else _start_folder(run)
    options = run.options
    watcher = _Watcher(run, folder, _reporter(run))
    with tempfile.TemporaryDirectory(prefix=f"training-run-{run.pk}-") as data_dir:
        manifest = _export_motifs(run, Path(data_dir), tile=2 * options["size"])
        TrainingRun.objects.filter(pk=run.pk).update(data_manifest=manifest)
        try:
            config = train(
                TrainOptions(
                    data=[data_dir],
                    out=str(folder),
                    size=options["size"],
                    steps=options["steps"],
                    batch=options["batch"],
                    lr=options["lr"],
                    seed=options["seed"],
                    device=device,
                    resume=resume,
                    init=init,
                    sample_every=options["sample_every"],
                    # Saved at every sample: cancelling or a lost worker costs at most that much.
                    save_every=options["sample_every"],
                    longest=max(512, 2 * options["size"]),
                    architecture=options["architecture"],
                ),
                on_step=watcher,
                log=lambda line: logger.info("training run %s: %s", run.pk, line),
            )
        finally:
            # Progress is persisted throttled: a cancelled or failed run keeps its whole curve.
            TrainingRun.objects.filter(pk=run.pk, attempts=run.attempts).update(
                losses=watcher.losses
            )
    watcher.finish(config["training"]["steps"])
    return config


def _prepare(run: TrainingRun) -> tuple[str, Path, str | None]:
    """The device (recorded on the run), the run's folder, and the state to resume from: the
    run's own (an earlier attempt whose worker died; the curve is cut back to it), else the
    run it resumes, else None."""
    from restoration.engines.registry import device as resolve_device

    device = resolve_device()
    TrainingRun.objects.filter(pk=run.pk).update(device=device)
    folder = training_run_folder(run)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / STATE).is_file():
        saved = training_run_saved_step(run)
        run.losses = [point for point in run.losses if point[0] <= saved]
        return device, folder, str(folder)
    if run.resumed_from is not None:
        return device, folder, str(training_run_folder(run.resumed_from))
    return device, folder, None


def _start_folder(run: TrainingRun) -> str | None:
    """The local folder of the checkpoint the run fine-tunes (None: a new network).

    Raises ValidationError when that checkpoint is no longer usable or its weights are missing.
    """
    if run.options.get("init_checkpoint") is None:
        return None
    start = training_start_check(checkpoint_id=run.options["init_checkpoint"])
    try:
        return checkpoints.local_path(start)
    except EngineError as exc:
        raise ValidationError(f"The checkpoint to start from cannot be read: {exc}") from exc


def _reporter(run: TrainingRun) -> progress.Reporter:
    return progress.Reporter(
        run.pk,
        encode_preview=pipeline.preview_jpeg,
        cancelled=Cancelled,
        time_limit=settings.TRAINING_TIME_LIMIT,
        model=TrainingRun,
        publish=_publish,
    )


def _train_style(run: TrainingRun) -> dict:
    """Export both domains' motifs, train the style engine (restoration.style.training),
    return the saved config."""
    from restoration.style.training import StyleTrainOptions, train_style

    device, folder, resume = _prepare(run)
    options = run.options
    watcher = _StyleWatcher(run, folder, _reporter(run))
    with tempfile.TemporaryDirectory(prefix=f"training-run-{run.pk}-") as data_dir:
        domains, manifest = {}, {}
        for key in ("domain_a", "domain_b"):
            domains[key] = Path(data_dir) / key
            domains[key].mkdir()
            manifest[key] = _export_motifs(
                run,
                domains[key],
                tile=2 * options["size"],
                motifs=Motif.objects.filter(pk__in=options[key]).order_by("pk"),
            )
        TrainingRun.objects.filter(pk=run.pk).update(data_manifest=manifest)
        run.data_manifest = manifest
        try:
            config = train_style(
                StyleTrainOptions(
                    variant=options["variant"],
                    domain_a=[domains["domain_a"]],
                    domain_b=[domains["domain_b"]],
                    out=folder,
                    size=options["size"],
                    load_size=round(options["size"] * 286 / 256),
                    steps=options["steps"],
                    batch=options["batch"],
                    lr=options["lr"],
                    seed=options["seed"],
                    sample_every=options["sample_every"],
                    # Saved at every sample: cancelling or a lost worker costs at most that much.
                    save_every=options["sample_every"],
                    device=device,
                    resume=Path(resume) if resume else None,
                    ngf=options["ngf"],
                    n_blocks=options["n_blocks"],
                    command=f"training run {run.pk} from the browser",
                ),
                on_step=watcher,
                log=lambda line: logger.info("training run %s: %s", run.pk, line),
            )
        finally:
            TrainingRun.objects.filter(pk=run.pk, attempts=run.attempts).update(
                losses=watcher.losses
            )
    watcher.finish(config["steps"])
    return config


def _export_motifs(run: TrainingRun, folder: Path, *, tile: int, motifs=None) -> dict:
    """Write the run's motifs (or `motifs`, some of them) as training images into `folder`,
    with a manifest.csv of licences; returns the data manifest. A motif with real (not
    simulated) damage gives only the tiles of `tile` pixels its current masks leave intact,
    with a margin.

    Raises ValidationError when no motif gives any image.
    """
    import cv2

    rows, entries = [], []
    for motif in run.motifs.order_by("pk") if motifs is None else motifs:
        image = motif_read_rgb(motif=motif)
        annotations = DamageAnnotation.objects.filter(
            motif=motif, superseded_by__isnull=True
        ).exclude(method=DamageAnnotation.Method.SIMULATED)
        damaged = np.zeros(image.shape[:2], bool)
        for annotation in annotations:
            damaged |= annotation_read_mask(annotation=annotation) > 127
        licence = motif.licence.strip() or "unknown"
        entry = {
            "id": motif.pk,
            "title": motif.title,
            "sha256": motif.sha256,
            "licence": licence,
            "real_damage_annotations": [a.pk for a in annotations],
        }
        if damaged.any():
            kernel = np.ones((2 * DAMAGE_MARGIN + 1,) * 2, np.uint8)
            damaged = cv2.dilate(damaged.astype(np.uint8), kernel) > 0
            parts = _intact_tiles(image, damaged, tile)
            entry["damaged_share"] = round(float(damaged.mean()), 4)
        else:
            parts = [image]
        names = []
        for i, part in enumerate(parts):
            name = f"motif-{motif.pk}.png" if part is image else f"motif-{motif.pk}-tile-{i}.png"
            Image.fromarray(part).save(folder / name)
            rows.append((name, licence))
            names.append(name)
        entry["files"] = names
        entries.append(entry)
    if not rows:
        raise ValidationError(
            f"None of the chosen motifs has an intact area of {tile} x {tile} pixels outside "
            "its recorded damage: choose motifs with less damage, or a smaller size."
        )
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "licence"])
        writer.writerows(rows)
    return {
        "motifs": entries,
        "excluded": f"pixels of real damage annotations, dilated by {DAMAGE_MARGIN} px",
    }


def _intact_tiles(image: np.ndarray, damaged: np.ndarray, tile: int) -> list[np.ndarray]:
    """Non-overlapping tile x tile crops of `image` with no damaged pixel (a grid, row-major)."""
    height, width = damaged.shape
    tile = min(tile, height, width)
    return [
        image[y : y + tile, x : x + tile]
        for y in range(0, height - tile + 1, tile)
        for x in range(0, width - tile + 1, tile)
        if not damaged[y : y + tile, x : x + tile].any()
    ]


def _register(run: TrainingRun, config: dict) -> None:
    """Register the trained weights (weights, config, latest samples; not the optimiser state)
    as a ModelCheckpoint of the run's engine trained by its curator, and succeed the run."""
    folder = training_run_folder(run)
    run.refresh_from_db()
    training = config.get("training", {})
    with tempfile.TemporaryDirectory(prefix=f"training-run-{run.pk}-weights-") as staging:
        staging = Path(staging)
        shutil.copy2(folder / WEIGHTS, staging / WEIGHTS)
        shutil.copy2(folder / CONFIG, staging / CONFIG)
        samples = sorted((folder / "samples").glob("step_*.png"))
        latest = folder / "samples" / "latest.png"
        if latest.is_file() or samples:
            (staging / "samples").mkdir()
            source = latest if latest.is_file() else samples[-1]
            shutil.copy2(source, staging / "samples" / source.name)
        if run.engine in STYLE_TRAINABLE:
            steps = config.get("steps")
            # {"domain_a": [{"file", "sha256", "licence"}...], "domain_b": [...]}
            training_data = {**config.get("training_data", {}), "motifs": run.data_manifest}
            losses = {
                "points": run.losses,
                "last": config.get("losses", {}),
                "every_50_steps": training.get("history", []),
            }
        else:
            steps = training.get("steps")
            files = [
                {"path": entry["file"], "sha256": entry["sha256"], "licence": entry["licence"]}
                for entry in training.get("data", [])
            ]
            training_data = {**run.data_manifest, "files": files}
            losses = {"points": run.losses, "per_10_steps": training.get("losses", [])}
        start = training_selectors.training_run_start_record(run=run)
        notes = f"Trained from the UI by training run {run.pk}"
        if run.resumed_from_id:
            notes += f", resuming run {run.resumed_from_id}"
        if start:
            named = f"{start['name']!r} (sha256 {start['sha256'][:12]})" if start["name"] else ""
            notes += f", fine-tuning checkpoint {named or '#' + str(start['id'])}"
        checkpoint = checkpoints.checkpoint_register(
            location=staging,
            engine=run.engine,
            name=f"Training run {run.pk} ({steps or run.step} steps)",
            training_data={
                **training_data,
                "training_run": run.pk,
                **({"init_checkpoint": start} if start else {}),
            },
            steps=steps,
            losses=losses,
            trained_by=run.requested_by,
            notes=notes + ".",
        )
    if not lifecycle.finish(TrainingRun, run.pk, Status.SUCCEEDED, checkpoint=checkpoint):
        # Cancelled or recovered by the sweep meanwhile: the weights are still registered (a
        # curator may use them), and the run keeps the state it was moved to.
        TrainingRun.objects.filter(pk=run.pk).update(checkpoint=checkpoint)


def training_run_cancel(*, run: TrainingRun, user: User) -> TrainingRun:
    """Cancel a run: a pending one at once, a running one at its next step (its last saved
    state stays, to resume from). Raises PermissionDenied, ValidationError if it had ended."""
    _require_curator(user)
    outcome = lifecycle.cancel(TrainingRun, run.pk)
    run.refresh_from_db()
    if outcome is None:
        raise ValidationError(f"The run has already ended ({run.get_status_display().lower()}).")
    if outcome == "cancelled":
        _publish(run.pk, _event(run, "job.cancelled"))
    return run


def training_run_sweep() -> lifecycle.SweepResult:
    """Recover runs whose worker died (they continue from their last saved state) and runs
    whose message was lost; see lifecycle.sweep. Runs on the workers' and embedded schedule."""
    return lifecycle.sweep(
        TrainingRun,
        policy=lifecycle.Policy(
            heartbeat_timeout=settings.RESTORATION_HEARTBEAT_TIMEOUT,
            time_limit=settings.TRAINING_TIME_LIMIT,
            max_attempts=settings.RESTORATION_MAX_ATTEMPTS,
            redispatch_after=settings.RESTORATION_REDISPATCH_AFTER,
        ),
        send=_send,
        publish=_publish,
    )


def run_in_thread(run_id: int) -> None:
    """Entry point of an embedded training thread: run, then release the DB connection."""
    close_old_connections()
    try:
        training_run_run(run_id=run_id)
    except Exception:
        logger.exception("embedded training run %s crashed outside its loop", run_id)
    finally:
        connection.close()
