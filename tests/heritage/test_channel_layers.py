"""The Redis pub/sub channel layer (heritage.channel_layers) against a redis-server of the
test's own on a spare port: one subscription per process and group, and a Redis restart
that every consumer hears about."""

import asyncio
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from heritage.channel_layers import RECONNECTED, RedisPubSubLayer
from tests.integration import support

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


class _Redis:
    def __init__(self, folder: Path):
        self.port = support.free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def server(tmp_path):
    server = _Redis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


@pytest.fixture
async def layer(server):
    layer = RedisPubSubLayer(
        hosts=[{"address": server.url, "socket_timeout": 30, "health_check_interval": 30}],
        prefix="test.",
    )
    yield layer
    await layer.flush()


async def _receive(layer, channel: str, timeout: float = 5) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def test_a_group_is_one_subscription_per_process_whatever_its_members(layer, server):
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("job.1", channel)
    await layer.group_send("job.1", {"type": "job.progress", "step": 1})

    assert [await _receive(layer, channel) for channel in channels] == [
        {"type": "job.progress", "step": 1}
    ] * 3
    client = redis.Redis.from_url(server.url)
    assert client.pubsub_numsub("test.__group__job.1") == [(b"test.__group__job.1", 1)]


async def test_a_restarted_redis_is_told_to_every_consumer_and_events_flow_again(layer, server):
    channels = [await layer.new_channel() for _ in range(2)]
    for channel in channels:
        await layer.group_add("job.1", channel)
    await layer.group_send("job.1", {"type": "job.progress", "step": 1})
    for channel in channels:
        assert (await _receive(layer, channel))["step"] == 1

    server.kill()  # everything Redis knew, the subscriptions included, is gone
    await asyncio.sleep(1.5)
    server.start()

    # The subscriber connection comes back, subscribes again and says so to each consumer.
    for channel in channels:
        assert await _receive(layer, channel, timeout=10) == RECONNECTED
    # The first event after the restart goes out on a new connection, not lost on the dead one.
    await layer.group_send("job.1", {"type": "job.progress", "step": 2})
    for channel in channels:
        assert (await _receive(layer, channel))["step"] == 2


async def test_the_receiver_survives_any_error_of_a_read(layer, monkeypatch):
    """channels_redis' own receiver re-raises a timeout, which ends it: nothing reaches the
    process's consumers again."""
    from heritage import channel_layers

    monkeypatch.setattr(channel_layers, "RETRY_INTERVAL", 0.05)
    channel = await layer.new_channel()
    await layer.group_add("job.1", channel)
    pubsub = layer._get_layer()._shards[0]._pubsub
    failures = [TimeoutError("a read timed out"), OSError("a socket error")]
    original = pubsub.get_message

    async def flaky(**kwargs):
        if failures:
            raise failures.pop(0)
        return await original(**kwargs)

    monkeypatch.setattr(pubsub, "get_message", flaky)
    await asyncio.sleep(0.3)
    assert not failures
    await layer.group_send("job.1", {"type": "job.progress", "step": 1})
    assert (await _receive(layer, channel))["step"] == 1
