"""Button devices: registration, secrets, heartbeats, and the technical alarms a device raises
(silent too long, battery low).

A heartbeat is the second hot path (a district of 10,000 buttons reporting every 100 s is 100
a second): one transaction with the nonce, one UPDATE of the device and one look for its open
technical alarms. It does not move the silence timer: the timer stays at its deadline, and
when it fires it looks at `last_heard_at` and either re-arms itself for the real deadline or
raises the alarm. Invariant: a device in service has a pending silence timer or an open
"device offline" alarm (being heard again closes the alarm and re-arms the timer).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from backend.core import clock
from backend.core.stream import batch as stream_batch
from backend.people.models import Resident

from . import selectors
from .actions import Press, add_step, do_raise_alert, press_again, tell
from .follow_ups import do_device_check_after_alarm
from .models import TECHNICAL_KINDS, Alert, AlertKind, Device, DeviceNonce
from .signing import SIGNED_REQUEST_FIELDS, DeviceAuthError, SignedRequest

DEVICE_SILENT = "device.silent"


def silence_deadline(device: Device) -> datetime:
    policy = selectors.policy_for(device.household.grid.community_id, AlertKind.DEVICE_OFFLINE)
    heard = device.last_heard_at or device.created_at
    return heard + timedelta(seconds=device.heartbeat_interval_s * policy.heartbeat_misses)


def arm_silence_timer(device: Device) -> None:
    """(Re)arm the device's silence timer for its deadline. Call inside a transaction."""
    clock.schedule(kind=DEVICE_SILENT, key=str(device.pk), due_at=silence_deadline(device))


def do_register_device(
    *, device_id: str, kind: str, resident: Resident, heartbeat_interval_s: int = 3600
) -> tuple[Device, str]:
    """A new device and its secret; the secret is returned here once and never again."""
    secret = secrets.token_hex(32)
    with transaction.atomic():
        device = Device.objects.create(
            device_id=device_id,
            kind=kind,
            resident=resident,
            household=resident.household,
            secret=secret,
            heartbeat_interval_s=heartbeat_interval_s,
        )
        arm_silence_timer(device)
    return device, secret


def do_update_device(*, device: Device, fields: list[str]) -> Device:
    """Save an edited device (the admin): a changed interval or revocation moves its timer."""
    with transaction.atomic():
        device.save(update_fields=fields)
        if device.revoked_at is not None:
            clock.cancel(kind=DEVICE_SILENT, key=str(device.pk))
        elif not Alert.objects.filter(
            device=device, kind=AlertKind.DEVICE_OFFLINE, state=Alert.State.OPEN
        ).exists():
            arm_silence_timer(device)
    return device


def do_rotate_device_secret(*, device: Device) -> str:
    secret = secrets.token_hex(32)
    device.secret = secret
    device.rotated_at = timezone.now()
    device.save(update_fields=["secret", "rotated_at"])
    return secret


def do_revoke_device(*, device: Device) -> None:
    with transaction.atomic():
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
        clock.cancel(kind=DEVICE_SILENT, key=str(device.pk))


def do_heartbeat(*, signed: SignedRequest, battery: int | None) -> Device:
    """The device is alive. On PostgreSQL one statement records the nonce, notes the device
    heard and reads its open technical alarms (`_beat`); only when an alarm is to be opened or
    closed does a transaction follow (`heard`, which takes the device's row lock and looks
    again). Elsewhere (SQLite) the nonce and `heard` in one transaction."""
    device = signed.device
    if connection.vendor != "postgresql":
        with transaction.atomic(), stream_batch():
            signed.consume_nonce()
            return heard(device=device, battery=battery)
    now = timezone.now()
    stored_battery, open_kinds = _beat(device.pk, signed.nonce, battery, now)
    device.last_heard_at, device.battery = now, stored_battery
    if _alarms_change(device, open_kinds):
        with transaction.atomic(), stream_batch():
            heard(device=device, battery=battery)
    return device


def _beat(device_pk: int, nonce: str, battery: int | None, now: datetime) -> tuple[Any, set[str]]:
    """Nonce, `last_heard_at` and battery, and the open technical alarms, in one statement
    (one commit); a reused nonce writes nothing and is refused."""
    nonces, devices, alerts = (m._meta.db_table for m in (DeviceNonce, Device, Alert))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH n AS (INSERT INTO {nonces} (device_id, nonce, seen_at) "  # noqa: S608
            "VALUES (%(d)s, %(n)s, %(now)s) ON CONFLICT (device_id, nonce) DO NOTHING "
            "RETURNING 1), "
            f"u AS (UPDATE {devices} SET last_heard_at = %(now)s, "
            "battery = COALESCE(%(b)s, battery) WHERE id = %(d)s AND EXISTS (SELECT FROM n) "
            "RETURNING battery) "
            "SELECT EXISTS (SELECT FROM n), (SELECT battery FROM u), "
            f"ARRAY(SELECT kind FROM {alerts} WHERE device_id = %(d)s "
            "AND kind = ANY(%(kinds)s) AND state = %(open)s)",
            {
                "d": device_pk,
                "n": nonce,
                "now": now,
                "b": battery,
                "kinds": [str(k) for k in TECHNICAL_KINDS],
                "open": str(Alert.State.OPEN),
            },
        )
        fresh, stored_battery, kinds = cursor.fetchone()
    if not fresh:
        raise DeviceAuthError("device_nonce_reused")
    return stored_battery, set(kinds)


def _alarms_change(device: Device, open_kinds: set[str]) -> bool:
    """Would `heard` open or close a technical alarm of this device?"""
    if AlertKind.DEVICE_OFFLINE in open_kinds:
        return True
    if device.battery is None:
        return False
    policy = selectors.policy_for(device.household.grid.community_id, AlertKind.DEVICE_OFFLINE)
    low = device.battery < policy.low_battery_percent
    return low != (AlertKind.LOW_BATTERY in open_kinds)


def heard(*, device: Device, battery: int | None) -> Device:
    """The device was heard (a heartbeat or a press): note it, and open or close its technical
    alarms. Call inside `transaction.atomic()` and `stream.batch()`, as late as possible: the
    UPDATE locks the device row until commit, which also makes two concurrent heartbeats of
    one device take turns (so a low battery is raised once)."""
    now = timezone.now()
    changes: dict[str, object] = {"last_heard_at": now}
    if battery is not None:
        changes["battery"] = battery
    Device.objects.filter(pk=device.pk).update(**changes)
    device.last_heard_at = now
    device.battery = battery if battery is not None else device.battery
    open_kinds = set(
        Alert.objects.filter(
            device=device, kind__in=TECHNICAL_KINDS, state=Alert.State.OPEN
        ).values_list("kind", flat=True)
    )
    if AlertKind.DEVICE_OFFLINE in open_kinds:
        _close_technical(device, AlertKind.DEVICE_OFFLINE)
        arm_silence_timer(device)
    if device.battery is None:
        return device
    policy = selectors.policy_for(device.household.grid.community_id, AlertKind.DEVICE_OFFLINE)
    low = device.battery < policy.low_battery_percent
    if low and AlertKind.LOW_BATTERY not in open_kinds:
        _open_technical(device, AlertKind.LOW_BATTERY)
    elif not low and AlertKind.LOW_BATTERY in open_kinds:
        _close_technical(device, AlertKind.LOW_BATTERY)
    return device


def _open_technical(device: Device, kind: str, detail: dict[str, object] | None = None) -> Alert:
    alert = do_raise_alert(
        resident=device.resident,
        household=device.household,
        kind=kind,
        source=Alert.Source.SYSTEM,
        device=device,
        battery=device.battery,
        detail=detail,
    )
    if kind == AlertKind.DEVICE_OFFLINE:
        do_device_check_after_alarm(alert=alert)  # someone checks the device at the door
    return alert


def technical_alarm(*, device: Device, kind: str, detail: dict[str, object]) -> Alert:
    """A trouble the device reports itself (an alarm panel's low battery, tamper, AC loss,
    communication trouble): a repeat while one of its kind is open joins that one. Call
    inside `transaction.atomic()` after `heard` (which holds the device's row)."""
    open_id = (
        Alert.objects.filter(device=device, kind=kind, state=Alert.State.OPEN)
        .values_list("pk", flat=True)
        .first()
    )
    if open_id is not None:
        press = Press(kind=kind, detail=dict(detail))
        return press_again(alert_id=open_id, source=Alert.Source.SYSTEM, press=press, device=device)
    return _open_technical(device, kind, dict(detail))


def clear_technical(*, device: Device, kind: str) -> None:
    """The device reports a trouble gone (a panel's restoral code)."""
    _close_technical(device, kind)


def _close_technical(device: Device, kind: str) -> None:
    for alert in selectors.locked_for_update().filter(
        device=device, kind=kind, state=Alert.State.OPEN
    ):
        alert.state = Alert.State.CLOSED
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["state", "resolved_at"])
        add_step(alert, "cleared", data={"battery": device.battery})
        tell(alert, "alert.updated")


def device_went_silent(*, device_id: int, due_at: datetime) -> None:
    """The silence timer's handler (the timer was due at `due_at`): heard since it was set,
    it moves to the real deadline; otherwise the device is silent, and its grid's managers
    are told."""
    device = (
        Device.objects.select_related("resident", "household__grid__community")
        .only(*SIGNED_REQUEST_FIELDS)  # what a technical alarm reads, as on a signed request
        .filter(pk=device_id)
        .first()
    )
    if device is None or device.revoked_at is not None:
        return
    deadline = silence_deadline(device)
    if deadline > due_at:
        clock.schedule(kind=DEVICE_SILENT, key=str(device.pk), due_at=deadline)
        return
    with stream_batch():
        if not Alert.objects.filter(
            device=device, kind=AlertKind.DEVICE_OFFLINE, state=Alert.State.OPEN
        ).exists():
            _open_technical(device, AlertKind.DEVICE_OFFLINE)
