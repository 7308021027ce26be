"""A forked child never uses the PostgreSQL pool (and its sockets) inherited from its parent."""

import os

from django.db.backends.postgresql.base import DatabaseWrapper

from heritage import dbpool


def test_a_forked_child_forgets_the_parents_pools_and_the_parent_keeps_them(monkeypatch):
    parents_pool = object()
    monkeypatch.setitem(DatabaseWrapper._connection_pools, "default", parents_pool)
    dbpool.install_fork_safety()

    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        forgotten = "default" not in DatabaseWrapper._connection_pools
        kept_alive = parents_pool in dbpool._inherited
        os._exit(0 if forgotten and kept_alive else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert DatabaseWrapper._connection_pools["default"] is parents_pool


def _settings(expression: str, **variables: str):
    """Import the settings in a fresh interpreter with these variables; (exit code, output)."""
    import subprocess
    import sys
    from pathlib import Path

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "HERITAGE_DB_POOL")) and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(variables)
    result = subprocess.run(
        [sys.executable, "-c", f"import heritage.settings as s; print({expression})"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


def test_postgresql_connections_come_from_a_bounded_pool():
    code, out = _settings(
        "s.DATABASES['default']['OPTIONS']['pool']",
        DATABASE_URL="postgres://u@127.0.0.1:5432/db",
        HERITAGE_DB_POOL_MAX_SIZE="5",
        HERITAGE_DB_POOL_TIMEOUT="7",
    )
    assert code == 0, out
    assert "'max_size': 5" in out and "'timeout': 7" in out


def test_the_pool_refuses_persistent_connections_and_can_be_turned_off():
    url = "postgres://u@127.0.0.1:5432/db"
    code, out = _settings("''", DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60")
    assert code != 0 and "DATABASE_CONN_MAX_AGE must be 0" in out
    code, out = _settings(
        "'pool' in s.DATABASES['default'].get('OPTIONS', {})",
        DATABASE_URL=url,
        DATABASE_CONN_MAX_AGE="60",
        HERITAGE_DB_POOL_MAX_SIZE="0",
    )
    assert code == 0 and out.strip() == "False", out
