"""Database calls of the sockets, on a pool of worker threads.

`channels.db.database_sync_to_async` is thread-sensitive: with no request around it (a socket
has none), every socket of the process shares ONE thread for its database work. After a mass
disconnect thousands of sockets come back at once, each redeeming its ticket, noting its
presence and reading its gap: queued behind one thread, the last phones waited tens of seconds.
Here the same calls (connections closed before and after, as channels does) run on
REALTIME_DB_THREADS workers; one socket's calls still run one after another, in order, because
its consumer awaits each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from typing import ParamSpec, TypeVar

from channels.db import DatabaseSyncToAsync
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(int(settings.REALTIME_DB_THREADS), thread_name_prefix="ws-db")
    return _pool


def database_call(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` run on the sockets' database threads (like `database_sync_to_async`)."""

    @wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        run = DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
        return await run(*args, **kwargs)

    return call
