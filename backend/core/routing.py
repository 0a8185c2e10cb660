"""Reads that tolerate lag go to a PostgreSQL replica (DATABASE_REPLICA_URL); everything else
— writes, and every read of a request that may follow its own write — to the primary.

Which requests may read from the replica is decided by path, for GET and HEAD only
(REPLICA_READ_PATHS: board state and lists, alert and case lists, Open311 lists), by
backend.core.observe.RequestMiddleware; the views do not know. Sessions, accounts and lock-out
state are always read from the primary: a log-in is read right after it is written.
"""

from __future__ import annotations

import contextvars
import re
from functools import cache
from typing import Any

from django.conf import settings

REPLICA = "replica"
PRIMARY_ONLY_APPS = frozenset(
    {"sessions", "accounts", "auth", "contenttypes", "axes", "otp_totp", "django_otp", "admin"}
)
_replica_ok: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_ok", default=False)


@cache
def _patterns(paths: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in paths]


def lag_tolerant(method: str, path: str) -> bool:
    if REPLICA not in settings.DATABASES or method not in ("GET", "HEAD"):
        return False
    return any(p.match(path) for p in _patterns(tuple(settings.REPLICA_READ_PATHS)))


def allow_replica(allowed: bool) -> contextvars.Token[bool]:
    """Let this request's reads go to the replica (reset with the token it returns)."""
    return _replica_ok.set(allowed)


def reset(token: contextvars.Token[bool]) -> None:
    _replica_ok.reset(token)


class ReplicaRouter:
    """Django database router: the replica for reads a request allowed, else the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if _replica_ok.get() and model._meta.app_label not in PRIMARY_ONLY_APPS:
            return REPLICA
        return None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two doors

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA
