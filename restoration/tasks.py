"""Celery tasks: thin wrappers that call the services (deployment mode, queues `gpu` and
`train`)."""

import logging

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

from restoration import lifecycle, services, training_runs

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


@shared_task(
    name="restoration.tasks.run_training_run",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.TRAINING_TIME_LIMIT + 60,
    soft_time_limit=settings.TRAINING_TIME_LIMIT,
)
def run_training_run(run_id: int) -> None:
    # Routed to queue `train` (CELERY_TASK_ROUTES): its own workers and time limit.
    training_runs.training_run_run(run_id=run_id)


def _sweep_all() -> None:
    """Sweep every kind of long job; one kind failing does not stop the other."""
    try:
        services.job_sweep()
    finally:
        training_runs.training_run_sweep()


@shared_task(name="restoration.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> None:
    """The sweep as a task, for an operator who prefers `celery beat` (or cron) to drive it.

    Every worker already sweeps on its own (below); route this task to a queue whose worker is
    not busy with long jobs, or it waits behind them.
    """
    _sweep_all()


@worker_ready.connect
def _start_sweeping(**_kwargs) -> None:
    """Every worker sweeps on a schedule, in a thread of its main process (not a pool child, so
    it survives a killed child and sees its death): a job whose worker died runs again or
    fails within HERITAGE_JOB_HEARTBEAT_TIMEOUT + HERITAGE_JOB_SWEEP_INTERVAL, and a job whose
    message was lost (broker restarted, or down at submit) is sent again. Sweeps of several
    workers do not conflict: each transition is a conditional update."""
    global _sweeping
    if _sweeping is None:
        # One schedule per kind of job (restoration jobs, training runs), each in its thread.
        _sweeping = [
            lifecycle.start_periodic(
                sweep, interval=settings.RESTORATION_SWEEP_INTERVAL, name=f"{kind}-sweep"
            )
            for kind, sweep in (
                ("restoration", services.job_sweep),
                ("training", training_runs.training_run_sweep),
            )
        ]


@worker_shutdown.connect
def _stop_sweeping(**_kwargs) -> None:
    for stop in _sweeping or []:
        stop.set()
