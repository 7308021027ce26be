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
        return _executor


def submit(job_id: int):
    """Run the job off the request, in the server process; returns the Future."""
    from restoration.services import run_in_thread

    return _get_executor().submit(run_in_thread, job_id)
