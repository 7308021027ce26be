"""WebSocket routes of restoration jobs."""

from django.urls import path

from restoration.consumers import JobProgressConsumer

websocket_urlpatterns = [
    path("ws/restoration/jobs/<id:job_id>/", JobProgressConsumer.as_asgi()),
]
