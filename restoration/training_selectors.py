"""Reads of training runs, with who may see them (curators, like restoration jobs)."""

from django.db.models import QuerySet
from django.urls import reverse

from heritage.models import DamageAnnotation, Motif, User
from restoration import progress
from restoration.models import ModelCheckpoint, TrainingRun
from restoration.selectors import user_can_see_jobs


def training_run_for_user(*, run_id: int, user: User | None) -> TrainingRun | None:
    """The run if `user` may see it, else None (missing and forbidden look the same)."""
    if not user_can_see_jobs(user=user):
        return None
    return (
        TrainingRun.objects.select_related("requested_by", "checkpoint", "resumed_from")
        .filter(pk=run_id)
        .first()
    )


def training_run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("requested_by", "checkpoint").order_by(
        "-created_at", "-id"
    )


def training_run_state(*, run: TrainingRun) -> dict:
    """The run as its WebSocket reports it (snapshot and final events): the loss curve so far
    and the URL of the latest sample grid, besides the job fields."""
    state = {
        "job": run.pk,
        "status": run.status,
        "step": run.step,
        "total": run.total,
        "eta": progress.eta_seconds(run),
        "error": run.error or None,
        "losses": run.losses,
        "sample_step": run.sample_step,
        "sample_url": (
            reverse("restoration:training_sample", args=[run.pk]) + f"?step={run.sample_step}"
            if run.latest_sample
            else None
        ),
    }
    if run.checkpoint_id:
        state["checkpoint"] = {"id": run.checkpoint_id, "name": run.checkpoint.name}
    if run.status == TrainingRun.Status.SUCCEEDED:
        state["result_url"] = reverse("restoration:training_detail", args=[run.pk])
    return state


def training_motif_choices() -> QuerySet[Motif]:
    """Motifs a run may train on, newest first, with how many real damage annotations each has
    (`real_damage`): their damaged pixels are left out of the training images."""
    from django.db.models import Count, Q

    return Motif.objects.annotate(
        real_damage=Count(
            "annotations",
            filter=~Q(annotations__method=DamageAnnotation.Method.SIMULATED)
            & Q(annotations__superseded_by__isnull=True),
        )
    ).order_by("-created_at", "-id")


def checkpoint_is_sd_backbone(checkpoint: ModelCheckpoint) -> bool:
    """Whether a prior_diffusion checkpoint is an adapter on Stable Diffusion (config
    "backbone": "sd") rather than a pixel network that train_engine --init can start from."""
    return isinstance(checkpoint.config, dict) and checkpoint.config.get("backbone") == "sd"


def training_start_choices() -> list[ModelCheckpoint]:
    """The checkpoints a prior_diffusion run may fine-tune (pixel backbone), the engine's
    default first, then newest first."""
    return [
        checkpoint
        for checkpoint in ModelCheckpoint.objects.filter(engine="prior_diffusion").order_by(
            "-is_default", "-created_at", "-id"
        )
        if not checkpoint_is_sd_backbone(checkpoint)
    ]


def training_run_start(*, run: TrainingRun) -> ModelCheckpoint | None:
    """The checkpoint a prior_diffusion run fine-tunes, if it started from one that is still
    registered (the run's options keep its id either way)."""
    pk = run.options.get("init_checkpoint")
    return ModelCheckpoint.objects.filter(pk=pk).first() if isinstance(pk, int) else None


def training_run_start_record(*, run: TrainingRun) -> dict | None:
    """{"id", "name", "sha256"} of the checkpoint a run fine-tunes (name and sha256 None once it
    is deleted), or None for a new network."""
    pk = run.options.get("init_checkpoint")
    if pk is None:
        return None
    start = training_run_start(run=run)
    return {"id": pk, "name": start and start.name, "sha256": start and start.sha256}
