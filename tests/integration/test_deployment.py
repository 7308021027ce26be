"""Deployment mode end to end: PostgreSQL, Redis, a Daphne server and a real Celery worker.

A curator creates a job over HTTP; the web process queues it on Redis; a `celery -A heritage
worker -Q gpu` subprocess runs it; every step reaches the browser's WebSocket through
channels_redis; the result is stored. Runs when HERITAGE_DEPLOYMENT_TEST names a Redis URL
(`.ci/run` sets it for the PostgreSQL pass); it needs DATABASE_URL to be PostgreSQL.
"""

import asyncio
import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from heritage import services as heritage_services
from restoration.models import RestorationJob
from tests import factories
from tests.integration.support import Browser as _Browser
from tests.integration.support import free_port as _free_port
from tests.integration.support import process as _process
from tests.integration.support import wait_for_port as _wait_for_port

REDIS_URL = os.environ.get("HERITAGE_DEPLOYMENT_TEST", "")

pytestmark = [
    pytest.mark.skipif(not REDIS_URL, reason="set HERITAGE_DEPLOYMENT_TEST=redis://... to run"),
    pytest.mark.django_db(transaction=True),
]


async def _collect(url: str, headers: dict, start_worker, timeout: float = 180) -> list[dict]:
    import websockets

    messages = []
    async with websockets.connect(url, additional_headers=headers) as socket_:
        messages.append(json.loads(await asyncio.wait_for(socket_.recv(), 10)))
        # Only now is the worker started, so no step can pass before we listen.
        start_worker()
        while messages[-1]["type"] not in {"finished", "failed", "cancelled"}:
            messages.append(json.loads(await asyncio.wait_for(socket_.recv(), timeout)))
    return messages


def test_job_created_over_http_streams_every_step_from_a_celery_worker(
    tmp_path, settings, django_user_model
):
    if connection.vendor != "postgresql":
        pytest.fail("the deployment test needs DATABASE_URL to point at PostgreSQL")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    # The server subprocess checks passwords with the real hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    curator = django_user_model.objects.create_user(
        username="deploy-curator", password="a-long-test-password", role="curator"
    )
    motif = factories.make_demo_motif(user=curator, width=128, height=96)
    annotation = heritage_services.annotation_simulate(
        motif=motif, author=curator, protocol="jelly", seed=2
    )

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": str(media),
        "HERITAGE_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    server_log, worker_log = tmp_path / "daphne.log", tmp_path / "worker.log"
    worker_args = [
        str(bin_dir / "celery"), "-A", "heritage", "worker", "-Q", "gpu",
        "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with _process(
        [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "heritage.asgi:application"],
        env,
        server_log,
    ) as server:
        _wait_for_port(port, server, server_log)
        browser = _Browser(f"http://127.0.0.1:{port}")
        browser.sign_in("deploy-curator", "a-long-test-password")
        status, body = browser.launch(
            annotation=annotation.pk, engine="exemplar", seed=4, iterations=4
        )
        assert status == 202, body
        answer = json.loads(body)
        assert answer["status"] == "pending"

        workers = []

        def start_worker():
            context = _process(worker_args, env, worker_log)
            workers.append((context, context.__enter__()))

        try:
            messages = asyncio.run(
                _collect(
                    f"ws://127.0.0.1:{port}{answer['websocket']}",
                    {
                        "Cookie": f"sessionid={browser.cookie('sessionid')}",
                        "Origin": f"http://127.0.0.1:{port}",
                    },
                    start_worker,
                )
            )
        finally:
            for context, _ in workers:
                context.__exit__(None, None, None)

    assert messages[0]["type"] == "snapshot" and messages[0]["status"] == "pending"
    assert messages[-1]["type"] == "finished", (messages[-1], worker_log.read_text()[-3000:])
    progress = [m for m in messages if m["type"] == "progress"]
    total = progress[-1]["total"]
    assert total >= 5
    assert {m["step"] for m in progress} >= set(range(1, total + 1)), "a step was not streamed"
    job = RestorationJob.objects.get(pk=answer["id"])
    assert job.status == RestorationJob.Status.SUCCEEDED
    assert job.worker and not job.worker.endswith(f":{os.getpid()}"), "ran outside the worker"
    assert (media / job.result.image.name).is_file()
    assert job.result.metrics["damaged"]["psnr"] > 10


def test_public_pages_are_cached_in_redis_shared_by_server_processes(tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.fail("the deployment test needs DATABASE_URL to point at PostgreSQL")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": REDIS_URL,
        "HERITAGE_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "true",
    }
    server = [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1"]
    answers = []
    # Two server processes one after the other: the second finds the page the first cached.
    for run in range(2):
        port = _free_port()
        log = tmp_path / f"daphne-{run}.log"
        with _process([*server, "-p", str(port), "heritage.asgi:application"], env, log) as process:
            _wait_for_port(port, process, log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/exhibitions/") as response:
                answers.append(response.headers["X-Page-Cache"])

    assert answers == ["miss", "hit"]
    assert any(b"gallery:page" in key for key in client.keys("*"))
