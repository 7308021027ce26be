"""Embedded runner: jobs run in a thread of the server process when no broker is configured."""

import atexit
import threading
from concurrent.futures import ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            # One job at a time: engines are CPU/GPU bound and share one loaded model each.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="restoration-job")
            atexit.register(_executor.shutdown, wait=False, cancel_futures=True)
            # Jobs of an earlier server process died with it.
            _executor.submit(_sweep)
        return _executor


def _sweep() -> None:
    from django.db import connection

    from restoration.services import job_fail_orphaned

    try:
        job_fail_orphaned()
    finally:
        connection.close()


def submit(job_id: int):
    """Run the job off the request, in the server process; returns the Future."""
    from restoration.services import run_in_thread

    return _get_executor().submit(run_in_thread, job_id)
