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
