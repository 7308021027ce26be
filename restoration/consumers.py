"""WebSocket of one restoration job: authorise, send a snapshot, then forward live events."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from restoration import progress, selectors


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """`ws/restoration/jobs/<id>/`: snapshot on connect, then progress and the final event."""

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
        await self.send_json({"type": "snapshot", **state})

    def _visible_state(self) -> dict | None:
        job = selectors.job_for_user(job_id=self.job_id, user=self.scope.get("user"))
        return None if job is None else selectors.job_state(job=job)

    async def disconnect(self, code: int) -> None:
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
        await self.send_json({"type": kind, **message})
