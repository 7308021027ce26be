"""Celery tasks: thin wrappers that call the services (deployment mode, queue `gpu`)."""

import logging

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from restoration import lifecycle, services

logger = logging.getLogger(__name__)

_sweeping = None


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


@shared_task(name="restoration.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> None:
    """The sweep as a task, for an operator who prefers `celery beat` (or cron) to drive it.

    Every worker already sweeps on its own (below); route this task to a queue whose worker is
    not busy with long jobs, or it waits behind them.
    """
    services.job_sweep()


@worker_ready.connect
def _start_sweeping(**_kwargs) -> None:
    """Every worker sweeps on a schedule, in a thread of its main process (not a pool child, so
    it survives a killed child and sees its death): a job whose worker died runs again or
    fails within HERITAGE_JOB_HEARTBEAT_TIMEOUT + HERITAGE_JOB_SWEEP_INTERVAL, and a job whose
    message was lost (broker restarted, or down at submit) is sent again. Sweeps of several
    workers do not conflict: each transition is a conditional update."""
    global _sweeping
    if _sweeping is None:
        _sweeping = lifecycle.start_periodic(
            services.job_sweep,
            interval=settings.RESTORATION_SWEEP_INTERVAL,
            name="restoration-sweep",
        )


@worker_shutdown.connect
def _stop_sweeping(**_kwargs) -> None:
    if _sweeping is not None:
        _sweeping.set()
