"""WebSocket of one long job: authorise, send a snapshot, then forward live events.

One consumer for every kind of job (restoration jobs, training runs): what differs is the
`Watched` it is given in the routing, i.e. how to read the job's state and its channel group.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from restoration import progress, selectors, training_selectors
from restoration.models import RestorationJob, TrainingRun

logger = logging.getLogger(__name__)

# Seconds between checks of a live socket against the database: the consumer joins its group
# again (a restarted Redis forgot it) and sends a new snapshot when the job moved on without
# an event reaching this socket (published while the layer was down) or, pending, moved up
# the queue.
RESYNC_INTERVAL = 15.0
# While the job is pending, its place in the queue is checked this often (one count query).
PENDING_RESYNC_INTERVAL = 3.0


@dataclass(frozen=True)
class Watched:
    """A kind of job a socket can watch: its group kind and its state as the user may see it."""

    kind: str
    # (job_id, user) -> the snapshot's fields, or None when the user may not see the job.
    visible_state: Callable[[int, object], dict | None]
    finished: tuple[str, ...]


def _job_state(job_id: int, user) -> dict | None:
    job = selectors.job_for_user(job_id=job_id, user=user)
    return None if job is None else selectors.job_state(job=job)


def _training_state(run_id: int, user) -> dict | None:
    run = training_selectors.training_run_for_user(run_id=run_id, user=user)
    return None if run is None else training_selectors.training_run_state(run=run)


RESTORATION_JOBS = Watched("job", _job_state, RestorationJob.FINISHED)
TRAINING_RUNS = Watched("training", _training_state, TrainingRun.FINISHED)


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """`ws/restoration/jobs/<id>/` (and `ws/restoration/training/<id>/` with
    watched=TRAINING_RUNS): snapshot on connect, then progress and the final event."""

    watched: Watched = RESTORATION_JOBS

    def __init__(self, *args, watched: Watched | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if watched is not None:
            self.watched = watched

    async def __call__(self, scope, receive, send):
        try:
            return await super().__call__(scope, receive, send)
        finally:
            # Also when the consumer dies (its channel layer failed): no loop outlives it.
            if getattr(self, "_resync", None) is not None:
                self._resync.cancel()

    async def connect(self) -> None:
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        state = await database_sync_to_async(self._visible_state)()
        if state is None:
            await self.close(code=4403)
            return
        self.group = progress.group_name(self.job_id, kind=self.watched.kind)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The database holds the latest state, so a late or reconnecting client catches up.
        await self._snapshot(state)
        self._resync = None
        if state["status"] not in self.watched.finished:
            self._resync = asyncio.ensure_future(self._resync_loop())

    def _visible_state(self) -> dict | None:
        return self.watched.visible_state(self.job_id, self.scope.get("user"))

    async def _snapshot(self, state: dict) -> None:
        self._seen = (state["status"], state["step"])
        self._ahead = state.get("ahead")
        await self.send_json({"type": "snapshot", **state})

    async def _resync_loop(self) -> None:
        try:
            while True:
                pending = self._seen[0] == RestorationJob.Status.PENDING
                await asyncio.sleep(
                    min(RESYNC_INTERVAL, PENDING_RESYNC_INTERVAL) if pending else RESYNC_INTERVAL
                )
                await self.channel_layer.group_add(self.group, self.channel_name)
                state = await database_sync_to_async(self._visible_state)()
                if state is None:
                    await self.close(code=4403)
                    return
                status, step = self._seen
                # A pending job moves up the queue as the jobs ahead of it end.
                moved_up = state.get("ahead") != self._ahead
                if state["status"] != status or state["step"] > step or moved_up:
                    await self._snapshot(state)
                if state["status"] in self.watched.finished:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # The layer or the socket is gone; the client reconnects and gets a snapshot.
            logger.warning("job %s socket: resync stopped", self.job_id, exc_info=True)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "_resync", None) is not None:
            self._resync.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every handler, in a worker thread
        # (one thread for the whole server): per job event, to every watcher, that hop was most
        # of a fan-out's cost and queued events behind each other. The job events' handlers
        # never touch the database (reads go through database_sync_to_async, which closes
        # them itself), so they run straight away; the socket's own events take Channels' path.
        if message["type"].startswith("job."):
            handler = getattr(self, get_handler_name(message), None)
            if handler is not None:
                await handler(message)
                return
        await super().dispatch(message)

    async def layer_reconnected(self, event: dict) -> None:
        # This process's channel layer lost Redis and has it back (heritage.channel_layers):
        # events published meanwhile are gone, so the state comes from the database again.
        if not hasattr(self, "group"):
            return  # not connected yet: connect sends the snapshot
        state = await database_sync_to_async(self._visible_state)()
        if state is None:
            await self.close(code=4403)
            return
        await self._snapshot(state)

    async def receive_json(self, content, **kwargs) -> None:
        # The socket is one-way; commands (cancel) go through HTTP with CSRF protection.
        pass

    async def job_progress(self, event: dict) -> None:
        await self._forward("progress", event)

    async def job_finished(self, event: dict) -> None:
        await self._forward("finished", event)

    async def job_failed(self, event: dict) -> None:
        await self._forward("failed", event)

    async def job_cancelled(self, event: dict) -> None:
        await self._forward("cancelled", event)

    async def _forward(self, kind: str, event: dict) -> None:
        message = {key: value for key, value in event.items() if key != "type"}
        status = message.get("status", self._seen[0])
        self._seen = (status, message.get("step", self._seen[1]) or 0)
        await self.send_json({"type": kind, **message})
