"""Reads of restoration jobs and results, with who may see them."""

import math

from django.db.models import Q, QuerySet
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
    if job.status == RestorationJob.Status.PENDING:
        # The job's place in the queue: "2 jobs ahead of this one".
        state["ahead"] = job_queue_ahead(job=job)
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
    metrics_mark_best([row["metrics"] for row in rows])
    return rows


def result_metric_rows(*, job: RestorationJob) -> tuple[list[dict], int]:
    """The metric rows of a succeeded job's result, with its best values marked against every
    result on the same damage annotation, and how many results that is (1: none to beat)."""
    restoration = getattr(job, "result", None)
    if restoration is None or not restoration.metrics:
        return [], 0
    rows = metric_rows(restoration.metrics)
    others = [
        metric_rows(metrics)
        for metrics in RestorationJob.objects.filter(
            annotation_id=job.annotation_id, status=RestorationJob.Status.SUCCEEDED
        )
        .exclude(pk=job.pk)
        .exclude(result__metrics=None)
        .values_list("result__metrics", flat=True)
        if metrics
    ]
    metrics_mark_best([rows, *others])
    return rows, 1 + len(others)


# Display of the metrics a restoration stores (restoration.metrics.compute_all).
METRIC_COLUMNS = [
    # "none": how a missing value reads (identical images have an infinite PSNR; HaarPSI is
    # undefined where neither image has structure). "decimals" or "significant": the precision
    # worth reading (PSNR in hundredths of a dB, similarities in thousandths, errors on the 0-1
    # scale to three significant digits, as they are often below 0.001).
    {
        "key": "psnr",
        "label": "PSNR",
        "unit": "dB",
        "higher_is_better": True,
        "none": "∞",
        "decimals": 2,
    },
    {
        "key": "ssim",
        "label": "SSIM",
        "unit": "",
        "higher_is_better": True,
        "none": "n/a",
        "decimals": 3,
    },
    {
        "key": "haarpsi",
        "label": "HaarPSI",
        "unit": "",
        "higher_is_better": True,
        "none": "n/a",
        "decimals": 3,
    },
    {
        "key": "mae",
        "label": "MAE",
        "unit": "",
        "higher_is_better": False,
        "none": "n/a",
        "significant": 3,
    },
    {
        "key": "mse",
        "label": "MSE",
        "unit": "",
        "higher_is_better": False,
        "none": "n/a",
        "significant": 3,
    },
    # Total variation measures smoothness, neither better high nor low: no best is marked.
    {
        "key": "tv",
        "label": "TV",
        "unit": "",
        "higher_is_better": None,
        "none": "n/a",
        "significant": 3,
    },
]


def metric_text(column: dict, value: float | None) -> str:
    """A metric value as the pages print it: the column's decimals or significant digits
    (trailing zeros kept: 0.0100, not 0.01), or its word for None."""
    if value is None:
        return column["none"]
    decimals = column.get("decimals")
    if decimals is None:
        magnitude = math.floor(math.log10(abs(value))) if value else 0
        decimals = max(0, column["significant"] - 1 - magnitude)
    return f"{value:.{decimals}f}"


def metric_rows(metrics: dict | None) -> list[dict]:
    """Rows of (label, whole-image value, damaged-region value) for a metrics table, each
    value also as text ("whole_text", "damaged_text") and "whole_best"/"damaged_best" False
    (metrics_mark_best sets them across results)."""
    if not metrics:
        return []
    rows = []
    for column in METRIC_COLUMNS:
        row = {**column}
        for part in ("whole", "damaged"):
            value = metrics.get(part, {}).get(column["key"])
            row[part] = value
            row[f"{part}_text"] = metric_text(column, value)
            row[f"{part}_best"] = False
        rows.append(row)
    return rows


def metrics_mark_best(tables: list[list[dict]]) -> None:
    """Mark, in place, the best value of each metric and part across `tables` (metric_rows of
    several results): the highest or lowest as the metric's direction says; ties all marked;
    nothing marked for a metric without direction or with fewer than two values. PSNR's None
    (identical images: infinite) is the best there is."""
    for index, column in enumerate(METRIC_COLUMNS):
        direction = column["higher_is_better"]
        if direction is None:
            continue
        for part in ("whole", "damaged"):
            cells = [table[index] for table in tables if table]
            scores = [
                _metric_score(cell[part], higher=direction, infinite=column["key"] == "psnr")
                for cell in cells
            ]
            known = [score for score in scores if score is not None]
            if len(known) < 2:
                continue
            best = max(known)
            for cell, score in zip(cells, scores, strict=True):
                cell[f"{part}_best"] = score == best


def _metric_score(value: float | None, *, higher: bool, infinite: bool) -> float | None:
    # Larger is better; None is unknown, except PSNR's, which means identical (infinite).
    if value is None:
        return float("inf") if infinite else None
    return value if higher else -value


def job_queue_ahead(*, job: RestorationJob) -> int | None:
    """How many jobs run before a pending `job` (those running and those pending since before
    it: one queue serves every restoration and style job), None when it is not pending."""
    if job.status != RestorationJob.Status.PENDING:
        return None
    return RestorationJob.objects.filter(
        Q(status=RestorationJob.Status.RUNNING)
        | Q(status=RestorationJob.Status.PENDING, pk__lt=job.pk)
    ).count()


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
