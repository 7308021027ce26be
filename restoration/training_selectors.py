"""Reads of training runs, with who may see them (curators, like restoration jobs)."""

from django.db.models import QuerySet
from django.urls import reverse

from heritage.models import DamageAnnotation, Motif, User
from restoration import progress
from restoration.models import TrainingRun
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
