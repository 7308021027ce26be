"""Load on the documented deployment topology, on loopback; writes its tables to docs/benchmarks.md.

Run: .venv/bin/python bench/load.py [--levels 8,32,128] [--seconds 3] [--out docs/benchmarks.md]
Needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres; BENCH_POSTGRES_URL overrides), and
`redis-server` and gunicorn (`pip install -e ".[deploy]"`) installed.

The topology of README's deployment section, every part on this machine:
- a throw-away PostgreSQL database (created and dropped here), each server process with its
  connection pool (HERITAGE_DB_POOL_MAX_SIZE);
- a redis-server of this script's own on a spare port (page cache, throttles, channel layer);
- HTTP on gunicorn, `heritage.wsgi`, as many sync workers as cores, static files by WhiteNoise;
- WebSockets on Daphne, `heritage.asgi`.

Scenarios, each at every level of concurrent clients, each for `--seconds`, closed loop (every
client sends its next request when the answer arrives), one new TCP connection per request:
- static: one WhiteNoise file (the yardstick: the same server's fastest answer);
- pages: the cached visitor pages (home, exhibition list, an exhibition);
- votes: visitors (each its own address and cookies) fetching their next trial and voting;
  every accepted vote is then looked for in the database;
- sockets: browsers watching a job's progress; events are published the way a worker
  publishes them (restoration.progress.publish, through the Redis channel layer), stamped with
  the time they were sent, and timed on arrival in the browser. `--channel-layers pubsub,core`
  measures each layer (HERITAGE_CHANNEL_LAYER) in the same run, on Daphne processes of its own.
Queries per page are counted in process (uncached), for exhibitions of n and 3n items.
The load generator runs on the same cores as the servers: the numbers are a lower bound.
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import write_section  # noqa: E402

MARKER = "<!-- bench/load.py -->"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


# --- processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[:3]} exited:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def _start(
    stack: ExitStack, args: list[str], env: dict, log: Path, pass_fds: tuple = ()
) -> subprocess.Popen:
    out = stack.enter_context(log.open("ab"))
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=pass_fds,
    )

    def stop() -> None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass

    stack.callback(stop)
    return process


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", sql], check=True)


# --- a small HTTP/1.1 client (one connection per request, as gunicorn's sync workers close) ----


async def _http(port: int, method: str, path: str, headers: dict | None = None, body=None):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1]) if head_lines and head_lines[0] else 0
    cookies = {}
    for line in head_lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie":
            key, _, rest = value.strip().partition("=")
            cookies[key] = rest.split(";", 1)[0]
    return status, cookies, payload


class _Results:
    def __init__(self):
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures = 0  # no answer at all (connection refused or reset)

    def add(self, started: float, status: int) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def _closed_loop(clients: int, seconds: float, client_factory) -> tuple[_Results, float]:
    results = _Results()
    deadline = time.perf_counter() + seconds

    async def run(number: int) -> None:
        step = client_factory(number)
        while time.perf_counter() < deadline:
            try:
                await step(results)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                results.failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(number) for number in range(clients)))
    return results, time.perf_counter() - started


def _get_client(port: int, paths: list[str]):
    def factory(number: int):
        counter = {"i": number}

        async def step(results: _Results) -> None:
            path = paths[counter["i"] % len(paths)]
            counter["i"] += 1
            started = time.perf_counter()
            status, _, _ = await _http(port, "GET", path)
            results.add(started, status)

        return step

    return factory


def _voter_client(port: int, slug: str, tally: dict):
    base = f"/api/v1/studies/{slug}"

    def factory(number: int):
        me = {"cookies": {}, "identity": 0}

        def headers() -> dict:
            address = f"10.{number % 250}.{me['identity'] % 250}.{1 + me['identity'] // 250 % 250}"
            # What the proxy in front sets: X-Real-IP (the vote throttles,
            # HERITAGE_CLIENT_IP_HEADER) and X-Forwarded-For (DRF's read throttle).
            out = {"X-Real-IP": address, "X-Forwarded-For": address, "Accept": "application/json"}
            if me["cookies"]:
                out["Cookie"] = "; ".join(f"{k}={v}" for k, v in me["cookies"].items())
            if "csrftoken" in me["cookies"]:
                out["X-CSRFToken"] = me["cookies"]["csrftoken"]
            return out

        async def step(results: _Results) -> None:
            if "csrftoken" not in me["cookies"]:
                started = time.perf_counter()
                status, cookies, _ = await _http(port, "GET", f"{base}/", headers())
                results.add(started, status)
                me["cookies"].update(cookies)
                return
            started = time.perf_counter()
            status, cookies, payload = await _http(port, "GET", f"{base}/next/", headers())
            results.add(started, status)
            me["cookies"].update(cookies)
            if status == 204:  # this visitor has seen every image set: a new visitor comes
                me["cookies"], me["identity"] = {}, me["identity"] + 1
                return
            if status != 200:
                return
            trial = json.loads(payload)
            vote = {
                "trial": trial["trial"],
                "choice": trial["candidates"][0]["token"],
                "shown": [candidate["token"] for candidate in trial["candidates"]],
                "repeat": trial["repeat"],
            }
            started = time.perf_counter()
            status, cookies, _ = await _http(port, "POST", f"{base}/votes/", headers(), vote)
            results.add(started, status)
            me["cookies"].update(cookies)
            if status in (200, 201):
                tally["accepted"] += 1

        return step

    return factory


def _socket_clients(url: str, headers: dict, clients: int, timeout: float, pipe) -> None:
    """The browsers, in a process of their own (its own interpreter and GIL, not the
    publisher's): connect, report ready, then time every progress event until the end mark."""
    import websockets

    async def run() -> tuple[list[float], int]:
        sockets = [
            await websockets.connect(url, additional_headers=headers, max_size=None)
            for _ in range(clients)
        ]
        for sock in sockets:
            first = json.loads(await asyncio.wait_for(sock.recv(), 20))
            assert first["type"] == "snapshot", first
        latencies: list[float] = []

        async def listen(sock) -> None:
            async for raw in sock:
                arrived = time.time()
                message = json.loads(raw)
                if message.get("type") != "progress" or "sent_at" not in message:
                    continue
                if message.get("bench_end"):
                    return
                latencies.append(arrived - message["sent_at"])

        pipe.send("ready")
        try:
            await asyncio.wait_for(asyncio.gather(*(listen(sock) for sock in sockets)), timeout)
        except TimeoutError:
            pass  # the events that did not arrive are counted as missed
        for sock in sockets:
            await sock.close()
        return latencies

    pipe.send(asyncio.run(run()))


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _sockets(ws_port: int, job_id: int, session: str, clients: int, seconds: float, watch: dict):
    """Browsers on a job's socket; events published as a worker does; latency on arrival.

    The browsers run in a separate process, so the publisher (this process) and the clients do
    not share one interpreter; `watch` maps a name to the pids whose CPU time is reported."""
    import multiprocessing

    from restoration import progress

    url = f"ws://127.0.0.1:{ws_port}/ws/restoration/jobs/{job_id}/"
    headers = {"Cookie": f"sessionid={session}", "Origin": f"http://127.0.0.1:{ws_port}"}
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    browsers = context.Process(
        target=_socket_clients, args=(url, headers, clients, seconds + 15, theirs), daemon=True
    )
    browsers.start()
    try:
        if not ours.poll(60):
            raise SystemExit("the socket clients did not connect within 60 s")
        assert ours.recv() == "ready"
        watch = {**watch, "browsers": [browsers.pid]}
        cpu_before = {name: _cpu_seconds(pids) for name, pids in watch.items()}
        started = time.monotonic()

        def event(step: int, **extra) -> dict:
            return {
                "type": "job.progress",
                "job": job_id,
                "status": "running",
                "step": step,
                "total": 1_000_000,
                "eta": None,
                "sent_at": time.time(),
                **extra,
            }

        # What a worker's progress reporter does, 20 events a second, on a steady clock.
        published, deadline = 0, started + seconds
        while (due := started + published * 0.05) < deadline:
            time.sleep(max(0.0, due - time.monotonic()))
            published += 1
            progress.publish(job_id, event(published))
        progress.publish(job_id, event(published + 1, bench_end=True))
        if not ours.poll(seconds + 30):
            raise SystemExit("the socket clients did not finish")
        latencies = ours.recv()
        elapsed = time.monotonic() - started
        cpu = {
            name: (_cpu_seconds(pids) - cpu_before[name]) / elapsed * 100
            for name, pids in watch.items()
        }
    finally:
        browsers.join(10)
        if browsers.is_alive():
            browsers.kill()
    return latencies, published * clients, len(latencies), cpu


# --- reporting ---------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _row(level, name, results: _Results, elapsed: float, extra: str = "") -> tuple[list, dict]:
    total = sum(results.statuses.values())
    server_errors = sum(n for status, n in results.statuses.items() if status >= 500)
    throttled = results.statuses.get(429, 0)
    other = (
        sum(n for status, n in results.statuses.items() if status >= 400 and status not in (429,))
        - server_errors
    )
    row = [
        level,
        name,
        total,
        f"{total / elapsed:.0f}",
        f"{_pct(results.latencies, 0.50):.1f}",
        f"{_pct(results.latencies, 0.95):.1f}",
        f"{_pct(results.latencies, 0.99):.1f}",
        server_errors,
        results.failures,
        other,
        throttled,
        extra,
    ]
    return row, {
        "rate": total / elapsed,
        "p99": _pct(results.latencies, 0.99),
        "5xx": server_errors,
    }


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="8,32,128")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--ws-workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="Daphne processes sharing the WebSocket port (default: as many as cores)",
    )
    parser.add_argument(
        "--channel-layers",
        default="pubsub",
        help="Redis channel layers (HERITAGE_CHANNEL_LAYER) for the progress scenario, "
        "comma-separated: each gets Daphne processes of its own; the first serves the rest",
    )
    parser.add_argument(
        "--only",
        choices=["progress"],
        help="run only this scenario; its table in --out is replaced, the rest kept",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    args.layers = args.channel_layers.split(",")
    if not set(args.layers) <= {"pubsub", "core"} or len(set(args.layers)) != len(args.layers):
        raise SystemExit("--channel-layers: pubsub and/or core, each once")
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed")

    database = f"heritage_bench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="heritage-load-"))
    redis_port, http_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
        "DATABASE_URL": f"{POSTGRES}/{database}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "HERITAGE_VAR_DIR": str(tmp / "var"),
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"),
        "HERITAGE_CLIENT_IP_HEADER": "HTTP_X_REAL_IP",
        "HERITAGE_DEMO_PASSWORD": secrets.token_urlsafe(16),
        "LOG_LEVEL": "WARNING",
        "HERITAGE_CHANNEL_LAYER": args.layers[0],
    }
    manage = [sys.executable, "manage.py"]
    _psql(f"CREATE DATABASE {database}")
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, True)
        stack.callback(_psql, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        redis_log = tmp / "redis.log"
        tmp.joinpath("redis").mkdir()
        redis = _start(
            stack,
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(tmp / "redis")],
            env,
            redis_log,
        )
        _wait_for_port(redis_port, redis, redis_log)
        print("setting up (migrate, collectstatic, seed_demo, seed_gallery)...", flush=True)
        for command in (
            ["migrate", "--noinput", "-v", "0"],
            ["collectstatic", "--noinput", "-v", "0"],
            ["seed_demo", "--motifs", "4"],
            ["seed_gallery"],
        ):
            subprocess.run(manage + command, cwd=ROOT, env=env, check=True, capture_output=True)

        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "heritage.settings"
        import django

        django.setup()
        fixtures = _fixtures()
        queries = None if args.only else _queries_per_page(fixtures)

        gunicorn_log, daphne_log = tmp / "gunicorn.log", tmp / "daphne.log"
        gunicorn = _start(
            stack,
            [sys.executable, "-m", "gunicorn", "heritage.wsgi:application"]
            + ["--workers", str(args.workers), "--bind", f"127.0.0.1:{http_port}"]
            + ["--backlog", "2048", "--log-level", "warning"],
            env,
            gunicorn_log,
        )
        # As many Daphne processes as cores on one listening socket (what a process manager's
        # shared socket, e.g. supervisor's fcgi-program or systemd socket activation, gives
        # them): the kernel hands each new WebSocket to one of them. One such set per
        # channel layer measured.
        ws_ports, watches = {}, {}
        for layer in args.layers:
            listener = stack.enter_context(socket.socket())
            listener.bind(("127.0.0.1", 0))
            listener.listen(2048)
            ws_ports[layer] = listener.getsockname()[1]
            # Each also listens on a port of its own, only to tell when it is up.
            probes = [_free_port() for _ in range(args.ws_workers)]
            daphnes = [
                _start(
                    stack,
                    [sys.executable, "-m", "daphne", "--fd", str(listener.fileno())]
                    + ["-e", f"tcp:port={probe}:interface=127.0.0.1"]
                    + ["heritage.asgi:application"],
                    {**env, "HERITAGE_CHANNEL_LAYER": layer},
                    daphne_log,
                    pass_fds=(listener.fileno(),),
                )
                for probe in probes
            ]
            for probe, daphne in zip(probes, daphnes, strict=True):
                _wait_for_port(probe, daphne, daphne_log)
            watches[layer] = {
                "Daphne": [daphne.pid for daphne in daphnes],
                "redis": [redis.pid],
                "publisher": [os.getpid()],
            }
        _wait_for_port(http_port, gunicorn, gunicorn_log)
        # Other work on the machine shows in every number: the load it put on the cores.
        args.load = [os.getloadavg()[0]]
        rows, socket_rows, summary = asyncio.run(
            _drive(http_port, ws_ports, fixtures, levels, args, watches)
        )
        args.load.append(os.getloadavg()[0])
        errors_in_logs = [
            line
            for line in (gunicorn_log.read_text() + daphne_log.read_text()).splitlines()
            if "Traceback" in line or "Internal Server Error" in line
        ]
    _write(args, levels, rows, socket_rows, summary, queries, errors_in_logs)


def _fixtures() -> dict:
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.test import Client
    from django.utils import timezone

    from gallery.models import Exhibition, UserStudy
    from heritage.models import DamageAnnotation, User
    from restoration.models import RestorationJob

    exhibition = Exhibition.objects.filter(status="published").first() or Exhibition.objects.first()
    study = UserStudy.objects.filter(status="open").first()
    curator = User.objects.filter(role="curator").first()
    annotation = DamageAnnotation.objects.select_related("motif").first()
    job = RestorationJob.objects.create(
        motif=annotation.motif,
        annotation=annotation,
        engine="telea",
        status=RestorationJob.Status.RUNNING,
        requested_by=curator,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(curator)
    return {
        "static": "/static/" + staticfiles_storage.stored_name("css/app.css"),
        "pages": ["/", "/exhibitions/", f"/exhibitions/{exhibition.slug}/"],
        "exhibition": exhibition,
        "study": study,
        "job": job.pk,
        "session": browser.cookies["sessionid"].value,
        "curator": curator,
    }


def _queries_per_page(fixtures: dict) -> list[list]:
    """Database queries of each visitor page, uncached, for n and then 3n exhibited items."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from gallery.models import Exhibition
    from gallery.services import exhibitions as services
    from heritage.models import Motif

    def count(path: str) -> int:
        cache.clear()  # this script's own redis-server
        with CaptureQueriesContext(connection) as captured:
            response = Client(HTTP_HOST="127.0.0.1").get(path)
        assert response.status_code == 200, (path, response.status_code)
        return len(captured.captured_queries)

    exhibition = fixtures["exhibition"]
    paths = {
        "home": "/",
        "exhibition list": "/exhibitions/",
        "exhibition": f"/exhibitions/{exhibition.slug}/",
    }
    before_items = exhibition.entries.count() if hasattr(exhibition, "entries") else None
    before = {name: count(path) for name, path in paths.items()}
    before_exhibitions = Exhibition.objects.filter(status="published").count()
    # Grow: two more published exhibitions, and the measured one twice as long.
    curator = fixtures["curator"]
    motifs = list(Motif.objects.all()[:6])
    for number in range(2):
        extra = services.exhibition_create(created_by=curator, title=f"Load bench {number}")
        for motif in motifs:
            services.exhibition_entry_add(exhibition=extra, user=curator, motif=motif)
        services.exhibition_publish(exhibition=extra, user=curator)
    grown = Exhibition.objects.get(title="Load bench 0")
    paths_after = {**paths, "exhibition": f"/exhibitions/{grown.slug}/"}
    after = {name: count(path) for name, path in paths_after.items()}
    after_items = grown.entries.count() if hasattr(grown, "entries") else None
    after_exhibitions = Exhibition.objects.filter(status="published").count()
    return [
        [
            name,
            before[name],
            after[name],
            (
                f"{before_items} -> {after_items} works"
                if name == "exhibition"
                else f"{before_exhibitions} -> {after_exhibitions} exhibitions"
            ),
        ]
        for name in paths
    ]


async def _drive(http_port: int, ws_ports: dict, fixtures: dict, levels: list[int], args, watches):
    from django.conf import settings
    from django.test import override_settings

    seconds = args.seconds
    # Warm the page cache and every worker's imports.
    for _ in range(8):
        for path in fixtures["pages"] + [fixtures["static"]]:
            await _http(http_port, "GET", path)
    rows, socket_rows, summary = [], [], {}
    for level in levels:
        print(f"{level} clients...", flush=True)
        summary[level] = (
            {}
            if args.only
            else await _http_scenarios(
                http_port, ws_ports[args.layers[0]], fixtures, level, seconds, rows, args.ws_workers
            )
        )
        for layer in args.layers:
            # This process publishes through the same layer as the Daphne processes it drives.
            config = settings.CHANNEL_LAYERS["default"]
            backend = settings.CHANNEL_LAYER_BACKENDS[layer]
            with override_settings(CHANNEL_LAYERS={"default": {**config, "BACKEND": backend}}):
                latencies, expected, received, cpu = await asyncio.to_thread(
                    _sockets,
                    ws_ports[layer],
                    fixtures["job"],
                    fixtures["session"],
                    level,
                    seconds,
                    watches[layer],
                )
            socket_rows.append(
                [
                    level,
                    layer,
                    expected,
                    received,
                    expected - received,
                    f"{_pct(latencies, 0.50):.1f}",
                    f"{_pct(latencies, 0.95):.1f}",
                    f"{_pct(latencies, 0.99):.1f}",
                    ", ".join(f"{name} {share:.0f}%" for name, share in cpu.items()),
                ]
            )
            if layer == args.layers[0]:
                summary[level]["ws_p95"] = _pct(latencies, 0.95)
                summary[level]["ws_missed"] = expected - received
    return rows, socket_rows, summary


async def _http_scenarios(http_port, ws_port, fixtures, level, seconds, rows, ws_workers) -> dict:
    from asgiref.sync import sync_to_async

    from gallery.models import StudyVote

    study = fixtures["study"]
    results, elapsed = await _closed_loop(
        level, seconds, _get_client(http_port, [fixtures["static"]])
    )
    row, static = _row(level, "static file (WhiteNoise)", results, elapsed)
    rows.append(row)
    results, elapsed = await _closed_loop(level, seconds, _get_client(http_port, fixtures["pages"]))
    ratio = (sum(results.statuses.values()) / elapsed) / static["rate"]
    row, pages = _row(
        level, "cached visitor pages", results, elapsed, f"{ratio:.2f} of static rate"
    )
    rows.append(row)
    if level == 32:
        # The same pages from the Daphne processes (the embedded default serves HTTP on
        # one), for scale.
        results, elapsed = await _closed_loop(
            level, seconds, _get_client(ws_port, fixtures["pages"])
        )
        daphne_ratio = (sum(results.statuses.values()) / elapsed) / static["rate"]
        rows.append(
            _row(
                level,
                f"cached visitor pages, {ws_workers} Daphne processes instead (for scale)",
                results,
                elapsed,
                f"{daphne_ratio:.2f} of gunicorn's static rate",
            )[0]
        )
    count_votes = sync_to_async(
        lambda: StudyVote.objects.filter(trial__study=study).count(), thread_sensitive=False
    )
    votes_before = await count_votes()
    tally = {"accepted": 0}
    results, elapsed = await _closed_loop(
        level, seconds, _voter_client(http_port, study.slug, tally)
    )
    stored = await count_votes() - votes_before
    row, votes = _row(
        level,
        "study visitors (trial + vote)",
        results,
        elapsed,
        f"{tally['accepted']} votes accepted, {stored} stored, {tally['accepted'] - stored} lost",
    )
    rows.append(row)
    return {
        "ratio": ratio,
        "pages_p99": pages["p99"],
        "5xx": static["5xx"] + pages["5xx"] + votes["5xx"],
        "lost": tally["accepted"] - stored,
    }


PROGRESS_START = "Job progress: "
PROGRESS_END = "Database queries per visitor page"


def _progress_block(args, socket_rows) -> str:
    """The job-progress paragraph and table, from PROGRESS_START up to PROGRESS_END."""
    layers = {
        "pubsub": "`pubsub` = heritage.channel_layers.RedisPubSubLayer (Redis pub/sub: one "
        "message per Daphne process and event, the default)",
        "core": "`core` = channels_redis.core.RedisChannelLayer (one Redis list message per "
        "watching socket and event)",
    }
    return "\n".join(
        [
            PROGRESS_START + "events published as a worker publishes them (restoration."
            "progress.publish, from one long-lived event loop -> Redis channel layer -> Daphne "
            f"consumer), 20 a second for {args.seconds:g} s, to every browser watching the "
            "job; latency = arrival in the browser - time stamped at publish. Channel layer "
            f"(HERITAGE_CHANNEL_LAYER): {'; '.join(layers[layer] for layer in args.layers)}. "
            "WebSockets on "
            f"{args.ws_workers} Daphne processes sharing one listening socket (`daphne --fd`)"
            + (
                ", a set per layer, measured one after the other at each level"
                if len(args.layers) > 1
                else ""
            )
            + "; the browsers (Python `websockets` clients) run in a process of their own, the "
            "publisher in the script's. 'CPU' = CPU time of each part / wall time (100% = one "
            f"core). Load average (1 min) {args.load[0]:.1f} when the measurements began and "
            f"{args.load[1]:.1f} when they ended, on {len(os.sched_getaffinity(0))} cores.",
            "",
            _table(
                [
                    "sockets",
                    "layer",
                    "events due",
                    "received",
                    "missed",
                    "p50",
                    "p95",
                    "p99",
                    "CPU",
                ],
                socket_rows,
            ),
            "",
            "",
        ]
    )


def _progress_verdict(summary) -> tuple[str, str, bool]:
    return (
        "progress events p95 < 100 ms (every level)",
        ", ".join(f"{v['ws_p95']:.0f} ms" for v in summary.values()),
        all(v["ws_p95"] < 100 for v in summary.values()),
    )


def _write_progress_only(args, socket_rows, summary) -> None:
    """--only progress: replace the progress table and its target row, keep the rest."""
    existing = args.out.read_text() if args.out.exists() else ""
    block = _progress_block(args, socket_rows)
    if MARKER not in existing or PROGRESS_START not in existing.split(MARKER, 1)[1]:
        write_section(args.out, marker=MARKER, section=f"{MARKER}\n{block}")
        print(block)
        return
    before, section = existing.split(MARKER, 1)
    head, rest = section.split(PROGRESS_START, 1)
    tail = rest[rest.find(PROGRESS_END) :] if PROGRESS_END in rest else ""
    target, measured, met = _progress_verdict(summary)
    lines = []
    for line in (head + block + tail).split("\n"):
        if line.startswith(f"| {target} |"):
            line = f"| {target} | {measured} | {'yes' if met else '**no**'} |"
        lines.append(line)
    args.out.write_text(before + MARKER + "\n".join(lines))
    print(block)


def _write(args, levels, rows, socket_rows, summary, queries, errors_in_logs) -> None:
    if args.only:
        _write_progress_only(args, socket_rows, summary)
        return
    check = 32 if 32 in summary else levels[0]
    s = summary[check]
    verdicts = [
        (
            f"cached pages >= 0.5 of the static rate at {check} clients",
            f"{s['ratio']:.2f}",
            s["ratio"] >= 0.5,
        ),
        (
            f"cached pages p99 < 100 ms at {check} clients",
            f"{s['pages_p99']:.0f} ms",
            s["pages_p99"] < 100,
        ),
        (
            "zero 5xx at every level",
            str(sum(v["5xx"] for v in summary.values())),
            all(v["5xx"] == 0 for v in summary.values()),
        ),
        (
            "zero lost votes at every level",
            str(sum(v["lost"] for v in summary.values())),
            all(v["lost"] == 0 for v in summary.values()),
        ),
        _progress_verdict(summary),
    ]
    cores = len(os.sched_getaffinity(0))
    section = "\n".join(
        [
            MARKER,
            "## Deployment load (bench/load.py)",
            "",
            f"`python bench/load.py --levels {args.levels} --seconds {args.seconds:g}` on "
            f"{platform.machine()} with {cores} cores shared with the load generator (and, when "
            "this was run, with other jobs on the machine), one run. PostgreSQL with a "
            "connection pool per process, a redis-server of the script's own, HTTP on gunicorn "
            f"({args.workers} sync workers, `heritage.wsgi`, DEBUG off, WhiteNoise), WebSockets "
            f"on {args.ws_workers} Daphne processes. Closed loop, one TCP connection per "
            "request, each level for "
            f"{args.seconds:g} s. Latencies in ms. 'refused' = connections with no answer; "
            "'4xx' excludes 429 (throttled).",
            "",
            _table(
                [
                    "clients",
                    "scenario",
                    "requests",
                    "req/s",
                    "p50",
                    "p95",
                    "p99",
                    "5xx",
                    "refused",
                    "4xx",
                    "429",
                    "notes",
                ],
                rows,
            ),
            "",
            _progress_block(args, socket_rows)
            + "Database queries per visitor page (uncached; constant when the number of items "
            "grows):",
            "",
            _table(["page", "queries (n items)", "queries (more items)", "items"], queries),
            "",
            "Targets:",
            "",
            _table(
                ["target", "measured", "met"],
                [[t, m, "yes" if ok else "**no**"] for t, m, ok in verdicts],
            ),
            "",
            f"Tracebacks or server errors in the servers' logs: {len(errors_in_logs)}.",
            "",
        ]
    )
    write_section(args.out, marker=MARKER, section=section)
    print(section)


if __name__ == "__main__":
    main()
