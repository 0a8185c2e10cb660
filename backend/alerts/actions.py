"""Writes for one-key emergency alerts: raise, escalate, acknowledge, accept, arrive, resolve,
cancel; devices and their technical alarms.

Every step takes the alert's row lock (SELECT ... FOR UPDATE), writes its timeline entry and
its stream events in the same transaction, and moves or cancels the escalation timer there too.
That is what makes an accept and an escalation that race come out right: whichever commits
second sees the other's state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.accounts.models import GridAssignment, Role, User
from backend.core import clock
from backend.core.errors import ApiError, NotFound
from backend.core.geo import Fix
from backend.core.models import IdempotencyRecord
from backend.core.stream import batch as stream_batch
from backend.core.stream import record_events
from backend.people.models import Resident

from . import selectors
from .follow_ups import do_device_check_after_alarm, do_follow_up_after_alert
from .models import (
    Alert,
    AlertKind,
    AlertRecipient,
    AlertStep,
    Device,
)

logger = logging.getLogger(__name__)

ESCALATE = "alert.escalate"
DEVICE_SILENT = "device.silent"
CANCEL_WINDOW = timedelta(seconds=60)


# -- what the stream says ------------------------------------------------------------------


def alert_summary(alert: Alert, now: datetime | None = None) -> dict[str, Any]:
    """The JSON-safe picture of an alert every event carries (resident name masked)."""
    now = now or timezone.now()
    seconds_left = (
        max(0, math.ceil((alert.next_escalation_at - now).total_seconds()))
        if alert.next_escalation_at and alert.state == Alert.State.OPEN
        else None
    )
    name = alert.resident.name
    return {
        "alert_id": alert.pk,
        "kind": alert.kind,
        "state": alert.state,
        "tier": alert.tier,
        "resident": {"id": alert.resident_id, "name": name[:1] + "*" * (len(name) - 1)},
        "household": {
            "id": alert.household_id,
            "address": alert.household.address,
            "lat": alert.household.location.y,
            "lon": alert.household.location.x,
        },
        "grid_id": alert.grid_id,
        "community_id": alert.community_id,
        "location": (
            {"lat": alert.location.y, "lon": alert.location.x, "accuracy_m": alert.accuracy_m}
            if alert.location
            else None
        ),
        "created_at": alert.created_at.isoformat(),
        "escalates_at": alert.next_escalation_at.isoformat() if alert.next_escalation_at else None,
        "seconds_left": seconds_left,
        "accepted_by": (
            {"id": alert.accepted_by_id, "name": alert.accepted_by.name}
            if alert.accepted_by_id and alert.accepted_by
            else None
        ),
        "disposition": alert.disposition or None,
    }


def _tell(
    alert: Alert,
    type: str,
    user_ids: list[int] | None = None,
    urgent: bool = False,
    step: AlertStep | None = None,
) -> None:
    data = alert_summary(alert)
    if step is not None:
        data["step"] = step_summary(step)
    record_events(
        user_ids=user_ids if user_ids is not None else selectors.audience(alert),
        type=type,
        data=data,
        urgent=urgent,
    )


def step_summary(step: AlertStep) -> dict[str, Any]:
    """A timeline entry as JSON (events of supervisors' steps carry the step they added)."""
    return {
        "kind": step.kind,
        "actor": {"id": step.actor_id, "name": step.actor.name} if step.actor else None,
        "at": step.at.isoformat(),
        "note": step.note,
        "data": step.data,
    }


def _step(
    alert: Alert,
    kind: str,
    *,
    actor: User | None = None,
    fix: Fix | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> AlertStep:
    return AlertStep.objects.create(
        alert=alert,
        kind=kind,
        actor=actor,
        location=fix.point() if fix else None,
        note=note,
        data={**(data or {}), **({"accuracy_m": fix.accuracy_m} if fix else {})},
    )


# -- raising -------------------------------------------------------------------------------


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent_raise(
    *, scope: str, client_alert_id: uuid.UUID, body: dict[str, Any], raise_alert: Any
) -> tuple[int, dict[str, Any]]:
    """Run `raise_alert()` once per (scope, client id); retries get the first answer.

    A different body under the same id is refused (422), as Stripe does.
    """
    digest = _request_hash(body)
    for _ in range(2):
        existing = IdempotencyRecord.objects.filter(scope=scope, key=client_alert_id).first()
        if existing is not None:
            if existing.request_hash != digest:
                raise ApiError(
                    "idempotency_mismatch", status=422, fields={"client_alert_id": "field_invalid"}
                )
            return existing.status, existing.body
        try:
            with transaction.atomic(), stream_batch():
                alert = raise_alert()
                response = {
                    "alert_id": alert.pk,
                    "state": alert.state,
                    "tier": alert.tier,
                    "created_at": alert.created_at.isoformat(),
                }
                IdempotencyRecord.objects.create(
                    scope=scope,
                    key=client_alert_id,
                    request_hash=digest,
                    status=201,
                    body=response,
                )
                return 201, response
        except IntegrityError:
            continue  # a concurrent retry won the race: answer with its record
    raise ApiError("internal_error", status=500)


def do_raise_alert(
    *,
    resident: Resident,
    kind: str,
    source: str,
    device: Device | None = None,
    raised_by: User | None = None,
    fix: Fix | None = None,
    battery: int | None = None,
) -> Alert:
    """Commit the alert and call its first tier. Call inside `transaction.atomic()`."""
    household = resident.household
    alert = Alert.objects.create(
        kind=kind,
        source=source,
        device=device,
        raised_by=raised_by,
        resident=resident,
        household=household,
        grid_id=household.grid_id,
        community_id=household.grid.community_id,
        location=fix.point() if fix else None,
        accuracy_m=fix.accuracy_m if fix else None,
        battery=battery,
    )
    _step(alert, "raised", actor=raised_by, fix=fix, data={"source": source, "kind": kind})
    if alert.is_technical:
        managers = selectors.grid_managers(alert)
        _add_recipients(alert, managers, tier=1)
        _tell(alert, "alert.raised", user_ids=selectors.audience(alert))
    else:
        _advance(alert, timezone.now())
        if kind == AlertKind.EMERGENCY:
            _text_emergency_contacts(alert)
    return alert


def _add_recipients(alert: Alert, user_ids: list[int], tier: int) -> None:
    AlertRecipient.objects.bulk_create(
        [AlertRecipient(alert=alert, user_id=uid, tier=tier) for uid in user_ids],
        ignore_conflicts=True,
    )


def _advance(alert: Alert, now: datetime) -> None:
    """Call the next tier that has someone on duty; skip empty tiers at once, visibly."""
    policy = selectors.policy_for(alert.community, alert.kind)
    for tier in range(alert.tier + 1, selectors.TIERS + 1):
        timeout = policy.timeout(tier)
        if timeout <= 0:
            continue
        members = selectors.tier_members(alert, tier, policy, now)
        if not members:
            _step(alert, "tier_skipped", data={"tier": tier, "reason": "nobody on duty"})
            continue
        _add_recipients(alert, members, tier)
        alert.tier = tier
        alert.next_escalation_at = now + timedelta(seconds=timeout)
        alert.save(update_fields=["tier", "next_escalation_at"])
        clock.schedule(
            kind=ESCALATE,
            key=str(alert.pk),
            due_at=alert.next_escalation_at,
            payload={"tier": tier},
        )
        _step(alert, "tier_called", data={"tier": tier, "user_ids": members, "timeout_s": timeout})
        _tell(alert, "alert.raised", user_ids=members, urgent=True)
        others = sorted(set(selectors.audience(alert)) - set(members))
        _tell(alert, "alert.updated", user_ids=others)
        return
    alert.next_escalation_at = None
    alert.save(update_fields=["next_escalation_at"])
    _step(alert, "escalation_exhausted", data={"tier": alert.tier})
    _tell(alert, "alert.updated")


def escalate(*, alert_id: int, tier: int) -> None:
    """The escalation timer's handler: only if the alert is still open at that tier."""
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("community", "household", "resident")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None or alert.state != Alert.State.OPEN or alert.tier != tier:
        return
    with stream_batch():
        _step(alert, "escalated", data={"from_tier": tier})
        _advance(alert, timezone.now())


def _text_emergency_contacts(alert: Alert) -> None:
    from backend.notify.sms import send_sms

    at = timezone.localtime(alert.created_at).strftime("%H:%M")
    contacts = [(c.phone, c.name) for c in alert.resident.emergency_contacts.all()]
    text = (
        f"【社区一键通】{alert.resident.name}于{at}按下紧急求助按钮，"
        "社区网格员已收到通知并正在处理。"
    )

    def send() -> None:
        for phone, _name in contacts:
            try:
                send_sms(phone=phone, text=text)
            except Exception:
                logger.warning("SMS to emergency contact failed", exc_info=True)

    transaction.on_commit(send, robust=True)


# -- the lifecycle -------------------------------------------------------------------------


def _locked(user: User, alert_id: int) -> Alert:
    selectors.get_alert(user, alert_id)  # 404 when out of scope, before taking any lock
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("community", "household", "resident", "accepted_by")
        .get(pk=alert_id)
    )


def _may_respond(user: User, alert: Alert) -> bool:
    if user.role in (Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        return True
    if user.role == Role.RESIDENT:
        return False
    return (
        alert.recipients.filter(user=user).exists()
        or GridAssignment.objects.filter(user=user, grid_id=alert.grid_id).exists()
    )


def _refuse_state(alert: Alert) -> ApiError:
    return ApiError("alert_wrong_state", status=409)


def do_acknowledge(*, user: User, alert_id: int) -> Alert:
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        updated = AlertRecipient.objects.filter(
            alert=alert, user=user, acknowledged_at__isnull=True
        ).update(acknowledged_at=timezone.now())
        if updated:
            _step(alert, "acknowledged", actor=user)
            _tell(alert, "alert.updated")
    return alert


def do_accept(*, user: User, alert_id: int, fix: Fix | None = None) -> Alert:
    """One winner. Cancels the escalation timer in the same transaction."""
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        if not _may_respond(user, alert):
            raise ApiError("permission_denied", status=403)
        if alert.state != Alert.State.OPEN:
            if alert.accepted_by_id and alert.accepted_by_id != user.pk:
                winner = alert.accepted_by
                raise AlreadyAccepted(winner.pk if winner else None, winner.name if winner else "")
            if alert.accepted_by_id == user.pk:
                return alert  # a retried accept by the winner
            raise _refuse_state(alert)
        now = timezone.now()
        alert.state = Alert.State.ACCEPTED
        alert.accepted_by = user
        alert.accepted_at = now
        alert.next_escalation_at = None
        alert.save(update_fields=["state", "accepted_by", "accepted_at", "next_escalation_at"])
        clock.cancel(kind=ESCALATE, key=str(alert.pk))
        AlertRecipient.objects.filter(alert=alert, user=user, acknowledged_at__isnull=True).update(
            acknowledged_at=now
        )
        _step(alert, "accepted", actor=user, fix=fix)
        _tell(alert, "alert.updated")
    return alert


class AlreadyAccepted(ApiError):
    def __init__(self, winner_id: int | None, winner_name: str) -> None:
        super().__init__("alert_already_accepted", status=409)
        self.winner = {"id": winner_id, "name": winner_name}

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["accepted_by"] = self.winner
        return body


def do_arrive(*, user: User, alert_id: int, fix: Fix) -> Alert:
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        if alert.state != Alert.State.ACCEPTED:
            raise _refuse_state(alert)
        if alert.accepted_by_id != user.pk:
            raise ApiError("permission_denied", status=403)
        alert.state = Alert.State.ARRIVED
        alert.arrived_at = timezone.now()
        alert.save(update_fields=["state", "arrived_at"])
        _step(alert, "arrived", actor=user, fix=fix)
        _tell(alert, "alert.updated")
    return alert


def do_resolve(
    *, user: User, alert_id: int, disposition: str, note: str, fix: Fix | None = None
) -> Alert:
    if disposition not in Alert.Disposition.values:
        raise ApiError("validation_error", status=422, fields={"disposition": "field_required"})
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        supervisor = user.role in (Role.SUPERVISOR, Role.DISTRICT_ADMIN)
        if alert.accepted_by_id != user.pk and not supervisor:
            raise ApiError("permission_denied", status=403)
        if alert.state not in (Alert.State.ACCEPTED, Alert.State.ARRIVED):
            raise _refuse_state(alert)
        alert.state = Alert.State.RESOLVED
        alert.resolved_at = timezone.now()
        alert.disposition = disposition
        alert.resolution_note = note
        alert.save(update_fields=["state", "resolved_at", "disposition", "resolution_note"])
        _step(alert, "resolved", actor=user, fix=fix, note=note, data={"disposition": disposition})
        _tell(alert, "alert.updated")
        if alert.kind == AlertKind.EMERGENCY:
            do_follow_up_after_alert(alert=alert)  # a visit within 24 h, in this transaction
    return alert


def do_cancel_false_press(
    *, alert_id: int, user: User | None = None, device: Device | None = None
) -> Alert:
    """The resident (their account or their device) cancels within 60 s of the press."""
    with transaction.atomic(), stream_batch():
        if user is not None:
            alert = _locked(user, alert_id)
            if user.role != Role.RESIDENT or alert.resident_id != user.resident_id:
                raise ApiError("permission_denied", status=403)
        else:
            found = (
                Alert.objects.select_for_update(of=("self",))
                .select_related("community", "household", "resident", "accepted_by")
                .filter(pk=alert_id, device=device)
                .first()
            )
            if found is None:
                raise NotFound()
            alert = found
        if alert.state not in (Alert.State.OPEN, Alert.State.ACCEPTED) or alert.is_technical:
            raise _refuse_state(alert)
        if timezone.now() - alert.created_at > CANCEL_WINDOW:
            raise ApiError("alert_cancel_too_late", status=409)
        alert.state = Alert.State.CANCELLED
        alert.disposition = Alert.Disposition.FALSE_PRESS
        alert.next_escalation_at = None
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["state", "disposition", "next_escalation_at", "resolved_at"])
        clock.cancel(kind=ESCALATE, key=str(alert.pk))
        _step(alert, "cancelled", actor=user, data={"by": "device" if device else "resident"})
        _tell(alert, "alert.updated")
    return alert


# -- devices -------------------------------------------------------------------------------


def do_register_device(
    *, device_id: str, kind: str, resident: Resident, heartbeat_interval_s: int = 3600
) -> tuple[Device, str]:
    """A new device and its secret; the secret is returned here once and never again."""
    secret = secrets.token_hex(32)
    device = Device.objects.create(
        device_id=device_id,
        kind=kind,
        resident=resident,
        household=resident.household,
        secret=secret,
        heartbeat_interval_s=heartbeat_interval_s,
    )
    return device, secret


def do_rotate_device_secret(*, device: Device) -> str:
    secret = secrets.token_hex(32)
    device.secret = secret
    device.rotated_at = timezone.now()
    device.save(update_fields=["secret", "rotated_at"])
    return secret


def do_revoke_device(*, device: Device) -> None:
    with transaction.atomic(), stream_batch():
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
        clock.cancel(kind=DEVICE_SILENT, key=str(device.pk))


def do_heartbeat(*, device: Device, battery: int | None) -> Device:
    with transaction.atomic(), stream_batch():
        return do_heard(device=device, battery=battery)


def do_heard(*, device: Device, battery: int | None) -> Device:
    """The device was heard (heartbeat or press): close its technical alarms that no longer
    hold and re-arm its silence timer. Call inside a transaction."""
    device = (
        Device.objects.select_for_update()
        .select_related("household__grid__community")
        .get(pk=device.pk)
    )
    now = timezone.now()
    device.last_heard_at = now
    if battery is not None:
        device.battery = battery
    device.save(update_fields=["last_heard_at", "battery"])
    _heard(device, now)
    return device


def _heard(device: Device, now: datetime) -> None:
    """Called whenever a device is heard (heartbeat or press), inside a transaction."""
    policy = selectors.policy_for(device.household.grid.community, AlertKind.DEVICE_OFFLINE)
    clock.schedule(
        kind=DEVICE_SILENT,
        key=str(device.pk),
        due_at=now + timedelta(seconds=device.heartbeat_interval_s * policy.heartbeat_misses),
    )
    _close_technical(device, AlertKind.DEVICE_OFFLINE)
    if device.battery is not None and device.battery < policy.low_battery_percent:
        _open_technical(device, AlertKind.LOW_BATTERY)
    else:
        _close_technical(device, AlertKind.LOW_BATTERY)


def _open_technical(device: Device, kind: str) -> None:
    if Alert.objects.filter(device=device, kind=kind, state=Alert.State.OPEN).exists():
        return
    alert = do_raise_alert(
        resident=device.resident,
        kind=kind,
        source=Alert.Source.SYSTEM,
        device=device,
        battery=device.battery,
    )
    if kind == AlertKind.DEVICE_OFFLINE:
        do_device_check_after_alarm(alert=alert)  # someone checks the device at the door


def _close_technical(device: Device, kind: str) -> None:
    for alert in (
        Alert.objects.select_for_update(of=("self",))
        .select_related("community", "household", "resident", "accepted_by")
        .filter(device=device, kind=kind, state=Alert.State.OPEN)
    ):
        alert.state = Alert.State.CLOSED
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["state", "resolved_at"])
        _step(alert, "cleared", data={"battery": device.battery})
        _tell(alert, "alert.updated")


def device_went_silent(*, device_id: int) -> None:
    """The silence timer's handler."""
    device = Device.objects.select_related("household__grid").filter(pk=device_id).first()
    if device is None or device.revoked_at is not None:
        return
    _open_technical(device, AlertKind.DEVICE_OFFLINE)


# -- supervisors stepping in ---------------------------------------------------------------

NOTE_MAX = 2000


def _check_note(note: str, *, required: bool) -> str:
    note = note.strip()
    if required and not note:
        raise ApiError("validation_error", status=422, fields={"note": "field_required"})
    if len(note) > NOTE_MAX:
        raise ApiError("validation_error", status=422, fields={"note": "field_too_long"})
    return note


def check_assign(*, user: User, alert: Alert, assignee_id: int) -> User:
    """A supervisor or district officer may hand an alert of their scope to a worker (or a
    supervisor) of the alert's community. An assignee out of that set is 404, like a missing
    one. Call with the alert locked."""
    if user.role not in (Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        raise ApiError("permission_denied", status=403)
    assignee = selectors.assignable_users(alert.community_id).filter(pk=assignee_id).first()
    if assignee is None:
        raise NotFound()
    if alert.is_technical or alert.state not in (Alert.State.OPEN, Alert.State.ACCEPTED):
        raise _refuse_state(alert)
    return assignee


def do_assign(*, user: User, alert_id: int, assignee_id: int, note: str = "") -> Alert:
    """Hand the alert to `assignee` (or move it from whoever had it): the assignee becomes the
    responder of record (`accepted_by`, so they can arrive and resolve), escalation stops —
    a person now dispatches it — and the assignee is called urgently (`alert.raised`).
    Everyone else who follows the alert, and the previous holder, get `alert.updated`."""
    note = _check_note(note, required=False)
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        assignee = check_assign(user=user, alert=alert, assignee_id=assignee_id)
        if alert.accepted_by_id == assignee.pk and not note:
            return alert  # a retried assignment
        previous = alert.accepted_by
        now = timezone.now()
        alert.state = Alert.State.ACCEPTED
        alert.accepted_by = assignee
        alert.accepted_at = now
        alert.next_escalation_at = None
        alert.save(update_fields=["state", "accepted_by", "accepted_at", "next_escalation_at"])
        clock.cancel(kind=ESCALATE, key=str(alert.pk))
        _add_recipients(alert, [assignee.pk], tier=alert.tier)
        step = _step(
            alert,
            "assigned" if previous is None else "reassigned",
            actor=user,
            note=note,
            data={
                "assignee": {"id": assignee.pk, "name": assignee.name},
                "previous": {"id": previous.pk, "name": previous.name} if previous else None,
            },
        )
        _tell(alert, "alert.raised", user_ids=[assignee.pk], urgent=True, step=step)
        others = set(selectors.audience(alert)) | ({previous.pk} if previous else set())
        _tell(alert, "alert.updated", user_ids=sorted(others - {assignee.pk}), step=step)
    return alert


def do_add_note(*, user: User, alert_id: int, note: str) -> AlertStep:
    """A note on the alert's timeline by anyone who may see the alert (not residents)."""
    note = _check_note(note, required=True)
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        if user.role == Role.RESIDENT:
            raise ApiError("permission_denied", status=403)
        step = _step(alert, "note", actor=user, note=note)
        _tell(alert, "alert.updated", step=step)
    return step
