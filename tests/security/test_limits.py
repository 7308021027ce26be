"""Large requests cannot exhaust the server's memory.

A real Daphne subprocess receives 300 MB requests (anonymous with Content-Length, anonymous
chunked, and a signed-in-looking one that is accepted and streams to disk); its peak resident
memory (VmHWM) must stay under 200 MB above its idle size. The middlewares are also checked
in process, and a small PNG declaring 144 megapixels is refused as a decompression bomb.
"""

import asyncio
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from django.test import RequestFactory

from heritage import imaging, limits

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
BODY_SIZE = 300 * MB
HEADROOM = 200 * MB


# --- a real Daphne process -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture(scope="module")
def daphne_server(tmp_path_factory):
    var = tmp_path_factory.mktemp("limits-var")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(HERITAGE_VAR_DIR=str(var), DEBUG="true", PYTHONUNBUFFERED="1")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    port = _free_port()
    log = var / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["heritage.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"daphne exited:\n{log.read_text()[-3000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"daphne did not listen:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        # Warm up the code paths (templates, session engine) so "idle" means ready to serve.
        _request(port, "POST", "/", [("Content-Type", "text/plain")], _body_chunks(10))
        yield process, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _body_chunks(total: int, chunk: bytes = b"\0" * MB):
    sent = 0
    while sent < total:
        piece = chunk[: min(len(chunk), total - sent)]
        sent += len(piece)
        yield piece


def _request(port, method, path, headers, chunks, *, chunked=False, length=None):
    """Send a request as a client would, keep sending even after an early answer; read it."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        head += [f"{name}: {value}" for name, value in headers]
        if chunked:
            head.append("Transfer-Encoding: chunked")
        elif length is not None:
            head.append(f"Content-Length: {length}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for piece in chunks:
                if chunked:
                    sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    sock.sendall(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed early; its answer is already here
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not _complete(answer):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1."), answer[:300]
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode(errors="replace")


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _multipart(total: int, boundary: str = "heritageboundary"):
    """A multipart body of `total` bytes carrying one file, generated without holding it."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="original"; '
        f'filename="mural.tif"\r\nContent-Type: image/tiff\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    yield head
    yield from _body_chunks(total - len(head) - len(tail))
    yield tail


def _assert_peak_under_headroom(process, idle):
    peak = _kib(process.pid, "VmHWM")
    assert peak - idle < HEADROOM, (
        f"daphne peaked at {peak / MB:.0f} MB, {(peak - idle) / MB:.0f} MB above its idle "
        f"{idle / MB:.0f} MB"
    )


def test_anonymous_300_mb_post_is_refused_before_it_is_read(daphne_server):
    process, port = daphne_server
    idle = _kib(process.pid, "VmRSS")
    status, body = _request(
        port,
        "POST",
        "/",
        [("Content-Type", "multipart/form-data; boundary=heritageboundary")],
        _multipart(BODY_SIZE),
        length=BODY_SIZE,
    )
    assert status == 413
    assert "not signed in" in body and f"{BODY_SIZE:,}" in body
    _assert_peak_under_headroom(process, idle)


def test_anonymous_chunked_300_mb_post_is_counted_and_refused(daphne_server):
    process, port = daphne_server
    idle = _kib(process.pid, "VmRSS")
    status, body = _request(
        port,
        "POST",
        "/",
        [("Content-Type", "application/octet-stream")],
        _body_chunks(BODY_SIZE),
        chunked=True,
    )
    assert status == 413
    assert "too large" in body
    _assert_peak_under_headroom(process, idle)


def test_signed_in_300_mb_upload_streams_to_disk(daphne_server, settings):
    """With a session cookie the larger limit applies: the body is accepted and never held."""
    process, port = daphne_server
    idle = _kib(process.pid, "VmRSS")
    size = 290 * MB
    status, _ = _request(
        port,
        "POST",
        "/motifs/upload/",
        [
            ("Content-Type", "multipart/form-data; boundary=heritageboundary"),
            ("Cookie", "sessionid=not-a-real-session"),
        ],
        _multipart(size),
        length=size,
    )
    # The forged session signs nobody in: CSRF refuses the post after reading the form.
    assert status in {302, 403}
    _assert_peak_under_headroom(process, idle)


def test_signed_in_body_over_the_upload_limit_is_refused(daphne_server, settings):
    process, port = daphne_server
    size = settings.HERITAGE_MAX_REQUEST_BYTES + 1
    status, body = _request(
        port,
        "POST",
        "/motifs/upload/",
        [("Content-Type", "application/octet-stream"), ("Cookie", "sessionid=x")],
        _body_chunks(size),
        length=size,
    )
    assert status == 413
    assert f"at most {settings.HERITAGE_MAX_REQUEST_BYTES:,} bytes" in body


def test_small_anonymous_posts_still_reach_the_application(daphne_server):
    _, port = daphne_server
    status, _ = _request(
        port, "POST", "/", [("Content-Type", "text/plain")], [b"x" * 5000], length=5000
    )
    assert status == 403  # CSRF, answered by Django: the body got through


# --- the middlewares in process --------------------------------------------------------------


def _run_asgi(app, headers, bodies):
    messages = [
        {"type": "http.request", "body": b, "more_body": i < len(bodies) - 1}
        for i, b in enumerate(bodies)
    ]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(limits.RequestSizeLimitMiddleware(app)(scope, receive, send))
    return sent


async def _reading_app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def test_asgi_middleware_refuses_a_declared_length_without_calling_the_app(settings):
    settings.HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES = 1000

    async def app(scope, receive, send):  # pragma: no cover - must not run
        raise AssertionError("the application was called")

    sent = _run_asgi(app, [(b"content-length", b"1001")], [b"x" * 1001])
    assert sent[0]["status"] == 413
    assert b"at most 1,000 bytes" in sent[1]["body"]


def test_asgi_middleware_counts_streamed_bytes(settings):
    settings.HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES = 1000
    sent = _run_asgi(_reading_app, [], [b"x" * 600, b"x" * 600])
    assert sent[0]["status"] == 413
    ok = _run_asgi(_reading_app, [], [b"x" * 400, b"x" * 400])
    assert ok[0]["status"] == 200 and ok[1]["body"] == b"800"


def test_asgi_middleware_gives_signed_in_requests_the_upload_limit(settings):
    settings.HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES = 1000
    settings.HERITAGE_MAX_REQUEST_BYTES = 5000
    cookie = [(b"cookie", b"csrftoken=a; sessionid=abc")]
    assert _run_asgi(_reading_app, cookie, [b"x" * 4000])[0]["status"] == 200
    assert _run_asgi(_reading_app, cookie, [b"x" * 6000])[0]["status"] == 413
    token = [(b"authorization", b"Token abc")]
    assert _run_asgi(_reading_app, token, [b"x" * 4000])[0]["status"] == 200
    # A csrftoken cookie alone is not a session.
    csrf_only = [(b"cookie", b"csrftoken=a")]
    assert _run_asgi(_reading_app, csrf_only, [b"x" * 4000])[0]["status"] == 413


def test_django_middleware_refuses_before_the_body_is_read(settings):
    settings.HERITAGE_MAX_ANONYMOUS_REQUEST_BYTES = 1000
    request = RequestFactory().post("/", data=b"x" * 2000, content_type="application/octet-stream")

    def view(_request):  # pragma: no cover - must not run
        raise AssertionError("the view was called")

    response = limits.RequestSizeLimitDjangoMiddleware(view)(request)
    assert response.status_code == 413
    assert "at most 1,000 bytes" in response.content.decode()


def test_uploads_stream_to_temporary_files(settings):
    from django.core.files.uploadhandler import TemporaryFileUploadHandler
    from django.utils.module_loading import import_string

    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 2.5 * MB
    handlers = [import_string(path) for path in settings.FILE_UPLOAD_HANDLERS]
    assert any(issubclass(handler, TemporaryFileUploadHandler) for handler in handlers)


# --- decompression bombs under the pixel limit --------------------------------------------------


def _flat_png(width: int, height: int) -> bytes:
    """A greyscale PNG of zeros, compressed row by row (never held decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    compressor = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_small_png_declaring_144_megapixels_is_refused_below_the_pixel_limit():
    bomb = _flat_png(12_000, 12_000)
    assert len(bomb) < 200_000  # about 140 KB, as reported
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.inspect(io.BytesIO(bomb), max_pixels=150_000_000)
    assert "decompression bomb" in str(refused.value)
    assert "12000x12000" in str(refused.value)


def test_ordinary_photographs_pass_the_bomb_check():
    from tests import factories

    photo = factories.jpeg_bytes(1800, 1400)  # 2.5 MP of texture
    inspected = imaging.inspect(io.BytesIO(photo), max_pixels=150_000_000)
    assert (inspected.width, inspected.height) == (1800, 1400)
