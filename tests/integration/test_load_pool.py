"""200 concurrent visitors vote through a real Daphne server on PostgreSQL.

Before the connection pool, each concurrent request opened its own PostgreSQL connection and at
60 clients some answered 500 ("too many clients already"), losing a vote. Now every client gets
an answer (200/201, or 429 from a throttle), never a 5xx, and every accepted vote is counted.

Runs when HERITAGE_DEPLOYMENT_TEST is set and DATABASE_URL is PostgreSQL (`.ci/run`'s second pass).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from django.db import connection

from gallery.models import StudyVote
from gallery.services import studies
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 200

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("HERITAGE_DEPLOYMENT_TEST"),
        reason="set HERITAGE_DEPLOYMENT_TEST (and a PostgreSQL DATABASE_URL) to run",
    ),
    pytest.mark.django_db(transaction=True),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Visitor:
    """One browser: its own cookies and its own address (the proxy's X-Real-IP header)."""

    def __init__(self, port: int, number: int):
        self.port = port
        self.address = f"10.{number // 250}.{number % 250}.1"
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"X-Real-IP": self.address, "Accept": "application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, payload
        finally:
            conn.close()


@pytest.fixture
def study(curator, media):
    restorations = []
    for seed in (1, 2):
        motif = factories.make_demo_motif(user=curator, seed=seed, width=64, height=64)
        annotation = factories.make_annotation(motif=motif, user=curator)
        for engine in ("telea", "navier_stokes"):
            restorations.append(
                factories.make_restoration(annotation=annotation, user=curator, engine=engine)
            )
    return studies.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        description="",
        restorations=restorations,
        open_now=True,
    )


@pytest.fixture
def server(tmp_path, media):
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs DATABASE_URL to point at PostgreSQL")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CELERY_BROKER_URL", "HERITAGE_JOB_RUNNER"}
    }
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        HERITAGE_VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(media),
        HERITAGE_CLIENT_IP_HEADER="HTTP_X_REAL_IP",
        # DRF's per-address read throttle sees every client as 127.0.0.1: lift it, so that all
        # 200 clients reach the database at once (the vote throttles use X-Real-IP).
        HERITAGE_API_ANON_RATE="100000/m",
        DEBUG="true",
        LOG_LEVEL="WARNING",
    )
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["heritage.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"daphne exited:\n{log.read_text()[-3000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"daphne did not listen:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield port, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_200_concurrent_voters_get_answers_and_every_accepted_vote_counts(server, study):
    port, log = server
    base = f"/api/v1/studies/{study.slug}"
    visitors = [_Visitor(port, number) for number in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS, timeout=120)
    outcomes: list[tuple[str, int, bytes]] = []
    accepted: list[int] = []
    lock = threading.Lock()

    def run(visitor: _Visitor) -> None:
        def record(step, status, payload):
            with lock:
                outcomes.append((step, status, payload[:300]))

        barrier.wait()
        status, payload = visitor.request("GET", f"{base}/")
        record("study", status, payload)
        barrier.wait()
        status, payload = visitor.request("GET", f"{base}/next/")
        record("next", status, payload)
        barrier.wait()
        if status != 200:
            return
        trial = json.loads(payload)
        if not trial.get("candidates"):
            return
        status, payload = visitor.request(
            "POST",
            f"{base}/votes/",
            {
                "trial": trial["trial"],
                "choice": trial["candidates"][0]["token"],
                "shown": [candidate["token"] for candidate in trial["candidates"]],
                "repeat": trial["repeat"],
            },
        )
        record("vote", status, payload)
        if status in (200, 201):
            with lock:
                accepted.append(1)

    threads = [threading.Thread(target=run, args=(visitor,)) for visitor in visitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    failures = [outcome for outcome in outcomes if outcome[1] not in (200, 201, 429)]
    assert not failures, (
        f"{len(failures)} answers outside 200/201/429, e.g. {failures[:3]}\n"
        + (log.read_text()[-3000:])
    )
    votes = [outcome for outcome in outcomes if outcome[0] == "vote"]
    assert len(votes) >= CLIENTS // 2, f"too few clients reached the vote: {outcomes[-3:]}"
    assert accepted, "no vote was accepted"
    assert StudyVote.objects.filter(trial__study=study).count() == len(accepted)
