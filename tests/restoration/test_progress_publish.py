"""Publishing job events from synchronous code (Celery workers, job threads): one event loop
per process, kept across events, and a forked child never uses its parent's."""

import asyncio
import multiprocessing
import threading

from restoration import progress


class _RecordingLayer:
    """A shared (non in-memory) layer that records where each group_send ran."""

    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        self.sent.append((asyncio.get_running_loop(), threading.current_thread(), message))


def test_events_from_sync_code_share_one_long_lived_loop(monkeypatch):
    layer = _RecordingLayer()
    monkeypatch.setattr(progress, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(progress, "_layer_down_until", float("-inf"))
    monkeypatch.setattr(progress, "_server_loop", None)
    for step in (1, 2, 3):
        progress.publish(7, {"type": "job.progress", "step": step})

    assert [message["step"] for _, _, message in layer.sent] == [1, 2, 3]
    loops = {id(loop) for loop, _, _ in layer.sent}
    threads = {thread for _, thread, _ in layer.sent}
    # Not a new loop (and, with Redis, a new connection) per event, as async_to_sync made.
    assert len(loops) == 1 and len(threads) == 1
    assert threads != {threading.current_thread()}
    assert layer.sent[0][0].is_running()


def _child_publishes(pipe) -> None:
    layer = _RecordingLayer()
    progress.get_channel_layer = lambda: layer
    # The parent's loop is a copy here with no thread running it: an event handed to it
    # would wait out this timeout and be dropped.
    progress.PUBLISH_TIMEOUT = 2
    progress.publish(7, {"type": "job.progress", "step": 1})
    pipe.send([message["step"] for _, _, message in layer.sent])


def test_a_forked_child_publishes_on_a_loop_of_its_own(monkeypatch):
    layer = _RecordingLayer()
    monkeypatch.setattr(progress, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(progress, "_layer_down_until", float("-inf"))
    monkeypatch.setattr(progress, "_server_loop", None)
    progress.publish(7, {"type": "job.progress", "step": 0})
    parent_loop = layer.sent[0][0]

    # A Celery pool child is forked from a worker that may have published already.
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_child_publishes, args=(theirs,))
    child.start()
    assert ours.poll(20), "the child could not publish"
    assert ours.recv() == [1], "the child's event was lost on its parent's loop"
    child.join(10)
    assert child.exitcode == 0
    # The parent's loop carries on.
    progress.publish(7, {"type": "job.progress", "step": 2})
    assert layer.sent[-1][0] is parent_loop
