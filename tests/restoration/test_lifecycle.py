"""Job life cycle: dispatch that survives a broker outage, the sweep of jobs whose worker died
or whose message was lost, heartbeats, and a socket that catches up after lost events."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone

from restoration import consumers, lifecycle, progress, services
from restoration.models import RestorationJob
from restoration.routing import websocket_urlpatterns

Status = RestorationJob.Status


class BrokerDown(ConnectionError):
    pass


@pytest.fixture
def broker(monkeypatch):
    """A broker that can be stopped: job_dispatch raises while it is down; `sent` lists ids."""

    class Broker:
        up = True
        sent: list[int] = []

        def send(self, *, job_id):
            if not self.up:
                raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            self.sent.append(job_id)

    broker = Broker()
    broker.sent = []
    monkeypatch.setattr(services, "job_dispatch", broker.send)
    return broker


@pytest.fixture
def events(monkeypatch):
    sent = []
    monkeypatch.setattr(progress, "publish", lambda job_id, message: sent.append(message))
    return sent


@pytest.fixture
def policy(settings):
    settings.RESTORATION_HEARTBEAT_TIMEOUT = 60
    settings.RESTORATION_MAX_ATTEMPTS = 3
    settings.RESTORATION_REDISPATCH_AFTER = 60
    settings.RESTORATION_TIME_LIMIT = 3600
    return settings


def _job(curator, annotation, **kwargs):
    return services.job_create(
        requested_by=curator, annotation=annotation, engine="telea", **kwargs
    )


def _set(job, **fields):
    RestorationJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def _running(job, *, worker="elsewhere:1", beat_ago=0.0, attempts=1, started_ago=None):
    now = timezone.now()
    return _set(
        job,
        status=Status.RUNNING,
        worker=worker,
        attempts=attempts,
        heartbeat_at=now - timedelta(seconds=beat_ago),
        started_at=now - timedelta(seconds=beat_ago if started_ago is None else started_ago),
    )


def _dead_pid() -> int:
    return int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


# --- dispatch: a broker that is down at submit loses no job and answers no 500 -------------


def test_a_job_submitted_while_the_broker_is_down_is_kept_and_sent_when_it_is_back(
    curator, simulated, broker, policy, django_capture_on_commit_callbacks
):
    broker.up = False
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(curator, simulated)
    job.refresh_from_db()
    assert (job.status, job.dispatched_at, job.dispatches) == (Status.PENDING, None, 0)

    services.job_sweep()  # still down: nothing sent, nothing recorded
    job.refresh_from_db()
    assert broker.sent == [] and job.dispatched_at is None

    broker.up = True
    result = services.job_sweep()
    job.refresh_from_db()
    assert result.redispatched == [job.pk] and broker.sent == [job.pk]
    assert job.dispatched_at is not None and job.dispatches == 1
    services.job_sweep()
    assert broker.sent == [job.pk], "a job just sent is not sent again"


def test_a_launch_answers_202_not_500_when_the_broker_is_down(
    curator_client, motif, simulated, broker, django_capture_on_commit_callbacks
):
    broker.up = False
    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(
            reverse("restoration_api:jobs"),
            {"annotation": simulated.pk, "engine": "telea", "seed": 0},
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    job = RestorationJob.objects.get(pk=response.json()["id"])
    assert job.status == Status.PENDING and job.dispatched_at is None


def test_a_pending_job_whose_message_was_lost_is_sent_again_with_backoff(
    curator, simulated, broker, policy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(curator, simulated)
    assert broker.sent == [job.pk]
    _set(job, dispatched_at=timezone.now() - timedelta(seconds=30))
    services.job_sweep()
    assert broker.sent == [job.pk], "sent 30 s ago: still waiting in the queue"

    _set(job, dispatched_at=timezone.now() - timedelta(seconds=61))
    services.job_sweep()
    assert broker.sent == [job.pk, job.pk]
    job.refresh_from_db()
    assert job.dispatches == 2
    # Sent twice: the next one after twice the delay, so a long queue gets few duplicates.
    _set(job, dispatched_at=timezone.now() - timedelta(seconds=90))
    services.job_sweep()
    assert len(broker.sent) == 2
    _set(job, dispatched_at=timezone.now() - timedelta(seconds=121))
    services.job_sweep()
    assert len(broker.sent) == 3

    # Duplicates are harmless: one delivery claims the job, the others find it taken.
    assert services.job_claim(job_id=job.pk, worker="a")
    assert not services.job_claim(job_id=job.pk, worker="b")


def test_jobs_run_in_process_are_not_sent_to_a_runner_unless_left_waiting(
    curator, simulated, broker, policy
):
    job = _job(curator, simulated, queue=False)
    services.job_sweep()
    assert broker.sent == []
    _set(job, dispatched_at=timezone.now() - timedelta(seconds=61))
    services.job_sweep()
    assert broker.sent == [job.pk]


def test_concurrent_sweeps_send_one_message(curator, simulated, broker, policy):
    job = _job(curator, simulated, queue=False)
    job.refresh_from_db()
    seen = job.dispatched_at
    assert lifecycle.dispatch(RestorationJob, job.pk, services._send, seen=seen)
    assert not lifecycle.dispatch(RestorationJob, job.pk, services._send, seen=seen)
    assert broker.sent == [job.pk]


# --- sweep of running jobs whose worker died ---------------------------------------------


def test_a_job_whose_heartbeat_stopped_runs_again_and_its_watchers_are_told(
    curator, simulated, broker, events, policy
):
    job = _running(_job(curator, simulated, queue=False), beat_ago=61)
    result = services.job_sweep()
    job.refresh_from_db()
    assert result.retried == [job.pk]
    assert (job.status, job.worker, job.attempts) == (Status.PENDING, "", 1)
    assert broker.sent == [job.pk], "the job must be sent again to run"
    assert events[-1]["type"] == "job.progress" and events[-1]["status"] == "pending"
    assert "Attempt 1 of 3 stopped" in events[-1]["notice"]
    assert "no heartbeat for 60 s" in events[-1]["notice"]

    assert services.job_claim(job_id=job.pk, worker="new")
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Status.RUNNING, 2)


def test_a_job_whose_worker_keeps_dying_fails_after_its_last_attempt(
    curator, simulated, broker, events, policy
):
    job = _running(_job(curator, simulated, queue=False), beat_ago=61, attempts=3)
    result = services.job_sweep()
    job.refresh_from_db()
    assert result.failed == [job.pk] and broker.sent == []
    assert job.status == Status.FAILED and job.finished_at
    assert "attempt 3 of 3" in job.error and "Retry it" in job.error
    assert events[-1] == {
        "type": "job.failed",
        "job": job.pk,
        "status": "failed",
        "error": job.error,
    }


def test_a_job_whose_process_on_this_host_is_gone_runs_again_without_waiting(
    curator, simulated, broker, events, policy
):
    dead = _running(
        _job(curator, simulated, queue=False), worker=f"{socket.gethostname()}:{_dead_pid()}"
    )
    alive = _running(
        _job(curator, simulated, queue=False), worker=f"{socket.gethostname()}:{os.getppid()}"
    )
    result = services.job_sweep()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert result.retried == [dead.pk]
    assert dead.status == Status.PENDING and "worker process stopped" in events[-1]["notice"]
    assert alive.status == Status.RUNNING


def test_a_live_job_is_left_alone(curator, simulated, broker, events, policy):
    job = _running(_job(curator, simulated, queue=False), beat_ago=30)
    assert services.job_sweep().retried == []
    job.refresh_from_db()
    assert job.status == Status.RUNNING and events == [] and broker.sent == []


def test_a_stale_job_whose_cancel_was_asked_is_cancelled_not_run_again(
    curator, simulated, broker, events, policy
):
    job = _running(_job(curator, simulated, queue=False), beat_ago=61)
    services.job_cancel(job=job, user=curator)
    services.job_sweep()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and broker.sent == []
    assert events[-1]["type"] == "job.cancelled"


def test_a_job_past_its_time_limit_fails_even_if_its_heartbeat_goes_on(
    curator, simulated, broker, events, policy
):
    policy.RESTORATION_TIME_LIMIT = 100
    job = _running(_job(curator, simulated, queue=False), beat_ago=0, started_ago=161)
    services.job_sweep()
    job.refresh_from_db()
    assert job.status == Status.FAILED and "time limit (100 s)" in job.error
    assert events[-1]["type"] == "job.failed"


def test_a_dead_job_that_had_outrun_its_time_limit_fails_instead_of_running_again(
    curator, simulated, broker, events, policy
):
    # Celery's hard limit killed the child of a job the soft limit could not stop.
    policy.RESTORATION_TIME_LIMIT = 100
    job = _running(
        _job(curator, simulated, queue=False),
        worker=f"{socket.gethostname()}:{_dead_pid()}",
        started_ago=101,
    )
    services.job_sweep()
    job.refresh_from_db()
    assert job.status == Status.FAILED and "time limit (100 s)" in job.error
    assert broker.sent == []


def test_a_sweep_decided_on_an_old_heartbeat_does_not_touch_a_job_that_beat_since(
    curator, simulated, broker, events, policy, monkeypatch
):
    job = _running(_job(curator, simulated, queue=False), beat_ago=61)
    real_filter = RestorationJob.objects.filter
    beat_once = []

    def filter_then_beat(*args, **kwargs):
        # The worker beats between the sweep's read and its conditional update.
        if "heartbeat_at" in kwargs and not beat_once:
            beat_once.append(lifecycle.beat(RestorationJob, job.pk, 1))
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(RestorationJob.objects, "filter", filter_then_beat)
    assert services.job_sweep().retried == []
    monkeypatch.undo()
    job.refresh_from_db()
    assert beat_once == [True] and job.status == Status.RUNNING


def test_opening_the_page_of_a_dead_job_changes_nothing(curator, curator_client, simulated):
    job = _running(
        _job(curator, simulated, queue=False), worker=f"{socket.gethostname()}:{_dead_pid()}"
    )
    assert curator_client.get(job.get_absolute_url()).status_code == 200
    job.refresh_from_db()
    assert job.status == Status.RUNNING, "a GET must not sweep; the schedule does"


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_a_step_runs_and_stops_after(curator, simulated):
    job = _running(_job(curator, simulated, queue=False), beat_ago=600)
    before = job.heartbeat_at
    with lifecycle.Heartbeat(RestorationJob, job.pk, attempt=1, interval=0.05):
        time.sleep(0.5)  # one long engine step, no progress call
    job.refresh_from_db()
    assert job.heartbeat_at > before + timedelta(seconds=500)
    after = job.heartbeat_at
    time.sleep(0.2)
    job.refresh_from_db()
    assert job.heartbeat_at == after, "the heartbeat outlived the job"


def test_a_heartbeat_of_an_older_attempt_does_not_keep_the_new_one_alive(curator, simulated):
    job = _running(_job(curator, simulated, queue=False), attempts=2, beat_ago=600)
    assert not lifecycle.beat(RestorationJob, job.pk, 1)
    assert lifecycle.beat(RestorationJob, job.pk, 2)


def test_job_run_beats_through_the_whole_run(curator, simulated, settings, monkeypatch):
    beats = []
    monkeypatch.setattr(
        lifecycle.Heartbeat, "__enter__", lambda self: beats.append(self.interval) or self
    )
    monkeypatch.setattr(lifecycle.Heartbeat, "__exit__", lambda self, *exc: beats.append("end"))
    settings.RESTORATION_HEARTBEAT_TIMEOUT = 40
    job = _job(curator, simulated, queue=False)
    services.job_run(job_id=job.pk)
    assert beats == [10, "end"]


# --- progress: a lost event is caught up ---------------------------------------------------


def test_publish_skips_progress_while_the_layer_is_down_but_tries_final_events(monkeypatch):
    calls = []

    class DownLayer:
        async def group_send(self, group, message):
            calls.append(message["type"])
            raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(progress, "get_channel_layer", lambda: DownLayer())
    monkeypatch.setattr(progress, "_layer_down_until", float("-inf"))
    progress.publish(1, {"type": "job.progress", "step": 1})
    progress.publish(1, {"type": "job.progress", "step": 2})  # skipped: layer just failed
    progress.publish(1, {"type": "job.finished"})
    assert calls == ["job.progress", "job.finished"]
    monkeypatch.setattr(progress, "_layer_down_until", time.monotonic() - 1)
    progress.publish(1, {"type": "job.progress", "step": 3})
    assert calls[-1] == "job.progress" and len(calls) == 3


@pytest.mark.django_db(transaction=True)
async def test_a_socket_gets_a_snapshot_when_the_job_moved_on_without_an_event(
    curator, simulated, monkeypatch
):
    monkeypatch.setattr(consumers, "RESYNC_INTERVAL", 0.1)
    job = await database_sync_to_async(_job)(curator, simulated, queue=False)
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/restoration/jobs/{job.pk}/"
    )
    communicator.scope["user"] = curator
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["status"] == "pending"
    await asyncio.sleep(0.3)
    assert await communicator.receive_nothing(0.1), "nothing changed: nothing sent"

    # The job ran to its end while the channel layer lost every event (Redis restarted).
    await database_sync_to_async(_set)(
        job, status=Status.FAILED, error="engine crashed", step=3, total=3
    )
    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    assert (snapshot["status"], snapshot["error"]) == ("failed", "engine crashed")
    await communicator.disconnect()


# --- who sweeps: every worker, and the embedded server; on a schedule ----------------------


def test_the_periodic_sweep_runs_at_once_then_again_and_survives_errors():
    runs = []

    def task():
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise RuntimeError("database restarting")

    stop = lifecycle.start_periodic(task, interval=0.05, name="test-sweep")
    deadline = time.monotonic() + 5
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    assert len(runs) >= 3, "an error in one sweep must not stop the schedule"


def test_every_celery_worker_starts_sweeping_when_it_is_ready(monkeypatch, settings):
    from restoration import tasks, training_runs

    started = []
    monkeypatch.setattr(
        lifecycle, "start_periodic", lambda task, **kw: started.append((task, kw)) or "stop"
    )
    monkeypatch.setattr(tasks, "_sweeping", None)
    settings.RESTORATION_SWEEP_INTERVAL = 7
    tasks._start_sweeping(sender=None)
    tasks._start_sweeping(sender=None)  # once per process
    assert started == [
        (services.job_sweep, {"interval": 7, "name": "restoration-sweep"}),
        (training_runs.training_run_sweep, {"interval": 7, "name": "training-sweep"}),
    ]


@pytest.mark.parametrize(
    ("runner", "enabled", "starts"),
    [("embedded", True, True), ("embedded", False, False), ("celery", True, False)],
)
def test_the_embedded_server_sweeps_on_its_own_schedule(
    runner, enabled, starts, monkeypatch, settings
):
    from restoration import embedded

    started = []
    monkeypatch.setattr(
        lifecycle, "start_periodic", lambda task, **kw: started.append(kw["interval"]) or "stop"
    )
    monkeypatch.setattr(embedded, "_sweeping", None)
    settings.RESTORATION_RUNNER = runner
    settings.RESTORATION_EMBEDDED_SWEEP = enabled
    settings.RESTORATION_SWEEP_INTERVAL = 9
    embedded.start()
    assert started == ([9] if starts else [])
