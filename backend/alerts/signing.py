"""Signed device requests.

Headers: X-Device-Id, X-Timestamp (unix seconds), X-Nonce, X-Signature =
hex(HMAC-SHA256(secret, method + "\\n" + path + "\\n" + timestamp + "\\n" + nonce + "\\n" +
raw body)), the method in capitals and the path without the query string (/api/v1/device/...):
a press body cannot be replayed as a heartbeat. A timestamp more than 300 s off, a reused
nonce or a wrong signature is refused with 401 and the server's time, and creates nothing.

Checking a signature reads one row and writes nothing: the nonce is recorded by the action the
request calls (`SignedRequest.consume_nonce`), in the same transaction as its own writes, so a
press or a heartbeat is one commit. A reused nonce rolls that transaction back.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.db import connection
from django.utils import timezone

from backend.core.errors import ApiError

from .models import Device, DeviceNonce

MAX_SKEW_S = 300
# What a press and a heartbeat read of the device and its resident's home: loading (and
# compiling the SQL for) the resident's encrypted fields or the grid's polygon on every signed
# request cost more than the rest of a heartbeat.
SIGNED_REQUEST_FIELDS = (
    "device_id",
    "kind",
    "secret",
    "heartbeat_interval_s",
    "last_heard_at",
    "battery",
    "created_at",
    "revoked_at",
    "resident__name",
    "resident__household_id",
    "household__address",
    "household__location",
    "household__grid__community__district_id",
)


class DeviceAuthError(ApiError):
    def __init__(self, code: str) -> None:
        super().__init__(code, status=401)

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["server_time"] = int(time.time())
        return body


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    head = f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n".encode()
    return hmac.new(secret.encode(), head + body, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    device_id: str,
    body: bytes,
    *,
    path: str,
    nonce: str,
    method: str = "POST",
    at: int | None = None,
) -> dict[str, str]:
    """What a device sends (used by the press_button simulator and the tests' devices)."""
    timestamp = str(at if at is not None else int(time.time()))
    return {
        "X-Device-Id": device_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path, timestamp, nonce, body),
    }


@dataclass(frozen=True)
class SignedRequest:
    """A device request whose signature and timestamp hold; its nonce is not yet recorded."""

    device: Device
    nonce: str

    def consume_nonce(self) -> None:
        """Record the nonce; a reused one is a replay (401). Call inside the action's
        transaction, before its writes."""
        table = DeviceNonce._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (device_id, nonce, seen_at) VALUES (%s, %s, %s) "  # noqa: S608
                "ON CONFLICT (device_id, nonce) DO NOTHING RETURNING id",
                [self.device.pk, self.nonce, timezone.now()],
            )
            if cursor.fetchone() is None:
                raise DeviceAuthError("device_nonce_reused")


def check_signed_request(
    *,
    device_id: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    method: str,
    path: str,
    body: bytes,
) -> SignedRequest:
    """The device that signed this request (its nonce still to be consumed by the action)."""
    if not (device_id and timestamp and nonce and signature) or len(nonce) > 64:
        raise DeviceAuthError("device_auth_missing")
    device = signed_device(device_id)
    secret = device.secret if device else "unknown-device"
    expected = sign(secret, method, path, timestamp, nonce, body)
    if device is None or not hmac.compare_digest(expected, signature.lower()):
        raise DeviceAuthError("device_signature_invalid")
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError as exc:
        raise DeviceAuthError("device_timestamp_invalid") from exc
    if skew > MAX_SKEW_S:
        raise DeviceAuthError("device_timestamp_invalid")
    return SignedRequest(device=device, nonce=nonce)


def signed_device(device_id: str) -> Device | None:
    """The device (not revoked) with SIGNED_REQUEST_FIELDS loaded: its resident and its home's
    grid and community as related instances, the rest deferred, exactly as
    `select_related(...).only(*SIGNED_REQUEST_FIELDS)` gives them. Every signed request reads
    this: the statement is written once per process instead of compiled by the ORM each time
    (compiling and loading the five-model row cost more than the rest of a heartbeat)."""
    sql, converters = _signed_device_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [device_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, convert in converters:
        values[i] = convert(values[i])
    instances: list[Any] = []
    start = 0
    for model, names in _SIGNED_SHAPE:
        instances.append(model.from_db(connection.alias, names, values[start : start + len(names)]))
        start += len(names)
    device, resident, household, grid, community = instances
    grid.community = community
    household.grid = grid
    device.resident = resident
    device.household = household
    return device


def _shape() -> list[tuple[type[Any], list[str]]]:
    """(model, attnames read) of the device, its resident, its household, grid, community."""
    from backend.people.models import Resident
    from backend.territory.models import Community, Grid, Household

    wanted = {
        Device: ["id", *[f for f in SIGNED_REQUEST_FIELDS if "__" not in f]],
        Resident: ["id", "name", "household_id"],
        Household: ["id", "address", "location", "grid_id"],
        Grid: ["id", "community_id"],
        Community: ["id", "district_id"],
    }
    wanted[Device] += ["resident_id", "household_id"]
    # Model.from_db takes the values in the order of the model's concrete fields.
    return [
        (model, [f.attname for f in model._meta.concrete_fields if f.attname in names])
        for model, names in wanted.items()
    ]


_SIGNED_SHAPE = _shape()
# Per thread: GeoDjango's geometry converter holds the thread's own GEOS WKB reader
# (`wkb_r().read`), which is not thread-safe; shared across threads, concurrent requests
# corrupted each other's parse ("ParseException: Unexpected EOF parsing WKB", a 500).
_signed_sql = threading.local()


def _signed_device_sql() -> tuple[str, list[tuple[int, Any]]]:
    """The statement of `signed_device` for this connection's backend, and the converters of
    its columns (decrypting the secret, parsing the point, SQLite's dates), built once per
    thread."""
    built: dict[str, tuple[str, list[tuple[int, Any]]]] = getattr(_signed_sql, "built", None) or {}
    _signed_sql.built = built
    cached = built.get(connection.vendor)
    if cached is not None:
        return cached
    q = connection.ops.quote_name
    columns: list[str] = []
    converters: list[tuple[int, Any]] = []
    for alias, (model, names) in zip("drhgc", _SIGNED_SHAPE, strict=True):
        for name in names:
            field = next(f for f in model._meta.concrete_fields if f.attname == name)
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((len(columns), _chain(found, col)))
            column = f"{alias}.{q(field.column)}"
            select = getattr(connection.ops, "select", None)  # geometry as the ORM reads it
            if select and isinstance(field, GeometryField):
                column = select % column
            columns.append(column)
    device, resident, household, grid, community = (m._meta for m, _ in _SIGNED_SHAPE)
    sql = (
        f"SELECT {', '.join(columns)} FROM {q(device.db_table)} d "  # noqa: S608
        f"JOIN {q(resident.db_table)} r ON r.id = d.{q('resident_id')} "
        f"JOIN {q(household.db_table)} h ON h.id = d.{q('household_id')} "
        f"JOIN {q(grid.db_table)} g ON g.id = h.{q('grid_id')} "
        f"JOIN {q(community.db_table)} c ON c.id = g.{q('community_id')} "
        f"WHERE d.{q('device_id')} = %s AND d.{q('revoked_at')} IS NULL"
    )
    built[connection.vendor] = (sql, converters)
    return sql, converters


def _chain(converters: list[Any], expression: Any) -> Any:
    def convert(value: Any) -> Any:
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return convert


def prune_nonces() -> int:
    cutoff = timezone.now() - timedelta(seconds=2 * MAX_SKEW_S)
    deleted, _ = DeviceNonce.objects.filter(seen_at__lt=cutoff).delete()
    return deleted
