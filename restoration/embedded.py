"""Embedded runner: jobs run in a thread of the server process when no broker is configured.

The server starts it (heritage.asgi): one job thread, one training thread (a training run of
hours never holds up restorations, as queue `train` does not hold up `gpu` in deployment), and a
sweep thread that recovers jobs and training runs of an earlier server process and sends again
pending ones that lost their turn.
"""

import atexit
import threading
from concurrent.futures import ThreadPoolExecutor

_executors: dict[str, ThreadPoolExecutor] = {}
_sweeping: threading.Event | None = None
_lock = threading.Lock()


def _get_executor(queue: str = "job") -> ThreadPoolExecutor:
    with _lock:
        if queue not in _executors:
            # One job at a time per queue: engines are CPU/GPU bound and share one loaded
            # model each.
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"restoration-{queue}")
            atexit.register(executor.shutdown, wait=False, cancel_futures=True)
            _executors[queue] = executor
        return _executors[queue]


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
    from restoration.training_runs import training_run_sweep

    # Read at every run, so tests that serve the app in their own process can turn it off.
    if settings.RESTORATION_EMBEDDED_SWEEP:
        try:
            job_sweep()
        finally:
            training_run_sweep()


def submit(job_id: int):
    """Run the job off the request, in the server process; returns the Future."""
    from restoration.services import run_in_thread

    return _get_executor().submit(run_in_thread, job_id)


def submit_training(run_id: int):
    """Run a training run off the request, in its own server thread; returns the Future."""
    from restoration.training_runs import run_in_thread

    return _get_executor("training").submit(run_in_thread, run_id)
