"""Request body limits, enforced before a body is read into memory.

Two limits (settings, from the environment):

- `HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES` for requests that carry neither a session cookie nor an
  `Authorization` header: a visitor only ever sends votes and log-in forms;
- `HERITAGE_MAX_REQUEST_BYTES` for everybody else: the largest upload plus room for its form.

Telling "anonymous" apart must cost nothing before the body is read, so it is decided from the
headers alone. A forged cookie only earns the larger limit, which is itself bounded, and bodies
that large stream to temporary files.

They are enforced at three levels, each before the body reaches memory:

1. Daphne (`LimitedWebRequest`): Twisted receives the body into a temporary file before the ASGI
   application runs, and Daphne then puts the whole file into the application's queue at once.
   The subclass refuses a declared or counted oversized body while it arrives (413, the rest is
   discarded unread), and hands large accepted bodies to the application lazily from the file.
2. Any ASGI server (`RequestSizeLimitMiddleware`): checks Content-Length and counts streamed bytes.
3. WSGI servers (`RequestSizeLimitDjangoMiddleware`, first in MIDDLEWARE): checks Content-Length
   before anything reads `wsgi.input`.
"""

import io
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpResponse

# Daphne hands bodies at least this large to the application from their file, chunk by chunk.
LAZY_BODY_THRESHOLD = 256 * 1024
CHUNK_SIZE = 64 * 1024
_SPOOLED_HEADER = b"x-heritage-spooled-body"
# Spooled bodies waiting for their application, by the random token Daphne's request carries.
_spooled_bodies: dict[bytes, object] = {}


def limit_for(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The body limit for a request with these (lower-case name, value) headers."""
    cookie_name = settings.SESSION_COOKIE_NAME.encode("latin-1")
    for name, value in headers:
        if name == b"authorization" and value.strip():
            return settings.HERITAGE_MAX_REQUEST_BYTES
        if name == b"cookie" and _has_cookie(value, cookie_name):
            return settings.HERITAGE_MAX_REQUEST_BYTES
    return settings.HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES


def _has_cookie(header: bytes, name: bytes) -> bool:
    for part in header.split(b";"):
        key, _, value = part.strip().partition(b"=")
        if key == name and value:
            return True
    return False


def refusal_message(limit: int, *, size: int | None = None) -> str:
    anonymous = limit == settings.HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES
    who = "from visitors who are not signed in" if anonymous else "in one request"
    said = f"The request body is {size:,} bytes; " if size is not None else "The request body is "
    if size is None:
        said += "too large; "
    return f"{said}this server accepts at most {limit:,} bytes {who}." + (
        " Sign in to upload files." if anonymous else ""
    )


def _too_large_response_bytes(message: str) -> bytes:
    body = message.encode() + b"\n"
    return (
        b"HTTP/1.1 413 Request Entity Too Large\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: close\r\n\r\n" + body
    )


# --- 1. Daphne -----------------------------------------------------------------------------


def install_daphne_limits() -> None:
    """Make Daphne build `LimitedWebRequest`s (its factory looks the class up per connection)."""
    from daphne import http_protocol

    if not getattr(http_protocol.WebRequest, "_heritage_limited", False):
        http_protocol.WebRequest = _limited_web_request_class(http_protocol.WebRequest)


def _limited_web_request_class(base):
    class LimitedWebRequest(base):
        """Daphne's request: refuses oversized bodies as they arrive, feeds big ones lazily."""

        _heritage_limited = True

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # Twisted parses form and multipart bodies into `args` in memory (about 12 times
            # the body for multipart: 4.3 GB for a 305 MB post); Daphne never uses them.
            self._parsePOSTFormSubmission = False

        # Seconds an oversized body is drained (so the client can read the 413) before closing.
        drain_seconds = 10.0

        def gotLength(self, length):
            self._body_limit = limit_for(
                (name.lower(), value)
                for name, values in self.requestHeaders.getAllRawHeaders()
                for value in values
            )
            self._body_received = 0
            self._refused = False
            if length is not None and length > self._body_limit:
                self._refuse(refusal_message(self._body_limit, size=length))
                # Nothing is kept: the body is counted and dropped as it arrives.
                self.content = io.BytesIO()
                return
            super().gotLength(length)

        def handleContentChunk(self, data):
            if self._refused:
                return
            self._body_received += len(data)
            if self._body_received > self._body_limit:
                self._refuse(refusal_message(self._body_limit))
                self.content.close()
                self.content = io.BytesIO()
                return
            super().handleContentChunk(data)

        def _refuse(self, message: str) -> None:
            self._refused = True
            # No "100 Continue" for a body that will not be read.
            self.requestHeaders.removeHeader(b"Expect")
            transport = self.channel.transport
            transport.write(_too_large_response_bytes(message))
            from twisted.internet import reactor

            # Let the client finish sending (and read the answer), but not for ever.
            self._drain_timer = reactor.callLater(self.drain_seconds, transport.loseConnection)

        def process(self):
            if getattr(self, "_refused", False):
                timer = getattr(self, "_drain_timer", None)
                if timer is not None and timer.active():
                    timer.cancel()
                self.channel.transport.loseConnection()
                return None
            self.requestHeaders.removeHeader(_SPOOLED_HEADER)
            is_upgrade = self.requestHeaders.hasHeader(b"Upgrade")
            if not is_upgrade and getattr(self, "_body_received", 0) >= LAZY_BODY_THRESHOLD:
                # Daphne would queue the whole file as bytes; give the application its file.
                token = secrets.token_hex(16).encode()
                self.content.seek(0)
                _spooled_bodies[token] = self.content
                self._spooled_token = token
                self.content = io.BytesIO()
                self.requestHeaders.setRawHeaders(_SPOOLED_HEADER, [token])
            return super().process()

        def _drop_spooled_body(self) -> None:
            # Normally the middleware took it; not when something else answered the request.
            body = _spooled_bodies.pop(getattr(self, "_spooled_token", None), None)
            if body is not None:
                body.close()

        def finish(self):
            self._drop_spooled_body()
            return super().finish()

        def connectionLost(self, reason):
            self._drop_spooled_body()
            return super().connectionLost(reason)

    return LimitedWebRequest


# --- 2. Any ASGI server ----------------------------------------------------------------------


class RequestSizeLimitMiddleware:
    """ASGI middleware: refuse HTTP bodies over the limit before the application reads them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope.get("headers") or []
        spooled = None
        if any(name == _SPOOLED_HEADER for name, _ in headers):
            token = next(value for name, value in headers if name == _SPOOLED_HEADER)
            headers = [(name, value) for name, value in headers if name != _SPOOLED_HEADER]
            scope = {**scope, "headers": headers}
            spooled = _spooled_bodies.pop(token, None)
        limit = limit_for(headers)
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            if spooled is not None:
                spooled.close()
            return await _send_413(send, refusal_message(limit, size=declared))

        state = {"received": 0, "too_large": False, "started": False}

        if spooled is not None:
            receive = _file_receive(spooled, receive)

        async def counting_receive():
            if state["too_large"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    # The application sees a client that went away; we answer for it.
                    state["too_large"] = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        finally:
            if spooled is not None:
                spooled.close()
        if state["too_large"] and not state["started"]:
            await _send_413(send, refusal_message(limit))


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _file_receive(body_file, receive):
    """A receive() that serves the body from its file, then the server's own messages."""
    state = {"skipped_placeholder": False, "done": False}

    async def file_receive():
        if not state["skipped_placeholder"]:
            # Daphne queued one empty body message for the file it no longer holds.
            state["skipped_placeholder"] = True
            first = await receive()
            if first["type"] != "http.request":
                state["done"] = True
                return first
        if state["done"]:
            return await receive()
        chunk = body_file.read(CHUNK_SIZE)
        more = len(chunk) == CHUNK_SIZE
        if not more:
            state["done"] = True
            body_file.close()
        return {"type": "http.request", "body": chunk, "more_body": more}

    return file_receive


async def _send_413(send, message: str) -> None:
    body = message.encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- 3. WSGI servers -------------------------------------------------------------------------


class RequestSizeLimitDjangoMiddleware:
    """Django middleware (first in MIDDLEWARE): under WSGI the body is still unread here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        headers = []
        if request.META.get("HTTP_AUTHORIZATION"):
            headers.append((b"authorization", request.META["HTTP_AUTHORIZATION"].encode()))
        if request.META.get("HTTP_COOKIE"):
            headers.append((b"cookie", request.META["HTTP_COOKIE"].encode("latin-1", "replace")))
        limit = limit_for(headers)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            response = HttpResponse(
                refusal_message(limit, size=declared) + "\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
            return response
        return self.get_response(request)
