"""WebSocket routes of every app; apps add theirs here as they gain live views."""

websocket_urlpatterns: list = []
