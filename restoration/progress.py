"""Job progress: the latest state in the database, every event to the job's channel group.

Shared by every kind of long job: restoration jobs (group `restoration.job.<id>`) and training
runs (`restoration.training.<id>`); the Reporter takes the job model and the publisher.
"""

import asyncio
import base64
import logging
import os
import threading
import time
from collections.abc import Callable

from asgiref.sync import async_to_sync
from celery.exceptions import SoftTimeLimitExceeded
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db.models import Model
from django.utils import timezone

from restoration.models import RestorationJob

logger = logging.getLogger(__name__)

# Database writes and cancellation checks are throttled; channel events are not (one per step).
DB_INTERVAL = 0.5
# Previews (the one place they are thinned) are bounded by bandwidth, not by a rate: each waits
# until the bytes sent so far fit PREVIEW_BYTES_PER_SECOND (a fast engine's small previews go at
# every step), never closer than PREVIEW_MIN_INTERVAL (what a screen can show), and further
# apart when rendering them would take more than 1/PREVIEW_COST_SHARE of the time; the last
# step's preview is always sent.
PREVIEW_MIN_INTERVAL = 1 / 15
PREVIEW_COST_SHARE = 5
PREVIEW_BYTES_PER_SECOND = 384 * 1024
# The ETA: seconds per step smoothed exponentially (this weight for the newest step). A step
# over ETA_SLOW_STEP times the average counts only once ETA_RISE_STEPS such steps come in a
# row, and the estimate rises above the previous one only when that many steps say so.
ETA_SMOOTHING = 0.2
ETA_SLOW_STEP = 1.5
ETA_RISE_STEPS = 3

# After the channel layer fails, progress events are dropped for this many seconds (final
# events are always tried): a job keeps its pace while Redis is down.
LAYER_RETRY_AFTER = 2.0
_layer_down_until = float("-inf")

_server_loop: asyncio.AbstractEventLoop | None = None
_server_loop_lock = threading.Lock()


# Seconds a publisher waits for the layer to take one event.
PUBLISH_TIMEOUT = 10.0


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Record the ASGI server's event loop, so job threads can reach the in-memory layer."""
    global _server_loop
    with _server_loop_lock:
        _server_loop = loop


class _PublisherLoop:
    """One event loop per process, in a daemon thread, that publishes for synchronous code.

    A new loop per event (asgiref's async_to_sync) cost a thread, a loop and, since the
    Redis layers keep their connections per loop, a new connection to Redis every time:
    4-6 ms an event. This loop and its connections live as long as the process. A forked
    child (a Celery pool process, forked again whenever one dies) inherits the object but not
    the thread: it starts its own loop on first use and never touches the parent's.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="progress-publisher", daemon=True
                ).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def forget_after_fork(self) -> None:
        # The parent's lock may have been held by another of its threads at the fork.
        self._lock = threading.Lock()
        self._loop, self._pid = None, 0


_publisher = _PublisherLoop()
os.register_at_fork(after_in_child=_publisher.forget_after_fork)


def group_name(job_id: int, *, kind: str = "job") -> str:
    """The channel group of one job of `kind` ("job": restoration jobs, "training": runs)."""
    return f"restoration.{kind}.{job_id}"


def publish(job_id: int, message: dict) -> None:
    """Send one event to everyone watching restoration job `job_id` (see publish_to)."""
    publish_to(group_name(job_id), message)


def publish_to(group: str, message: dict) -> None:
    """Send one event ({"type": "job.<kind>", ...}) to everyone watching the job of `group`.

    The in-memory channel layer (embedded mode) lives on the server's event loop and is not
    thread-safe, so events from job threads are handed to that loop; elsewhere (Celery
    workers, scripts) they go through this process's publisher loop (see _PublisherLoop).
    """
    global _layer_down_until
    layer = get_channel_layer()
    if layer is None:
        return
    final = message.get("type") != "job.progress"
    if not final and time.monotonic() < _layer_down_until:
        # The layer failed a moment ago (Redis down or restarting): skip this step's event
        # rather than hold the engine up; watchers get a snapshot when they reconnect.
        return
    try:
        _send(layer, group, message)
    except Exception as exc:
        # Watching is best effort: a lost event must never fail the job itself.
        if time.monotonic() >= _layer_down_until + LAYER_RETRY_AFTER:
            logger.exception("could not publish progress to %s", group)
        else:
            logger.warning("could not publish progress to %s: %r", group, exc)
        _layer_down_until = time.monotonic() + LAYER_RETRY_AFTER


def _send(layer, group: str, message: dict) -> None:
    loop = _server_loop
    try:
        running_here = asyncio.get_running_loop() is loop
    except RuntimeError:
        running_here = False
    if loop is not None and loop.is_running() and not running_here:
        pass  # a job thread of the server (embedded mode): the layer of the server's loop
    elif isinstance(layer, InMemoryChannelLayer):
        # No server loop known (tests, commands): the in-memory layer of the caller's loop.
        async_to_sync(layer.group_send)(group, message)
        return
    else:
        loop = _publisher.get()
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
    try:
        future.result(timeout=PUBLISH_TIMEOUT)
    except BaseException:
        future.cancel()
        raise


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def eta_seconds(job: RestorationJob, *, now=None) -> float | None:
    """Seconds left, extrapolated from the time the steps so far took; None before step 1."""
    if job.status != RestorationJob.Status.RUNNING or not job.started_at or not job.step:
        return None
    elapsed = ((now or timezone.now()) - job.started_at).total_seconds()
    return max(0.0, elapsed / job.step * (job.total - job.step))


class EtaSmoother:
    """Seconds left from (step, total, seconds since the start), smoothed: an exponential
    average of seconds per step (the first from the whole time, loading included) that one
    slow step leaves alone, and an estimate that rises only after ETA_RISE_STEPS steps in a
    row say it should (until then it goes down with the steps left); None before step 1."""

    def __init__(self):
        self._per_step: float | None = None
        self._last = (0, 0.0)  # (step, seconds) of the last step that advanced
        self._shown: tuple[float, int] | None = None  # (eta, steps left) last reported
        self._slow = 0
        self._rising = 0

    def __call__(self, step: int, total: int, elapsed: float) -> float | None:
        if step <= 0:
            return None
        if self._per_step is None:
            self._per_step = elapsed / step
            self._last = (step, elapsed)
        elif step > self._last[0]:
            latest = (elapsed - self._last[1]) / (step - self._last[0])
            self._slow = self._slow + 1 if latest > ETA_SLOW_STEP * self._per_step else 0
            if self._slow == 0 or self._slow >= ETA_RISE_STEPS:
                self._per_step += ETA_SMOOTHING * (latest - self._per_step)
            self._last = (step, elapsed)
        left = max(0, total - step)
        estimate = self._per_step * left
        if self._shown is not None and self._shown[1] > 0:
            promised = self._shown[0] * left / self._shown[1]
            if estimate > promised:
                self._rising += 1
                if self._rising < ETA_RISE_STEPS:
                    estimate = promised
                else:
                    self._rising = 0
            else:
                self._rising = 0
        self._shown = (estimate, left)
        return round(estimate, 1)


class Reporter:
    """The engine's on_progress callback for one job: publishes, persists, checks cancel.

    `preview`, when the engine passes one, is rendered only when a preview is due (see
    PREVIEW_BYTES_PER_SECOND), then shrunk and encoded by `encode_preview` (pipeline.preview_jpeg).
    `model` is the job's model (any with the life cycle fields of restoration.lifecycle) and
    `publish(job_id, message)` sends to its watchers (default: restoration jobs' `publish`).
    A caller with more to report passes `event` (fields added to this step's message) and
    `state` (fields written with the step whenever it is persisted: pass the latest each time).
    """

    def __init__(
        self,
        job_id: int,
        *,
        encode_preview: Callable[[object], bytes],
        cancelled: type[Exception],
        time_limit: float,
        model: type[Model] = RestorationJob,
        publish: Callable[[int, dict], None] | None = None,
    ):
        self.job_id = job_id
        self.model = model
        self._publish = publish
        self.encode_preview = encode_preview
        self.cancelled = cancelled
        self.started = time.monotonic()
        self.time_limit = time_limit
        self._last_db = 0.0
        self._next_preview = 0.0
        self._eta = EtaSmoother()

    def __call__(
        self,
        step: int,
        total: int,
        *,
        preview=None,
        event: dict | None = None,
        state: dict | None = None,
    ) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed > self.time_limit:
            # Embedded jobs have no Celery to stop them; the same exception ends them here.
            raise SoftTimeLimitExceeded(f"job {self.job_id} ran past {self.time_limit} s")
        message = {
            "type": "job.progress",
            "job": self.job_id,
            "status": self.model.Status.RUNNING,
            "step": step,
            "total": total,
            "eta": self._eta(step, total, now - self.started),
            **(event or {}),
        }
        if preview is not None and (now >= self._next_preview or step >= total):
            jpeg = self.encode_preview(preview())
            cost = time.monotonic() - now
            self._next_preview = now + max(
                PREVIEW_MIN_INTERVAL,
                cost * PREVIEW_COST_SHARE,
                len(jpeg) / PREVIEW_BYTES_PER_SECOND,
            )
            message["preview"] = data_url(jpeg)
        # Looked up at call time, so tests can watch the module's publish.
        (self._publish or publish)(self.job_id, message)
        still_running = self.model.objects.filter(
            pk=self.job_id, status=self.model.Status.RUNNING, cancel_requested=False
        )
        if now - self._last_db >= DB_INTERVAL or step >= total:
            self._last_db = now
            running = still_running.update(
                step=step, total=total, heartbeat_at=timezone.now(), **(state or {})
            )
        else:
            # Checked at every step (one indexed read) so Cancel takes effect at the next one.
            running = still_running.exists()
        if not running:
            raise self.cancelled(f"job {self.job_id} was cancelled or is no longer running")
