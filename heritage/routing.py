"""WebSocket routes of every app."""

from restoration.routing import websocket_urlpatterns as restoration_routes

websocket_urlpatterns = [*restoration_routes]
