"""ASGI entry point: HTTP and WebSocket on one server."""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heritage.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from heritage.limits import RequestSizeLimitMiddleware, install_daphne_limits  # noqa: E402
from heritage.routing import websocket_urlpatterns  # noqa: E402
from restoration import embedded  # noqa: E402
from restoration.progress import remember_server_loop  # noqa: E402

# Oversized request bodies are refused before they are read into memory (heritage.limits).
install_daphne_limits()
# Embedded mode: the job runner's sweep recovers jobs on a schedule from server start.
embedded.start()

router = ProtocolTypeRouter(
    {
        "http": RequestSizeLimitMiddleware(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)


async def application(scope, receive, send):
    # Embedded jobs run in threads and publish progress through this loop's channel layer.
    remember_server_loop(asyncio.get_running_loop())
    return await router(scope, receive, send)
