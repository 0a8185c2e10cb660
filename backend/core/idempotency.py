"""Idempotent writes: every write from a phone or a device carries a client-generated id, and a
retry gets the first answer instead of a second write (as Stripe's Idempotency-Key does).

The record is claimed first, with INSERT ... ON CONFLICT DO NOTHING, inside the caller's
transaction: a concurrent retry with the same id waits on the unique index until the first one
commits, then finds its record and answers with it. No savepoint, no retry loop.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .errors import ApiError
from .models import IdempotencyRecord

Answer = tuple[int, dict[str, Any]]


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _claim(scope: str, key: uuid.UUID, digest: str) -> bool:
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, key, request_hash, status, body, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, 0, '{}', %s) ON CONFLICT (scope, key) DO NOTHING RETURNING id",
            [scope, key.hex if connection.vendor == "sqlite" else key, digest, timezone.now()],
        )
        return cursor.fetchone() is not None


def idempotent(
    *,
    scope: str,
    key: uuid.UUID,
    body: dict[str, Any],
    run: Callable[[], Answer],
    field: str,
) -> Answer:
    """Run `run()` once per (scope, key) and store its (status, body); a retry gets the stored
    answer, and a different body under the same key is refused with 422 (`field` names the
    client id in the error). Opens a transaction, or joins the caller's: the record commits
    with the work or not at all."""
    digest = request_hash(body)
    with transaction.atomic(savepoint=False):
        if _claim(scope, key, digest):
            status, answer = run()
            IdempotencyRecord.objects.filter(scope=scope, key=key).update(
                status=status, body=answer
            )
            return status, answer
        first = IdempotencyRecord.objects.get(scope=scope, key=key)
        if first.request_hash != digest:
            raise ApiError("idempotency_mismatch", status=422, fields={field: "field_invalid"})
        return first.status, first.body
