"""Health of the parts a deployment depends on: database, channel layer, migrations, and what
apps register (the outbox: backlog and failing providers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def _database() -> str:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


async def _round_trip() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "error: not configured"
    channel = await layer.new_channel("health.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return "ok" if message.get("token") == token else "error: wrong message"


def _channel_layer() -> str:
    try:
        return async_to_sync(_round_trip)()
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _pending_migrations() -> list[str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


# name -> check returning (healthy, report); apps above core register theirs (the outbox).
_checks: dict[str, Callable[[], tuple[bool, dict[str, Any]]]] = {}


def register_check(name: str, check: Callable[[], tuple[bool, dict[str, Any]]]) -> None:
    _checks[name] = check


def check_health() -> dict[str, Any]:
    database = _database()
    pending = _pending_migrations() if database == "ok" else []
    layer = _channel_layer()
    ok = database == "ok" and layer == "ok" and not pending
    report: dict[str, Any] = {
        "database": database,
        "channel_layer": layer,
        "pending_migrations": pending,
    }
    if database == "ok":
        for name, check in _checks.items():
            healthy, report[name] = check()
            ok = ok and healthy
    return {"status": "ok" if ok else "degraded", **report}
