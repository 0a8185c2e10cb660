"""Lock-out (MLPS 2.0 level 3): 5 failed log-ins lock an account for 15 minutes.

Each attempt is counted *before* its password is checked, in one atomic upsert (a row lock
on PostgreSQL, the write lock on SQLite), so 100 parallel guesses get at most
LOGIN_FAILURE_LIMIT password checks between them; a success clears the count. When the count
cannot be taken (the database refuses or times out) the log-in is refused: we do not check a
password we cannot count. django-axes, which we used before, checked and then recorded
without a lock, and under SQLite contention its failure handler itself failed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.audit.actions import do_record, ip_of
from backend.audit.models import AuditEvent
from backend.core.errors import ApiError
from backend.core.ratelimit import check_rate

from .models import LoginGuard, User

_RESERVE = """
INSERT INTO {table} (key, failures, last_at) VALUES (%s, 1, %s)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN {table}.last_at < %s THEN 1 ELSE {table}.failures + 1 END,
  last_at = excluded.last_at
RETURNING failures
"""


def guard_key(phone: str) -> str:
    return phone.strip().lower()[:200]


def reserve_attempt(key: str) -> int:
    """Count one attempt for `key` and return the count so far (this one included). The lock
    lasts LOGIN_COOLOFF after the last attempt, so guessing on while locked keeps it locked."""
    now = timezone.now()
    table = connection.ops.quote_name(LoginGuard._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RESERVE.format(table=table), [key, now, now - settings.LOGIN_COOLOFF])
        row = cursor.fetchone()
    return int(row[0])


def authenticate_guarded(*, request: HttpRequest, phone: str, password: str) -> User:
    """The password check of every log-in (phones, the board, and through the board the
    admin): 429 `account_locked` past the limit, 503 `service_busy` when unsure."""
    key = guard_key(phone)
    check_rate(request, group="login_ip", key=ip_of(request) or "-")
    try:
        count = reserve_attempt(key)
    except DatabaseError as exc:
        raise ApiError("service_busy", status=503) from exc
    if count > settings.LOGIN_FAILURE_LIMIT:
        _failed(request, key, "locked", AuditEvent.Result.REFUSED)
        raise ApiError("account_locked", status=429)
    user = authenticate(request, phone=phone, password=password)
    if not isinstance(user, User):
        _failed(request, key, "wrong password or unknown phone", AuditEvent.Result.FAILED)
        raise ApiError("invalid_credentials", status=401)
    LoginGuard.objects.filter(key=key).delete()
    do_record(action=AuditEvent.Action.LOGIN, actor=user, detail=request.path, request=request)
    return user


def _failed(request: HttpRequest, phone: str, why: str, result: str) -> None:
    do_record(
        action=AuditEvent.Action.LOGIN_FAILED,
        actor_label=phone,
        detail=f"{request.path} {why}",
        result=result,
        request=request,
    )
