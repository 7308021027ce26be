"""WebSocket of one restoration job: authorise, send a snapshot, then forward live events."""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from restoration import progress, selectors
from restoration.models import RestorationJob

logger = logging.getLogger(__name__)

# Seconds between checks of a live socket against the database: the consumer joins its group
# again (a restarted Redis forgot it) and sends a new snapshot when the job moved on without
# an event reaching this socket (published while the layer was down).
RESYNC_INTERVAL = 15.0


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """`ws/restoration/jobs/<id>/`: snapshot on connect, then progress and the final event."""

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
        self.group = progress.group_name(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The database holds the latest state, so a late or reconnecting client catches up.
        await self._snapshot(state)
        self._resync = None
        if state["status"] not in RestorationJob.FINISHED:
            self._resync = asyncio.ensure_future(self._resync_loop())

    def _visible_state(self) -> dict | None:
        job = selectors.job_for_user(job_id=self.job_id, user=self.scope.get("user"))
        return None if job is None else selectors.job_state(job=job)

    async def _snapshot(self, state: dict) -> None:
        self._seen = (state["status"], state["step"])
        await self.send_json({"type": "snapshot", **state})

    async def _resync_loop(self) -> None:
        try:
            while True:
                await asyncio.sleep(RESYNC_INTERVAL)
                await self.channel_layer.group_add(self.group, self.channel_name)
                state = await database_sync_to_async(self._visible_state)()
                if state is None:
                    await self.close(code=4403)
                    return
                status, step = self._seen
                if state["status"] != status or state["step"] > step:
                    await self._snapshot(state)
                if state["status"] in RestorationJob.FINISHED:
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
