"""Celery tasks: thin wrappers that call the services (deployment mode, queue `gpu`)."""

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from restoration import services


@shared_task(
    name="restoration.tasks.run_restoration_job",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.RESTORATION_TIME_LIMIT + 60,
    soft_time_limit=settings.RESTORATION_TIME_LIMIT,
)
def run_restoration_job(job_id: int) -> None:
    # The soft limit raises inside the engine; job_run records it as the job's error.
    services.job_run(job_id=job_id)


@worker_ready.connect
def _sweep_stale_jobs(**_kwargs) -> None:
    # A worker that starts may be replacing one that died mid-job.
    services.job_fail_orphaned()
    services.job_fail_stale()
