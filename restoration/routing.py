"""WebSocket routes of long jobs: restoration jobs and training runs, one consumer."""

from django.urls import path

from restoration.consumers import TRAINING_RUNS, JobProgressConsumer

websocket_urlpatterns = [
    path("ws/restoration/jobs/<id:job_id>/", JobProgressConsumer.as_asgi()),
    path(
        "ws/restoration/training/<id:job_id>/",
        JobProgressConsumer.as_asgi(watched=TRAINING_RUNS),
    ),
]
