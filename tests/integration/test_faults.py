"""Faults in deployment mode, with real processes: a test-owned redis-server on a spare port, a
Celery worker and a Daphne server, on PostgreSQL.

- a killed pool child: its job runs again (attempt 2) and its watchers see it;
- `kill -9` of Redis with a job running and one queued, then a restart: both jobs finish, the
  lost message is sent again, the sockets stay open and get a snapshot once Redis is back;
- a job submitted while Redis is down: 202, kept, run once Redis is back;
- a socket idle for 60 s and a job whose steps take 10 s each (longer than the heartbeat
  timeout the worker is given): no socket drops, no message is missed, no job is retried.

Each test ends with every job finished, none pending or running. The worker gets short life
cycle times (heartbeat timeout 8 s, sweep every second) so the tests take about 4 minutes.
Runs when HERITAGE_FAULT_TESTS is set (`.ci/run` sets it in its PostgreSQL pass).
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.db import connection

from heritage import services as heritage_services
from restoration.models import RestorationJob
from tests import factories
from tests.integration import support

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("HERITAGE_FAULT_TESTS"), reason="set HERITAGE_FAULT_TESTS=1 to run"
    ),
    pytest.mark.django_db(transaction=True),
]

Status = RestorationJob.Status
FINAL_TYPES = {"finished", "failed", "cancelled"}
FINAL_STATUSES = {"succeeded", "failed", "cancelled"}
PASSWORD = "a-long-test-password"
# The worker's life cycle, short enough for a test and in the same proportions as the defaults.
HEARTBEAT_TIMEOUT = 8
LIFECYCLE_ENV = {
    "HERITAGE_JOB_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
    "HERITAGE_JOB_SWEEP_INTERVAL": "1",
    "HERITAGE_JOB_REDISPATCH_AFTER": "4",
    "HERITAGE_JOB_MAX_ATTEMPTS": "3",
}


class RedisServer:
    """A redis-server of the test's own, on a spare loopback port, that can be killed."""

    def __init__(self, folder: Path):
        self.port = support.free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """`kill -9`: everything it held (queued messages, channel groups) is gone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Stack:
    def __init__(self, folder: Path):
        self.folder = folder
        self.redis = RedisServer(folder)
        self.media = folder / "media"
        self.port = support.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server_log = folder / "daphne.log"
        self.worker_log = folder / "worker.log"
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": self.redis.url,
            "MEDIA_ROOT": str(self.media),
            "HERITAGE_VAR_DIR": str(folder / "var"),
            "HERITAGE_DEVICE": "cpu",
            "HERITAGE_ENGINES": "slow=tests.integration.engines.SlowEngine",
            "PYTHONPATH": str(support.ROOT),
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
            **LIFECYCLE_ENV,
        }
        self.worker: subprocess.Popen | None = None

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
            for log in (self.worker_log, self.server_log)
            if log.exists()
        )


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory):
    if connection.vendor != "postgresql":
        pytest.fail("the fault tests need DATABASE_URL to point at PostgreSQL")
    stack = Stack(tmp_path_factory.mktemp("faults"))
    bin_dir = Path(sys.executable).parent
    with ExitStack() as cleanup:
        stack.redis.start()
        cleanup.callback(lambda: stack.redis.process.poll() is None and stack.redis.kill())
        server = cleanup.enter_context(
            support.process(
                [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(stack.port),
                 "heritage.asgi:application"],
                stack.env, stack.server_log,
            )
        )  # fmt: skip
        stack.worker = cleanup.enter_context(
            support.process(
                [str(bin_dir / "celery"), "-A", "heritage", "worker", "-Q", "gpu",
                 "--concurrency", "1", "--loglevel", "INFO", "--without-gossip",
                 "--without-mingle", "-n", "faults@%h"],
                stack.env, stack.worker_log,
            )
        )  # fmt: skip
        support.wait_for_port(stack.port, server, stack.server_log)
        _wait_until(lambda: "ready." in stack.worker_log.read_text(), 90, "the worker to start")
        yield stack


@pytest.fixture
def session(stack, settings, django_user_model):
    """A signed-in curator's browser and a motif with simulated damage to restore."""
    stack.media.mkdir(exist_ok=True)
    settings.MEDIA_ROOT = stack.media
    # The server checks passwords with the real hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    curator = django_user_model.objects.create_user(
        username="fault-curator", password=PASSWORD, role="curator"
    )
    motif = factories.make_demo_motif(user=curator, width=320, height=240)
    annotation = heritage_services.annotation_simulate(
        motif=motif, author=curator, protocol="jelly", seed=2
    )
    browser = support.Browser(stack.base)
    browser.sign_in("fault-curator", PASSWORD)
    yield browser, motif, annotation
    # Whatever happened, no job may be left pending or running for ever.
    left = list(
        RestorationJob.objects.exclude(status__in=RestorationJob.FINISHED).values_list(
            "pk", "status"
        )
    )
    assert not left, f"jobs left unfinished: {left}\n{stack.logs()}"


def _wait_until(condition, timeout: float, what: str, stack: Stack | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{stack.logs() if stack else ''}")


def _submit(session, engine: str, **params) -> int:
    browser, motif, annotation = session
    status, body = browser.launch(annotation=annotation.pk, engine=engine, seed=1, **params)
    assert status == 202, body
    return json.loads(body)["id"]


def _job(job_id: int) -> RestorationJob:
    return RestorationJob.objects.get(pk=job_id)


class Watcher:
    """A job page's socket in a thread: records every message, and like the page's script
    reconnects (with backoff) whenever the server closes it, until the job's end arrives."""

    def __init__(self, stack: Stack, browser: support.Browser, job_id: int):
        self.url = f"ws://127.0.0.1:{stack.port}/ws/restoration/jobs/{job_id}/"
        self.headers = browser.websocket_headers()
        self.messages: list[tuple[float, int, dict]] = []  # (time, connection number, message)
        self.connections = 0
        self.closes: list[object] = []
        self.done = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def _final(self, message: dict) -> bool:
        return message["type"] in FINAL_TYPES or (
            message["type"] == "snapshot" and message["status"] in FINAL_STATUSES
        )

    async def _run(self) -> None:
        import websockets

        delay = 0.5
        while not self._stop:
            try:
                async with websockets.connect(
                    self.url, additional_headers=self.headers, open_timeout=10
                ) as ws:
                    self.connections += 1
                    delay = 0.5
                    while not self._stop:
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 1)
                        except TimeoutError:
                            continue
                        message = json.loads(raw)
                        self.messages.append((time.monotonic(), self.connections, message))
                        if self._final(message):
                            self.done.set()
                            return
            except Exception as exc:  # closed by the server, or refused while it restarts
                self.closes.append(getattr(exc, "rcvd", None) or repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4)

    def wait(self, timeout: float, stack: Stack) -> list[dict]:
        if not self.done.wait(timeout):
            self._stop = True
            pytest.fail(
                f"no end of the job reached {self.url}: {self.messages[-3:]}\n{stack.logs()}"
            )
        return [message for _, _, message in self.messages]

    def first_messages_of_each_connection(self) -> list[dict]:
        seen, firsts = set(), []
        for _, number, message in self.messages:
            if number not in seen:
                seen.add(number)
                firsts.append(message)
        return firsts


def test_a_job_whose_pool_child_is_killed_runs_again_and_its_watchers_are_told(stack, session):
    browser = session[0]
    job_id = _submit(session, "exemplar", iterations=20)
    watcher = Watcher(stack, browser, job_id)
    job = _wait_until(
        lambda: (j := _job(job_id)).status == Status.RUNNING and j.step >= 2 and j,
        120,
        "the job to be running",
        stack,
    )
    pid = int(job.worker.rpartition(":")[2])
    assert pid != stack.worker.pid, "the job must run in a pool child, not the main process"
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    # No page is opened: the worker's own sweep sees the child gone and sends the job again.
    _wait_until(lambda: _job(job_id).attempts == 2, 60, "the job to run again", stack)
    recovered_in = time.monotonic() - killed
    messages = watcher.wait(180, stack)

    job = _job(job_id)
    assert job.status == Status.SUCCEEDED, (job.error, stack.logs())
    assert job.attempts == 2 and job.worker != f"{socket.gethostname()}:{pid}"
    assert recovered_in < HEARTBEAT_TIMEOUT + 10, recovered_in
    notices = [m for m in messages if m["type"] == "progress" and m.get("notice")]
    assert notices and notices[0]["status"] == "pending", messages
    assert "Attempt 1 of 3 stopped" in notices[0]["notice"]
    assert messages[-1]["type"] == "finished"
    assert stack.worker.poll() is None, "the worker's main process must survive"


def test_redis_killed_with_a_job_running_and_one_queued_loses_neither(stack, session):
    browser = session[0]
    running_id = _submit(session, "slow", steps=4, seconds=2)
    queued_id = _submit(session, "slow", steps=2, seconds=0.5)
    watchers = {job_id: Watcher(stack, browser, job_id) for job_id in (running_id, queued_id)}
    _wait_until(
        lambda: _job(running_id).status == Status.RUNNING and _job(running_id).step >= 1,
        60,
        "the first job to run",
        stack,
    )
    assert _job(queued_id).status == Status.PENDING

    stack.redis.kill()  # the queued job's message, the channel groups: all gone
    time.sleep(2)
    stack.redis.start()
    back = time.monotonic()

    for job_id, watcher in watchers.items():
        messages = watcher.wait(120, stack)
        job = _job(job_id)
        assert job.status == Status.SUCCEEDED, (job_id, job.error, stack.logs())
        assert job.attempts == 1
        # The socket got the end: as an event, or in the snapshot sent on reconnecting.
        assert messages[-1]["type"] == "finished" or messages[-1]["status"] == "succeeded"
        # Every connection, the reconnections after Redis came back included, began with
        # the job's state from the database.
        assert all(m["type"] == "snapshot" for m in watcher.first_messages_of_each_connection())
        # The socket outlived Redis: the server's channel layer subscribed again and the
        # consumer sent the job's state from the database (what was published meanwhile is
        # lost), at once, not at its next 15 s check.
        assert (watcher.connections, watcher.closes) == (1, []), (job_id, watcher.closes)
        resent = [t - back for t, _, m in watcher.messages if t > back and m["type"] == "snapshot"]
        assert resent and resent[0] < 5, (job_id, resent, messages)
    # The queued job's message died with Redis: it ran because it was sent again.
    assert _job(queued_id).dispatches >= 2


def test_a_job_submitted_while_redis_is_down_is_kept_and_runs_when_it_is_back(stack, session):
    browser = session[0]
    stack.redis.kill()
    try:
        started = time.monotonic()
        job_id = _submit(session, "slow", steps=2, seconds=0.2)  # asserts 202, not a 500
        answered_in = time.monotonic() - started
        job = _job(job_id)
        assert (job.status, job.dispatched_at) == (Status.PENDING, None)
        assert answered_in < 10, answered_in
        time.sleep(2)
        assert _job(job_id).status == Status.PENDING
    finally:
        stack.redis.start()
    # The worker reconnects to the broker, its sweep sends the job, the job runs.
    messages = Watcher(stack, browser, job_id).wait(90, stack)
    job = _job(job_id)
    assert job.status == Status.SUCCEEDED, (job.error, stack.logs())
    assert job.dispatches >= 1
    assert messages[-1]["type"] == "finished" or messages[-1]["status"] == "succeeded"


def test_an_idle_socket_and_ten_second_steps_keep_their_connection_and_every_message(
    stack, session
):
    browser = session[0]
    # Six steps of 10 s: longer than the worker's heartbeat timeout (8 s) each, so only the
    # heartbeat thread keeps the job from being taken for dead; and the queued job's socket
    # has nothing to say for the 60 s they take.
    slow_id = _submit(session, "slow", steps=6, seconds=10)
    idle_id = _submit(session, "slow", steps=2, seconds=0.2)
    slow, idle = Watcher(stack, browser, slow_id), Watcher(stack, browser, idle_id)

    slow_messages = slow.wait(150, stack)
    idle_messages = idle.wait(60, stack)

    assert (slow.connections, slow.closes) == (1, []), "the socket of the slow job dropped"
    assert (idle.connections, idle.closes) == (1, []), "the idle socket dropped"
    steps = [m["step"] for m in slow_messages if m["type"] == "progress" and m["step"]]
    assert steps == [1, 2, 3, 4, 5, 6], slow_messages
    assert slow_messages[-1]["type"] == "finished"
    assert _job(slow_id).attempts == 1, "a long step was taken for a dead worker"
    times = [t for t, _, m in idle.messages]
    assert idle_messages[0]["type"] == "snapshot" and idle_messages[0]["status"] == "pending"
    assert times[1] - times[0] >= 55, "the socket was not idle for a minute"
    assert [m["step"] for m in idle_messages if m["type"] == "progress" and m["step"]] == [1, 2]
    assert idle_messages[-1]["type"] == "finished"
    assert _job(idle_id).status == Status.SUCCEEDED
