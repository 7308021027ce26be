"""PostgreSQL connection pools that survive fork().

Django keeps one psycopg pool per database alias in a class attribute, so a process forked
after its parent used the database (a Celery worker's replacement pool child, forked after the
worker's sweep thread ran queries) inherits the parent's pool: the same idle connections, the
same sockets. Two processes talking on one socket corrupt both sessions. After a fork the child
forgets the inherited pools and opens its own on first use. The inherited objects are kept
referenced, never closed or collected: closing them would tell the server to end sessions the
parent is still using.
"""

import os

_inherited: list = []
_installed = False


def forget_inherited_pools() -> None:
    """In a freshly forked child: drop the parent's pools without any network I/O."""
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except Exception:  # psycopg missing: no pools to forget
        return
    pools = DatabaseWrapper._connection_pools
    if pools:
        _inherited.extend(pools.values())
        pools.clear()


def install_fork_safety() -> None:
    """Register `forget_inherited_pools` to run in every child forked from now on (once)."""
    global _installed
    if not _installed:
        os.register_at_fork(after_in_child=forget_inherited_pools)
        _installed = True
