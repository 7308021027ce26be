"""Writes of restoration jobs: create, queue, claim, run, cancel, retry, sweep stale ones.

Style transfers (task "stylize", style_job_create) are jobs of the same model and life cycle:
the whole motif goes to a style engine, no annotation, no composition and no outline.

The life cycle (dispatch, claim, heartbeat, sweep, re-dispatch) is restoration.lifecycle's,
shared with the other kinds of long jobs; this module binds it to RestorationJob.
"""

import logging
import uuid
from typing import NamedTuple

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from PIL import Image

from heritage import imaging
from heritage.models import DamageAnnotation, Motif, User
from heritage.services import annotation_read_mask, motif_read_rgb
from restoration import checkpoints, lifecycle, pipeline, progress, selectors
from restoration.engines import registry
from restoration.engines.base import Cancelled, EngineError
from restoration.models import ModelCheckpoint, Restoration, RestorationJob, Task

logger = logging.getLogger(__name__)

Status = RestorationJob.Status


def _require_curator(user: User | None) -> None:
    if user is None or not user.is_curator:
        raise PermissionDenied("Only curators can run restorations.")


def job_create(
    *,
    requested_by: User,
    annotation: DamageAnnotation,
    engine: str,
    params: dict | None = None,
    seed: int = 0,
    colour_correction: bool = False,
    checkpoint: ModelCheckpoint | None = None,
    queue: bool = True,
) -> RestorationJob:
    """Save a restoration job of `annotation` and queue it once the transaction commits.

    checkpoint: weights of `engine` to run with; None takes, for an engine that needs weights,
    its default checkpoint, else its newest. With queue=False the job stays pending for the
    caller to run in-process with job_run (commands that make demo content run the fast
    engines so).

    Raises PermissionDenied for non-curators and ValidationError for an unknown engine, a style
    engine (see style_job_create), bad parameters, a seed out of range, a checkpoint of another
    engine or for an engine that takes none, and an engine that needs weights when none are
    registered.
    """
    return _job_create(
        task=Task.RESTORE,
        motif=annotation.motif,
        annotation=annotation,
        requested_by=requested_by,
        engine=engine,
        params=params,
        seed=seed,
        colour_correction=colour_correction,
        checkpoint=checkpoint,
        queue=queue,
    )


def style_job_create(
    *,
    requested_by: User,
    motif: Motif,
    engine: str,
    params: dict | None = None,
    seed: int = 0,
    checkpoint: ModelCheckpoint | None = None,
    queue: bool = True,
) -> RestorationJob:
    """Save a style transfer of the whole `motif` (task "stylize") and queue it on commit.

    The job has the life cycle, queue, progress and pages of restoration jobs; it has no
    damage annotation, and its result is the engine's output for every pixel. checkpoint and
    queue as for job_create. Raises PermissionDenied for non-curators and ValidationError for
    an unknown engine, an engine that restores rather than transfers a style, bad parameters,
    a seed out of range and checkpoint problems (as job_create).
    """
    return _job_create(
        task=Task.STYLIZE,
        motif=motif,
        annotation=None,
        requested_by=requested_by,
        engine=engine,
        params=params,
        seed=seed,
        colour_correction=False,
        checkpoint=checkpoint,
        queue=queue,
    )


def _job_create(
    *,
    task: str,
    motif: Motif,
    annotation: DamageAnnotation | None,
    requested_by: User,
    engine: str,
    params: dict | None,
    seed: int,
    colour_correction: bool,
    checkpoint: ModelCheckpoint | None,
    queue: bool,
) -> RestorationJob:
    _require_curator(requested_by)
    if not 0 <= seed < 2**31:
        raise ValidationError("The seed must be a whole number from 0 to 2147483647.")
    try:
        engines = registry.registry()
        cls = engines.engine_class(engine)
        cleaned = engines.clean_params(engine, params or {})
    except EngineError as exc:
        raise ValidationError(str(exc)) from exc
    if cls.task != task:
        raise ValidationError(_WRONG_TASK[task].format(engine=engine))
    checkpoint = _job_checkpoint(engine, checkpoint, needs_weights=cls.needs_weights)
    job = RestorationJob.objects.create(
        motif=motif,
        task=task,
        annotation=annotation,
        engine=engine,
        params=cleaned,
        seed=seed,
        colour_correction=colour_correction,
        checkpoint=checkpoint,
        requested_by=requested_by,
    )
    if queue:
        # Sent once the row is committed; a broker that is down leaves the job pending with no
        # dispatch recorded, and the sweep sends it when the broker is back (never a 500).
        transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    else:
        # The caller runs it now; should it never, the sweep sends it to a runner later.
        RestorationJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())
    return job


_WRONG_TASK = {
    Task.RESTORE: "Engine {engine!r} transfers a style; it does not restore damage. "
    "Launch a style transfer of the motif instead.",
    Task.STYLIZE: "Engine {engine!r} restores damage; it does not transfer a style.",
}


def _job_checkpoint(
    engine: str, checkpoint: ModelCheckpoint | None, *, needs_weights: bool
) -> ModelCheckpoint | None:
    """The checkpoint a new job of `engine` runs with; ValidationError if it cannot."""
    if checkpoint is not None:
        if checkpoint.engine != engine:
            raise ValidationError(
                f"Checkpoint {checkpoint.name!r} holds weights of engine {checkpoint.engine!r}, "
                f"not {engine!r}."
            )
        if not needs_weights:
            raise ValidationError(f"Engine {engine!r} uses no weights; it takes no checkpoint.")
        return checkpoint
    if not needs_weights:
        return None
    default = ModelCheckpoint.objects.filter(engine=engine, is_default=True).first()
    if default is None:
        default = ModelCheckpoint.objects.filter(engine=engine).first()
    if default is None:
        raise ValidationError(
            f"Engine {engine!r} needs trained weights and none are registered: train some, or "
            f"register them with `python manage.py register_checkpoint PATH --engine {engine}`."
        )
    return default


def job_enqueue(*, job_id: int) -> bool:
    """Send a pending job to its runner and record it; False (logged) if the broker is down."""
    return lifecycle.dispatch(RestorationJob, job_id, _send)


def _send(job_id: int) -> None:
    # Looked up at call time, so tests can replace job_dispatch.
    job_dispatch(job_id=job_id)


def job_dispatch(*, job_id: int) -> None:
    """Hand a saved job to the configured runner: Celery queue `gpu`, or a server thread.

    Raises what the broker raises when it cannot take the message; job_enqueue and the sweep
    call it and record the dispatch.
    """
    if settings.RESTORATION_RUNNER == "celery":
        from restoration.tasks import run_restoration_job

        run_restoration_job.apply_async(args=[job_id], queue="gpu")
    else:
        from restoration import embedded

        embedded.submit(job_id)


def job_claim(*, job_id: int, worker: str) -> bool:
    """Move a pending job to running; False if another delivery or a cancel got there first.

    Only pending jobs are claimed: a running job whose worker died is put back to pending (or
    failed after its last attempt) by the sweep, which sends it again.
    """
    return lifecycle.claim(
        RestorationJob, job_id, worker=worker, device=settings.RESTORATION_DEVICE, step=0
    )


def _finish(job_id: int, status: str, **fields) -> bool:
    """Conditionally end a running job; False if it was no longer running."""
    return lifecycle.finish(RestorationJob, job_id, status, **fields)


worker_name = lifecycle.worker_name


def job_run(*, job_id: int) -> None:
    """Claim and run one job (restoration or style transfer): engine, composition, result,
    provenance, metrics, events.

    Never raises for a failing engine: the error is stored on the job and published.
    """
    if not job_claim(job_id=job_id, worker=worker_name()):
        logger.info("job %s was not claimable (already taken, finished or cancelled)", job_id)
        return
    job = RestorationJob.objects.select_related("motif", "annotation__motif").get(pk=job_id)
    progress.publish(job_id, _event(job, "job.progress"))
    # Beats while the job runs, even through a step that takes minutes; stops with the process.
    with lifecycle.Heartbeat(
        RestorationJob,
        job_id,
        attempt=job.attempts,
        interval=settings.RESTORATION_HEARTBEAT_TIMEOUT / 4,
    ):
        _run_claimed(job)
    job.refresh_from_db()
    kind = {
        Status.SUCCEEDED: "job.finished",
        Status.FAILED: "job.failed",
        Status.CANCELLED: "job.cancelled",
    }.get(job.status)
    if kind:
        progress.publish(job_id, _event(job, kind))


def _run_claimed(job: RestorationJob) -> None:
    """Run a claimed job to its end state: succeeded, failed with the reason, or cancelled."""
    job_id = job.pk
    try:
        result = _execute(job)
    except Cancelled:
        if RestorationJob.objects.filter(pk=job_id, cancel_requested=True).exists():
            _finish(job_id, Status.CANCELLED)
    except (EngineError, ValidationError) as exc:
        _finish(job_id, Status.FAILED, error=_message(exc))
    except SoftTimeLimitExceeded:
        limit = settings.RESTORATION_TIME_LIMIT
        _finish(job_id, Status.FAILED, error=f"The job ran past its time limit ({limit} s).")
    except Exception as exc:
        logger.exception("restoration job %s failed", job_id)
        _finish(job_id, Status.FAILED, error=f"The engine failed: {type(exc).__name__}: {exc}")
    else:
        try:
            _store_result(job, result)
        except Exception as exc:
            logger.exception("storing the result of job %s failed", job_id)
            _finish(job_id, Status.FAILED, error=f"The result could not be stored: {exc}")


def _message(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


class _Outcome(NamedTuple):
    result: pipeline.RestoreResult
    original: np.ndarray
    mask: np.ndarray | None  # None for a style transfer
    engine_version: str
    device: str


def _execute(job: RestorationJob) -> _Outcome:
    """Run the job's engine (loaded once per worker, see the registry) on its motif and mask,
    or, for a style transfer, on the whole motif.

    Resolves HERITAGE_DEVICE here, in the worker, for engines with weights (models), and
    records the device on the job; engines without weights (OpenCV, numpy) run on the CPU,
    which is what their provenance says, and never make the worker import torch.
    """
    image = motif_read_rgb(motif=job.motif)
    styling = job.task == Task.STYLIZE
    mask = None if styling else annotation_read_mask(annotation=job.annotation) > 127
    uses_model = registry.registry().engine_class(job.engine).needs_weights
    device = registry.device() if uses_model else "cpu"
    RestorationJob.objects.filter(pk=job.pk).update(device=device)
    reporter = progress.Reporter(
        job.pk,
        encode_preview=pipeline.preview_jpeg,
        cancelled=Cancelled,
        time_limit=settings.RESTORATION_TIME_LIMIT,
    )
    with registry.registry().lease(
        job.engine, checkpoint=checkpoints.local_path(job.checkpoint), device=device
    ) as engine:
        if styling:
            result = pipeline.stylize(
                engine, image, seed=job.seed, params=job.params, on_progress=reporter
            )
        else:
            result = pipeline.run(
                engine,
                image,
                mask,
                seed=job.seed,
                params=job.params,
                on_progress=reporter,
                colour_correction=job.colour_correction,
            )
        return _Outcome(result, image, mask, engine.version, device)


def _store_result(job: RestorationJob, outcome: _Outcome) -> None:
    # scikit-image loads with the first result, not with every web process.
    from restoration import metrics

    result, original, mask, engine_version, device = outcome
    # A style transfer has no damage, no ground truth and no reconstructed area.
    simulated = mask is not None and job.annotation.method == DamageAnnotation.Method.SIMULATED
    scores = None
    if simulated:
        # The motif is intact and the damage simulated: the motif itself is the ground truth.
        scores = metrics.compute_all(original, result.image, mask)
    restoration = Restoration(
        job=job,
        task=job.task,
        engine=job.engine,
        engine_version=engine_version,
        # Hashed once, when the checkpoint was registered.
        checkpoint_sha256=job.checkpoint.sha256 if job.checkpoint else "",
        info=result.info,
        params=job.params,
        seed=job.seed,
        colour_correction=job.colour_correction,
        device=device,
        seconds=result.seconds,
        metrics=scores,
    )
    stored = []
    try:
        with transaction.atomic():
            # Opaque names: file URLs reach public and blind pages, where a job id must not
            # let anyone trace the image back to its engine.
            name = uuid.uuid4().hex
            restoration.image.save(
                f"{name}.png",
                ContentFile(imaging.encode_png(Image.fromarray(result.image))),
                save=False,
            )
            stored.append(restoration.image)
            restoration.preview.save(
                f"{name}-preview.jpg",
                ContentFile(pipeline.preview_jpeg(result.image, longest_side=1600, quality=88)),
                save=False,
            )
            stored.append(restoration.preview)
            given = original
            if simulated:
                given = original.copy()
                given[mask] = 0
            restoration.input_preview.save(
                f"{name}-input.jpg",
                ContentFile(pipeline.preview_jpeg(given, longest_side=1600, quality=88)),
                save=False,
            )
            stored.append(restoration.input_preview)
            if mask is not None:
                restoration.outline.save(
                    f"{name}-outline.png", ContentFile(_outline_png(mask)), save=False
                )
                stored.append(restoration.outline)
            restoration.save()
            if not _finish(job.pk, Status.SUCCEEDED):
                raise Cancelled("the job stopped running before its result was stored")
    except BaseException:
        for field_file in stored:
            field_file.storage.delete(field_file.name)
        raise


def _outline_png(mask: np.ndarray) -> bytes:
    """Transparent PNG with the border of the reconstructed area drawn in a bright colour."""
    import cv2

    border = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    thickness = max(1, round(max(mask.shape) / 600))
    if thickness > 1:
        border = cv2.dilate(border, np.ones((thickness, thickness), np.uint8))
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[border > 0] = (255, 214, 0, 255)
    return imaging.encode_png(Image.fromarray(rgba, "RGBA"))


def _event(job: RestorationJob, kind: str) -> dict:
    return {"type": kind, **selectors.job_state(job=job)}


def job_cancel(*, job: RestorationJob, user: User) -> RestorationJob:
    """Cancel a job: a pending one at once, a running one at the engine's next progress call.

    Raises PermissionDenied, ValidationError for a job that already ended.
    """
    _require_curator(user)
    outcome = lifecycle.cancel(RestorationJob, job.pk)
    job.refresh_from_db()
    if outcome == "cancelled":
        progress.publish(job.pk, _event(job, "job.cancelled"))
    elif outcome is None:
        raise ValidationError(f"The job has already ended ({job.get_status_display().lower()}).")
    return job


def job_retry(*, job: RestorationJob, user: User) -> RestorationJob:
    """Run a failed or cancelled job again as a new job with the same inputs (and task)."""
    if job.status not in (Status.FAILED, Status.CANCELLED):
        raise ValidationError("Only failed or cancelled jobs can be retried.")
    retry = _job_create(
        task=job.task,
        motif=job.motif,
        annotation=job.annotation,
        requested_by=user,
        engine=job.engine,
        params=job.params,
        seed=job.seed,
        colour_correction=job.colour_correction,
        checkpoint=job.checkpoint,
        queue=True,
    )
    RestorationJob.objects.filter(pk=retry.pk).update(retry_of=job)
    retry.retry_of = job
    return retry


def job_sweep() -> lifecycle.SweepResult:
    """Recover jobs whose worker died and jobs whose message was lost (see lifecycle.sweep).

    Runs on a schedule: in every Celery worker (restoration.tasks) and in the embedded
    runner's thread; never from a page view.
    """
    return lifecycle.sweep(
        RestorationJob,
        policy=lifecycle.Policy(
            heartbeat_timeout=settings.RESTORATION_HEARTBEAT_TIMEOUT,
            time_limit=settings.RESTORATION_TIME_LIMIT,
            max_attempts=settings.RESTORATION_MAX_ATTEMPTS,
            redispatch_after=settings.RESTORATION_REDISPATCH_AFTER,
        ),
        send=_send,
        publish=_publish,
    )


def _publish(job_id: int, message: dict) -> None:
    # Looked up at call time, so tests can watch progress.publish.
    progress.publish(job_id, message)


def run_in_thread(job_id: int) -> None:
    """Entry point of a job thread (embedded mode): run, then release the DB connection."""
    close_old_connections()
    try:
        job_run(job_id=job_id)
    except Exception:
        # Nobody reads the Future of an embedded job: say it in the log at least; the
        # orphan and stale sweeps will end a job left pending or running by this.
        logger.exception("embedded job %s crashed outside its engine", job_id)
    finally:
        connection.close()
