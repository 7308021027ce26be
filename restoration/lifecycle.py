"""The life cycle every kind of long job shares: dispatch, claim, heartbeat, sweep, retry.

The functions take the job model, so restoration jobs today and style-transfer jobs or training
runs later share them. A job model has `status` (its `Status` has PENDING, RUNNING, FAILED and
CANCELLED), `attempts`, `worker`, `started_at`, `heartbeat_at`, `finished_at`, `dispatched_at`,
`dispatches`, `cancel_requested` and `error`.

Every transition is a conditional UPDATE on the state it was decided from, so any number of
workers, sweeps and duplicate messages may act on one job at once: exactly one of them wins.

- dispatch: send the job's message and record when; a broker that is down is logged, not raised,
  and the job stays pending with no dispatch recorded, for the sweep to send again.
- claim: pending -> running, once; the attempt number is the claim's fencing token.
- heartbeat: while a job runs, a thread of its process writes `heartbeat_at`; progress writes it
  too. A job whose heartbeat stopped, or whose process on this host is gone, has lost its worker.
- sweep: runs a lost job again (pending + a new message) until it has used its attempts, then
  fails it with the reason; fails a job running past its time limit; and sends again the message
  of a pending job dispatched long ago (lost with the broker's data) or never (broker down).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import close_old_connections, connection
from django.db.models import F, Model, Q
from django.utils import timezone

logger = logging.getLogger(__name__)

Send = Callable[[int], None]
Publish = Callable[[int, dict], None]

# A pending job's message is sent again after `redispatch_after`, then after twice that, ...
# up to this factor: a job queued behind long ones gets a few harmless duplicates, not hundreds.
MAX_REDISPATCH_BACKOFF = 16


def worker_name() -> str:
    """This process as `host:pid`, stored on the jobs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch(model: type[Model], job_id: int, send: Send, *, seen: datetime | None = None) -> bool:
    """Send a pending job's message once; True if sent, False if another sweep or the broker
    stopped it.

    `seen` is the `dispatched_at` the decision was made on: the dispatch is recorded first, on
    that condition, so concurrent sweeps send one message; a send that fails puts it back.
    """
    now = timezone.now()
    recorded = model.objects.filter(
        pk=job_id, status=model.Status.PENDING, dispatched_at=seen
    ).update(dispatched_at=now, dispatches=F("dispatches") + 1)
    if not recorded:
        return False
    try:
        send(job_id)
    except Exception as exc:
        # The broker is down or refused: the job keeps waiting, the sweep sends it later.
        logger.warning("could not dispatch job %s (%s); the sweep will send it again", job_id, exc)
        model.objects.filter(pk=job_id, dispatched_at=now).update(
            dispatched_at=seen, dispatches=F("dispatches") - 1
        )
        return False
    return True


def claim(model: type[Model], job_id: int, *, worker: str, **fields) -> bool:
    """Pending -> running for this worker, once: False for a duplicate message, a job another
    worker runs, a cancelled or a finished one. `fields` are set with it (e.g. the device)."""
    now = timezone.now()
    updated = model.objects.filter(
        pk=job_id, status=model.Status.PENDING, cancel_requested=False
    ).update(
        status=model.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=worker,
        attempts=F("attempts") + 1,
        **fields,
    )
    return updated == 1


def beat(model: type[Model], job_id: int, attempt: int) -> bool:
    """Record that attempt `attempt` of a running job is alive; False if it no longer runs."""
    return (
        model.objects.filter(pk=job_id, status=model.Status.RUNNING, attempts=attempt).update(
            heartbeat_at=timezone.now()
        )
        == 1
    )


def finish(model: type[Model], job_id: int, status: str, **fields) -> bool:
    """Running -> `status` (succeeded, failed, cancelled) with `fields`; False if it no longer
    ran (the sweep or a cancel got there first)."""
    return (
        model.objects.filter(pk=job_id, status=model.Status.RUNNING).update(
            status=status, finished_at=timezone.now(), **fields
        )
        == 1
    )


def cancel(model: type[Model], job_id: int) -> str | None:
    """Cancel a job: "cancelled" for a pending one (at once), "requested" for a running one
    (it stops at its next progress report, which checks the flag), None if it had ended."""
    if model.objects.filter(pk=job_id, status=model.Status.PENDING).update(
        status=model.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    ):
        return "cancelled"
    if model.objects.filter(pk=job_id, status=model.Status.RUNNING).update(cancel_requested=True):
        return "requested"
    return None


# The event type that tells watchers a job ended in this status.
ENDED_EVENTS = {"succeeded": "job.finished", "failed": "job.failed", "cancelled": "job.cancelled"}


class Heartbeat:
    """Context manager: a thread writes the job's heartbeat every `interval` seconds while the
    body runs, so a step that takes minutes (loading weights, one slow tile) is not mistaken
    for a dead worker. It dies with the process, which is what the sweep detects."""

    def __init__(self, model: type[Model], job_id: int, *, attempt: int, interval: float):
        self.model, self.job_id, self.attempt, self.interval = model, job_id, attempt, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not beat(self.model, self.job_id, self.attempt):
                        return
                except Exception:
                    logger.exception("heartbeat of job %s failed", self.job_id)
        finally:
            connection.close()


@dataclass(frozen=True)
class Policy:
    """How long silence means a lost worker, how many runs a job gets, and the like (seconds)."""

    heartbeat_timeout: float
    time_limit: float
    max_attempts: int
    redispatch_after: float


@dataclass
class SweepResult:
    retried: list[int]
    failed: list[int]
    cancelled: list[int]
    redispatched: list[int]


def _process_gone(worker: str) -> bool:
    """True if `worker` (host:pid) names a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep(model: type[Model], *, policy: Policy, send: Send, publish: Publish) -> SweepResult:
    """Recover running jobs that lost their worker and pending jobs that lost their message."""
    result = SweepResult([], [], [], [])
    _recover_running(model, policy, send, publish, result)
    _redispatch_pending(model, policy, send, result)
    return result


def _recover_running(model, policy: Policy, send: Send, publish: Publish, result) -> None:
    now = timezone.now()
    silent_since = now - timedelta(seconds=policy.heartbeat_timeout)
    time_limit = timedelta(seconds=policy.time_limit)
    grace = timedelta(seconds=policy.heartbeat_timeout)
    rows = model.objects.filter(status=model.Status.RUNNING).values(
        "pk", "attempts", "worker", "heartbeat_at", "started_at", "cancel_requested", "total"
    )
    for row in rows:
        silent = row["heartbeat_at"] is None or row["heartbeat_at"] < silent_since
        gone = _process_gone(row["worker"])
        # Past its time limit (a live worker gets the heartbeat timeout to stop it itself): a
        # job that outran it is failed, not run again for as long.
        overdue = row["started_at"] is not None and row["started_at"] < now - time_limit - (
            timedelta(0) if silent or gone else grace
        )
        if not (silent or gone or overdue):
            continue
        # The decision holds only if nothing moved since it was read.
        same = model.objects.filter(
            pk=row["pk"],
            status=model.Status.RUNNING,
            attempts=row["attempts"],
            heartbeat_at=row["heartbeat_at"],
        )
        job_id = row["pk"]
        if overdue:
            error = f"The job ran past its time limit ({policy.time_limit:g} s)."
            if same.update(status=model.Status.FAILED, finished_at=now, error=error):
                result.failed.append(job_id)
                publish(job_id, _ended(job_id, model.Status.FAILED, error))
            continue
        if row["cancel_requested"]:
            if same.update(status=model.Status.CANCELLED, finished_at=now):
                result.cancelled.append(job_id)
                publish(job_id, _ended(job_id, model.Status.CANCELLED, None))
            continue
        lost = (
            "its worker process stopped"
            if gone
            else f"its worker sent no heartbeat for {policy.heartbeat_timeout:g} s"
        )
        if row["attempts"] < policy.max_attempts:
            seen = model.objects.filter(pk=job_id).values_list("dispatched_at", flat=True).first()
            if same.update(
                status=model.Status.PENDING,
                worker="",
                started_at=None,
                heartbeat_at=None,
                step=0,
            ):
                result.retried.append(job_id)
                notice = (
                    f"Attempt {row['attempts']} of {policy.max_attempts} stopped ({lost}); "
                    "the job runs again."
                )
                logger.warning("job %s: %s", job_id, notice)
                publish(
                    job_id,
                    {
                        "type": "job.progress",
                        "job": job_id,
                        "status": model.Status.PENDING,
                        "step": 0,
                        "total": row["total"],
                        "eta": None,
                        "error": None,
                        "notice": notice,
                    },
                )
                dispatch(model, job_id, send, seen=seen)
            continue
        error = (
            f"The job was stopped: {lost}, on attempt {row['attempts']} of "
            f"{policy.max_attempts} (a worker crash, a killed process or a restart). Retry it."
        )
        if same.update(status=model.Status.FAILED, finished_at=now, error=error):
            result.failed.append(job_id)
            logger.warning("job %s failed: %s", job_id, error)
            publish(job_id, _ended(job_id, model.Status.FAILED, error))


def _ended(job_id: int, status: str, error: str | None) -> dict:
    kind = ENDED_EVENTS[status]
    return {"type": kind, "job": job_id, "status": status, "error": error}


def _redispatch_pending(model, policy: Policy, send: Send, result) -> None:
    now = timezone.now()
    after = timedelta(seconds=policy.redispatch_after)
    rows = model.objects.filter(status=model.Status.PENDING, cancel_requested=False).filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - after)
    )
    for job_id, dispatched_at, dispatches in rows.values_list("pk", "dispatched_at", "dispatches"):
        if dispatched_at is not None:
            backoff = min(2 ** max(dispatches - 1, 0), MAX_REDISPATCH_BACKOFF)
            if dispatched_at > now - after * backoff:
                continue
        if dispatch(model, job_id, send, seen=dispatched_at):
            result.redispatched.append(job_id)


def start_periodic(task: Callable[[], object], *, interval: float, name: str) -> threading.Event:
    """Run `task` now and then every `interval` seconds in a daemon thread, each run with fresh
    database connections; returns the Event that stops it. Errors are logged, never fatal."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            close_old_connections()
            try:
                task()
            except Exception:
                logger.exception("%s failed; trying again in %s s", name, interval)
            finally:
                connection.close()
            if stop.wait(interval):
                return

    threading.Thread(target=loop, name=name, daemon=True).start()
    return stop
