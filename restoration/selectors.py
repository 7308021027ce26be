"""Reads of restoration jobs and results, with who may see them."""

from django.db.models import QuerySet
from django.urls import reverse

from heritage.models import DamageAnnotation, Motif, User
from restoration import progress
from restoration.models import RestorationJob, Task


def user_can_see_jobs(*, user: User | None) -> bool:
    """Jobs name their engines, so only curators see them (experts score blind)."""
    return bool(user is not None and user.is_authenticated and user.is_curator)


def job_for_user(*, job_id: int, user: User | None) -> RestorationJob | None:
    """The job if `user` may see it, else None (missing and forbidden look the same)."""
    if not user_can_see_jobs(user=user):
        return None
    return (
        RestorationJob.objects.select_related("motif", "annotation", "requested_by")
        .filter(pk=job_id)
        .first()
    )


def job_state(*, job: RestorationJob) -> dict:
    """The job as the WebSocket reports it (snapshot and final events)."""
    state = {
        "job": job.pk,
        "status": job.status,
        "step": job.step,
        "total": job.total,
        "eta": progress.eta_seconds(job),
        "error": job.error or None,
    }
    if job.status == RestorationJob.Status.SUCCEEDED:
        state["result_url"] = reverse("restoration:job_detail", args=[job.pk]) + "#result"
    return state


def job_list_for_motif(*, motif: Motif, task: str | None = None) -> QuerySet[RestorationJob]:
    """The motif's jobs, newest first; only those of `task` ("restore", "stylize") if given."""
    jobs = RestorationJob.objects.filter(motif=motif)
    if task is not None:
        jobs = jobs.filter(task=task)
    return jobs.select_related("annotation", "requested_by", "result", "checkpoint").order_by(
        "-created_at", "-id"
    )


def engine_names(*, task: str) -> list[str]:
    """Registered engines whose task is `task` ("restore" or "stylize"), sorted.

    An engine whose module cannot be loaded counts as a restoration engine, so that the pages
    that launch restorations still name it and say why it cannot run.
    """
    from restoration.engines.base import EngineError
    from restoration.engines.registry import registry

    names = []
    for name in registry().names():
        try:
            engine_task = registry().engine_class(name).task
        except EngineError:
            engine_task = Task.RESTORE
        if engine_task == task:
            names.append(name)
    return names


def engines_without_weights(engines: list[str]) -> set[str]:
    """Those of `engines` that need weights and have no registered checkpoint (cannot run)."""
    from restoration.engines.base import EngineError
    from restoration.engines.registry import registry
    from restoration.models import ModelCheckpoint

    needing = set()
    for name in engines:
        try:
            if registry().engine_class(name).needs_weights:
                needing.add(name)
        except EngineError:
            continue
    with_weights = set(
        ModelCheckpoint.objects.filter(engine__in=needing).values_list("engine", flat=True)
    )
    return needing - with_weights


def comparison(*, annotation: DamageAnnotation, engines: list[str]) -> list[dict]:
    """Per engine, the latest successful restoration of the annotation and the latest job.

    An engine that needs weights and has none is listed (with "no_weights") but never missing:
    there is nothing to launch until an operator registers a checkpoint.
    """
    unavailable = engines_without_weights(engines)
    jobs = (
        RestorationJob.objects.filter(annotation=annotation)
        .select_related("result")
        .order_by("-created_at", "-id")
    )
    latest_success: dict[str, RestorationJob] = {}
    latest_job: dict[str, RestorationJob] = {}
    for job in jobs:
        latest_job.setdefault(job.engine, job)
        if job.status == RestorationJob.Status.SUCCEEDED:
            latest_success.setdefault(job.engine, job)
    names = list(engines) + sorted(set(latest_job) - set(engines))
    rows = []
    for name in names:
        job = latest_success.get(name) or latest_job.get(name)
        restoration = getattr(latest_success.get(name), "result", None)
        rows.append(
            {
                "engine": name,
                "job": job,
                "restoration": restoration,
                "metrics": metric_rows(restoration.metrics) if restoration else [],
                # Neither a result nor a job under way: the compare page offers to launch it.
                "missing": restoration is None
                and (job is None or job.is_finished)
                and name in engines
                and name not in unavailable,
                "no_weights": name in unavailable,
            }
        )
    return rows


# Display of the metrics a restoration stores (restoration.metrics.compute_all).
METRIC_COLUMNS = [
    # "none": how a missing value reads (identical images have an infinite PSNR; HaarPSI is
    # undefined where neither image has structure).
    {"key": "psnr", "label": "PSNR", "unit": "dB", "higher_is_better": True, "none": "∞"},
    {"key": "ssim", "label": "SSIM", "unit": "", "higher_is_better": True, "none": "n/a"},
    {"key": "haarpsi", "label": "HaarPSI", "unit": "", "higher_is_better": True, "none": "n/a"},
    {"key": "mae", "label": "MAE", "unit": "", "higher_is_better": False, "none": "n/a"},
    {"key": "mse", "label": "MSE", "unit": "", "higher_is_better": False, "none": "n/a"},
    {"key": "tv", "label": "TV", "unit": "", "higher_is_better": None, "none": "n/a"},
]


def metric_rows(metrics: dict | None) -> list[dict]:
    """Rows of (label, whole-image value, damaged-region value) for a metrics table."""
    if not metrics:
        return []
    return [
        {
            **column,
            "whole": metrics.get("whole", {}).get(column["key"]),
            "damaged": metrics.get("damaged", {}).get(column["key"]),
        }
        for column in METRIC_COLUMNS
    ]


def job_list(
    *,
    motif: int | None = None,
    annotation: int | None = None,
    task: str = "",
    status: str = "",
    engine: str = "",
) -> QuerySet[RestorationJob]:
    """Jobs, newest first, of a motif, an annotation, a task, a status or an engine if given
    (for curators: jobs name their engines)."""
    jobs = RestorationJob.objects.select_related(
        "checkpoint", "requested_by", "annotation"
    ).order_by("-created_at", "-id")
    if motif:
        jobs = jobs.filter(motif_id=motif)
    if annotation:
        jobs = jobs.filter(annotation_id=annotation)
    if task:
        jobs = jobs.filter(task=task)
    if status:
        jobs = jobs.filter(status=status)
    if engine:
        jobs = jobs.filter(engine=engine)
    return jobs
