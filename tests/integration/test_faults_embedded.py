"""The embedded runner survives its server being killed: with no broker, jobs run in a thread
of the Daphne process, and the sweep thread of the next server process finds the job whose
process is gone and runs it again, with no page opened.

A module of its own so that no Celery worker sweeps the same database meanwhile. Runs when
HERITAGE_FAULT_TESTS is set (`.ci/run` sets it in its PostgreSQL pass).
"""

import json
import os
import signal
import sys
import time
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


def _wait_until(condition, timeout: float, what: str, logs) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs()}")


def test_a_job_of_a_killed_embedded_server_runs_again_when_the_server_restarts(
    tmp_path, settings, django_user_model
):
    if connection.vendor != "postgresql":
        pytest.fail("the fault tests need DATABASE_URL to point at PostgreSQL")
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    curator = django_user_model.objects.create_user(
        username="embedded-curator", password="a-long-test-password", role="curator"
    )
    motif = factories.make_demo_motif(user=curator, width=160, height=120)
    annotation = heritage_services.annotation_simulate(
        motif=motif, author=curator, protocol="jelly", seed=2
    )
    db = connection.settings_dict
    env = {
        **{key: value for key, value in os.environ.items() if key != "REDIS_URL"},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "HERITAGE_JOB_RUNNER": "embedded",
        "MEDIA_ROOT": str(media),
        "HERITAGE_VAR_DIR": str(tmp_path / "var"),
        "HERITAGE_DEVICE": "cpu",
        "HERITAGE_ENGINES": "slow=tests.integration.engines.SlowEngine",
        "HERITAGE_JOB_HEARTBEAT_TIMEOUT": "8",
        "HERITAGE_JOB_SWEEP_INTERVAL": "1",
        "PYTHONPATH": str(support.ROOT),
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "daphne.log"
    daphne = [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1"]
    app = "heritage.asgi:application"

    def logs() -> str:
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""

    port = support.free_port()
    with support.process([*daphne, "-p", str(port), app], env, log) as first:
        support.wait_for_port(port, first, log)
        browser = support.Browser(f"http://127.0.0.1:{port}")
        browser.sign_in("embedded-curator", "a-long-test-password")
        status, body = browser.launch(
            annotation=annotation.pk, engine="slow", seed=1, steps=6, seconds=1
        )
        assert status == 202, body
        job_id = json.loads(body)["id"]
        _wait_until(
            lambda: RestorationJob.objects.filter(pk=job_id, status=Status.RUNNING, step__gte=1)
            .exists(),
            60,
            "the job to run in the server",
            logs,
        )  # fmt: skip
        os.killpg(first.pid, signal.SIGKILL)  # the server and its job thread die at once
        first.wait()

    time.sleep(1)
    job = RestorationJob.objects.get(pk=job_id)
    assert job.status == Status.RUNNING, "nothing but the new server may recover it"
    port = support.free_port()
    # No request is made to the new server: its sweep alone must find and rerun the job.
    with support.process([*daphne, "-p", str(port), app], env, log):
        job = _wait_until(
            lambda: (j := RestorationJob.objects.get(pk=job_id)).status in RestorationJob.FINISHED
            and j,
            90,
            "the job to finish in the new server",
            logs,
        )  # fmt: skip
    assert job.status == Status.SUCCEEDED, (job.error, logs())
    assert job.attempts == 2
