"""Real processes for the integration tests: free ports, servers, a minimal browser."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, *, grace: float = 20) -> None:
    """Stop a process started with start_new_session, and every process of its group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    # The worker forks children: none may outlive the test, even if the leader already exited.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def process(args: list[str], env: dict, log: Path):
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            stop(proc)


def wait_for_port(port: int, proc, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"server did not listen on {port}:\n{log.read_text()[-3000:]}")


class Browser:
    """Just enough of a browser: cookies, CSRF token, form posts, the API with the session."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.cookies if c.name == name)

    def sign_in(self, username: str, password: str) -> None:
        page = self.opener.open(f"{self.base}/accounts/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        self.post("/accounts/login/", {"username": username, "password": password}, token)
        assert self.cookie("sessionid")

    def post(self, path: str, fields: dict, token: str | None = None):
        data = urllib.parse.urlencode(
            {**fields, "csrfmiddlewaretoken": token or self.cookie("csrftoken")}
        ).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data)
        request.add_header("Referer", f"{self.base}{path}")
        return self._open(request)

    def launch(self, *, annotation: int, engine: str, seed: int = 0, **params):
        """POST /api/v1/jobs/ as the signed-in browser (session and CSRF header): (status, body)."""
        body = {"annotation": annotation, "engine": engine, "seed": seed, "params": params}
        request = urllib.request.Request(
            f"{self.base}/api/v1/jobs/", data=json.dumps(body).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        request.add_header("X-CSRFToken", self.cookie("csrftoken"))
        request.add_header("Referer", f"{self.base}/api/v1/jobs/")
        return self._open(request)

    def _open(self, request):
        try:
            response = self.opener.open(request, timeout=60)
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        return response.status, response.read()

    def websocket_headers(self) -> dict:
        return {"Cookie": f"sessionid={self.cookie('sessionid')}", "Origin": self.base}
