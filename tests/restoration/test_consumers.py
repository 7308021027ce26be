"""The job WebSocket: snapshot on connect, progress per step, final event; strangers refused."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from restoration import services
from restoration.models import RestorationJob
from restoration.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(job_id: int, user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/restoration/jobs/{job_id}/"
    )
    communicator.scope["user"] = user
    return communicator


def _create(curator, annotation, engine="exemplar", **params):
    return services.job_create(
        requested_by=curator, annotation=annotation, engine=engine, params=params, seed=1
    )


async def test_consumer_sends_a_snapshot_on_connect(curator, simulated):
    job = await database_sync_to_async(_create)(curator, simulated)
    communicator = _communicator(job.pk, curator)
    connected, _ = await communicator.connect()
    assert connected
    snapshot = await communicator.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert snapshot["job"] == job.pk
    assert snapshot["status"] == "pending"
    await communicator.disconnect()


@pytest.mark.parametrize("who", ["expert", "anonymous"])
async def test_consumer_refuses_users_who_may_not_see_the_job(who, curator, expert, simulated):
    from django.contrib.auth.models import AnonymousUser

    job = await database_sync_to_async(_create)(curator, simulated)
    user = expert if who == "expert" else AnonymousUser()
    communicator = _communicator(job.pk, user)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4403


async def test_consumer_streams_one_progress_event_per_step_then_finished(curator, simulated):
    job = await database_sync_to_async(_create)(curator, simulated, iterations=3)
    communicator = _communicator(job.pk, curator)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "snapshot"

    run = asyncio.ensure_future(database_sync_to_async(services.job_run)(job_id=job.pk))
    messages = []
    while True:
        message = await communicator.receive_json_from(timeout=60)
        messages.append(message)
        if message["type"] in {"finished", "failed", "cancelled"}:
            break
    await run
    await communicator.disconnect()

    steps = [m["step"] for m in messages if m["type"] == "progress" and m["step"]]
    assert messages[-1]["type"] == "finished", messages[-1]
    assert len(steps) >= 5, "progress must be real steps, not a jump to 100%"
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    total = messages[-2]["total"]
    assert steps[-1] == total
    assert set(range(1, total + 1)) == set(steps), "one message per step"
    assert any(m.get("preview", "").startswith("data:image/jpeg;base64,") for m in messages)
    assert messages[-1]["result_url"]
    job = await database_sync_to_async(RestorationJob.objects.get)(pk=job.pk)
    assert job.status == RestorationJob.Status.SUCCEEDED
    assert job.step == job.total == total


async def test_consumer_forwards_job_events_without_a_database_thread_hop(
    curator, simulated, monkeypatch
):
    """Each job event goes straight to the socket: Channels' per-message close of old database
    connections (a trip to the server's one sync thread) queued a busy job's events behind
    each other at 128 watchers (bench/load.py)."""
    from channels import consumer
    from channels.layers import get_channel_layer

    from restoration import progress

    job = await database_sync_to_async(_create)(curator, simulated)
    communicator = _communicator(job.pk, curator)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "snapshot"

    hops = []
    original = consumer.aclose_old_connections

    async def counted():
        hops.append(1)
        await original()

    monkeypatch.setattr(consumer, "aclose_old_connections", counted)
    layer = get_channel_layer()
    group = progress.group_name(job.pk)
    for step in range(1, 21):
        await layer.group_send(
            group, {"type": "job.progress", "job": job.pk, "status": "running", "step": step}
        )
    await layer.group_send(group, {"type": "job.finished", "job": job.pk, "status": "done"})
    received = [await communicator.receive_json_from() for _ in range(21)]
    forwarded_hops = len(hops)
    await communicator.disconnect()

    assert [m["step"] for m in received[:-1]] == list(range(1, 21))
    assert received[-1]["type"] == "finished"
    assert forwarded_hops == 0, "no thread hop per job event"
    assert hops, "the socket's own events (disconnect) still close old connections"


async def test_consumer_sends_the_state_again_when_its_layer_got_redis_back(curator, simulated):
    """heritage.channel_layers tells every consumer of a process when its connection to Redis
    came back: events published meanwhile are lost, the database has the state."""
    from channels.layers import get_channel_layer

    from restoration import progress

    job = await database_sync_to_async(_create)(curator, simulated)
    communicator = _communicator(job.pk, curator)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["status"] == "pending"

    # The job moved on while Redis was down: no event reached the socket.
    await database_sync_to_async(RestorationJob.objects.filter(pk=job.pk).update)(
        status=RestorationJob.Status.RUNNING, step=3, total=10
    )
    layer = get_channel_layer()
    await layer.group_send(progress.group_name(job.pk), {"type": "layer.reconnected"})
    snapshot = await communicator.receive_json_from()
    await communicator.disconnect()

    assert snapshot["type"] == "snapshot"
    assert (snapshot["status"], snapshot["step"]) == ("running", 3)


async def test_a_pending_jobs_socket_says_its_place_in_the_queue_and_follows_it(
    curator, simulated, monkeypatch
):
    from restoration import consumers

    # Only the pending jobs' interval is short: that is the one a queued job's socket uses.
    monkeypatch.setattr(consumers, "PENDING_RESYNC_INTERVAL", 0.1)
    first = await database_sync_to_async(_create)(curator, simulated)
    second = await database_sync_to_async(_create)(curator, simulated)
    job = await database_sync_to_async(_create)(curator, simulated)
    communicator = _communicator(job.pk, curator)
    await communicator.connect()
    snapshot = await communicator.receive_json_from()
    assert (snapshot["status"], snapshot["ahead"]) == ("pending", 2)
    # The first job ends (cancelled): the watcher hears that one job is left ahead of it.
    await database_sync_to_async(services.job_cancel)(job=first, user=curator)
    moved = await communicator.receive_json_from(timeout=5)
    assert (moved["type"], moved["ahead"]) == ("snapshot", 1)
    # A running job is still ahead (it holds the worker); once it has ended, none is.
    jobs = RestorationJob.objects.filter(pk=second.pk)
    await database_sync_to_async(jobs.update)(status=RestorationJob.Status.RUNNING)
    assert await communicator.receive_nothing(timeout=0.5)
    await database_sync_to_async(jobs.update)(status=RestorationJob.Status.SUCCEEDED)
    assert (await communicator.receive_json_from(timeout=5))["ahead"] == 0
    await communicator.disconnect()
