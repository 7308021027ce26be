"""Embedded runner: jobs run in a thread of the server process when no broker is configured.

The server starts it (heritage.asgi): one job thread, and a sweep thread that recovers jobs of
an earlier server process and sends again pending jobs that lost their turn.
"""

import atexit
import threading
from concurrent.futures import ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_sweeping: threading.Event | None = None
_lock = threading.Lock()


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            # One job at a time: engines are CPU/GPU bound and share one loaded model each.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="restoration-job")
            atexit.register(_executor.shutdown, wait=False, cancel_futures=True)
        return _executor


def start() -> None:
    """Start sweeping on a schedule (HERITAGE_JOB_SWEEP_INTERVAL), once per process.

    Without it, a job running when the server stopped would read "running" for ever, and one
    waiting in the old process's queue "pending". Off when HERITAGE_EMBEDDED_SWEEP is false.
    """
    global _sweeping
    from django.conf import settings

    from restoration import lifecycle

    if settings.RESTORATION_RUNNER != "embedded" or not settings.RESTORATION_EMBEDDED_SWEEP:
        return
    with _lock:
        if _sweeping is None:
            _sweeping = lifecycle.start_periodic(
                _sweep, interval=settings.RESTORATION_SWEEP_INTERVAL, name="restoration-sweep"
            )


def _sweep() -> None:
    from django.conf import settings

    from restoration.services import job_sweep

    # Read at every run, so tests that serve the app in their own process can turn it off.
    if settings.RESTORATION_EMBEDDED_SWEEP:
        job_sweep()


def submit(job_id: int):
    """Run the job off the request, in the server process; returns the Future."""
    from restoration.services import run_in_thread

    return _get_executor().submit(run_in_thread, job_id)
