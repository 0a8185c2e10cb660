"""Writes for one-key emergency alerts: raise (from a device, the resident app or a worker),
escalate, acknowledge, accept, arrive, resolve, cancel, assign, notes. Devices and their
technical alarms are in `devices.py`.

Every step takes the alert's row lock (SELECT ... FOR UPDATE), writes its timeline entry and
its stream events in the same transaction, and moves or cancels the escalation timer there too.
That is what makes an accept and an escalation that race come out right: whichever commits
second sees the other's state.

A press is the hot path (20 a second across a district, bursts of hundreds): it is one
transaction of a dozen statements — the nonce, the idempotency record, the alert with its
recipients, timeline and timer, the stream events, the device heard — and one doorbell per
recipient after commit. Its query count is pinned in tests/alerts/test_press_cost.py.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import GridAssignment, Role, User
from backend.core import clock, metrics, observe
from backend.core.errors import ApiError, NotFound
from backend.core.geo import Fix
from backend.core.idempotency import Answer, idempotent
from backend.core.stream import batch as stream_batch
from backend.core.stream import record_events
from backend.people.models import Resident
from backend.territory.models import Household

from . import delivery, selectors
from .events import alert_summary, step_summary
from .follow_ups import do_follow_up_after_alert
from .models import Alert, AlertKind, AlertRecipient, AlertStep, Device
from .signing import SignedRequest

logger = logging.getLogger(__name__)

ESCALATE = selectors.ESCALATE
TEXT_CONTACTS = "alert.text_contacts"
CANCEL_WINDOW = timedelta(seconds=60)
# The advisory-lock key space of press_for (the second key is the resident's id).
PRESS_LOCK_SPACE = 13


def tell(
    alert: Alert,
    type: str,
    user_ids: list[int] | None = None,
    urgent: bool = False,
    step: AlertStep | None = None,
) -> None:
    data = alert_summary(alert, escalates_at=selectors.escalation_deadline(alert))
    if step is not None:
        data["step"] = step_summary(step)
    record_events(
        user_ids=user_ids if user_ids is not None else selectors.audience(alert),
        type=type,
        data=data,
        urgent=urgent,
    )


def _new_step(
    alert: Alert,
    kind: str,
    *,
    actor: User | None = None,
    fix: Fix | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> AlertStep:
    return AlertStep(
        alert=alert,
        kind=kind,
        actor=actor,
        location=fix.point() if fix else None,
        note=note,
        data={**(data or {}), **({"accuracy_m": fix.accuracy_m} if fix else {})},
    )


def add_step(alert: Alert, kind: str, **kwargs: Any) -> AlertStep:
    step = _new_step(alert, kind, **kwargs)
    step.save()
    return step


# -- raising -------------------------------------------------------------------------------


def _created(alert: Alert) -> Answer:
    return 201, {
        "alert_id": alert.pk,
        "state": alert.state,
        "tier": alert.tier,
        "created_at": alert.created_at.isoformat(),
        "presses": alert.presses,
    }


@dataclass(frozen=True)
class Press:
    """What one press (or alarm sensor event) says, whichever transport brought it.
    `detail` lands on the timeline: the transport, and for an alarm panel its event code and
    zone."""

    kind: str
    fix: Fix | None = None
    battery: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def do_press(
    *,
    device: Device,
    press: Press,
    scope: str,
    key: uuid.UUID,
    body: dict[str, Any],
    key_name: str = "client_alert_id",
    before: Callable[[], None] | None = None,
) -> Answer:
    """The one press action of a device, for every intake (the signed HTTP press, the DC-09
    receiver): idempotent under (scope, key), the device heard, and a new alert or a "pressed
    again" on the resident's open one. 201 once committed; a retry gets the first answer and
    creates nothing. `before` runs first in the transaction (the HTTP nonce).

    The device is heard first: its row stays locked until commit, so two presses of one
    device take turns and the second sees the first's alert (and joins it)."""
    from .devices import heard  # devices raise technical alarms through this module

    started = time.perf_counter()
    with transaction.atomic(), stream_batch():
        if before is not None:
            before()
        heard(device=device, battery=press.battery)
        answer = idempotent(
            scope=scope,
            key=key,
            body=body,
            field=key_name,
            run=lambda: _created(
                press_for(
                    resident=device.resident,
                    household=device.household,
                    source=Alert.Source.DEVICE,
                    device=device,
                    press=press,
                )
            ),
        )
    metrics.observe_press(str(press.detail.get("transport", "device")), started)
    return answer


def do_device_press(
    *,
    signed: SignedRequest,
    client_alert_id: uuid.UUID,
    kind: str,
    body: dict[str, Any],
    fix: Fix | None = None,
    battery: int | None = None,
    resident_id: int | None = None,
) -> Answer:
    """A signed HTTP button press: the one press action, the nonce consumed in its
    transaction."""
    device = signed.device
    if resident_id is not None and resident_id != device.resident_id:
        raise ApiError(
            "validation_error", status=422, fields={"resident_id": "device_resident_mismatch"}
        )
    return do_press(
        device=device,
        press=Press(kind=kind, fix=fix, battery=battery, detail={"transport": "http"}),
        scope=f"device:{device.pk}",
        key=client_alert_id,
        body=body,
        before=signed.consume_nonce,
    )


def do_raise_for_resident(
    *,
    user: User,
    resident: Resident,
    client_alert_id: uuid.UUID,
    kind: str,
    body: dict[str, Any],
    fix: Fix | None = None,
) -> Answer:
    """A press in the resident app (the caller is the resident's own account) or a worker
    raising an alert for a resident in their scope (the caller checked the scope)."""
    started = time.perf_counter()
    own = user.role == Role.RESIDENT
    if own and user.resident_id != resident.pk:
        raise ApiError("permission_denied", status=403)
    with transaction.atomic(), stream_batch():
        answer = idempotent(
            scope=f"user:{user.pk}",
            key=client_alert_id,
            body={**body, "resident_id": resident.pk},
            field="client_alert_id",
            run=lambda: _created(
                press_for(
                    resident=resident,
                    household=None,
                    source=Alert.Source.RESIDENT_APP if own else Alert.Source.WORKER,
                    raised_by=user,
                    press=Press(kind=kind, fix=fix, detail={"transport": "app"}),
                )
            ),
        )
    metrics.observe_press("app" if own else "worker", started)
    return answer


# A resident's emergency contacts are texted at most once in this window, however often
# the button is pressed (issue 11: a press is never refused, the family is not spammed).
CONTACTS_QUIET = timedelta(minutes=5)


def press_for(
    *,
    resident: Resident,
    household: Household | None,
    source: str,
    press: Press,
    device: Device | None = None,
    raised_by: User | None = None,
) -> Alert:
    """The one rule for repeated presses (and issue 11's press rate limit), whatever the
    device or transport: while the resident has an active alert of this kind the press joins
    it as "pressed again" (tier and clock untouched, responders told, no new ring); otherwise
    a new alert, whose contacts are texted unless an alert of this kind was raised for the
    resident within CONTACTS_QUIET. A press is never refused. One statement decides."""
    _serialise_presses(resident.pk)
    now = timezone.now()
    found = selectors.press_target(resident.pk, press.kind, since=now - CONTACTS_QUIET)
    if found is not None and found[1]:
        return press_again(
            alert_id=found[0], source=source, press=press, device=device, raised_by=raised_by
        )
    with stream_batch():
        return _raise(
            resident=resident,
            household=household or _household_of(resident),
            kind=press.kind,
            source=source,
            device=device,
            raised_by=raised_by,
            fix=press.fix,
            battery=press.battery,
            detail=press.detail,
            text_contacts=found is None,
        )


def _serialise_presses(resident_id: int) -> None:
    """Two devices of one resident pressing at once make one alert: the fold look-up runs
    under a transaction-scoped advisory lock keyed on the resident (one statement, released
    at commit). SQLite serialises writers already, so the embedded path takes none."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PRESS_LOCK_SPACE, resident_id])


def press_again(
    *,
    alert_id: int,
    source: str,
    press: Press,
    device: Device | None = None,
    raised_by: User | None = None,
) -> Alert:
    """One more press (or the same technical alarm again) on an open alert: counted, on the
    timeline, and everyone following the alert told (not rung: the tier's call stands)."""
    # Its deadline read with the row (the press does not move it): no statement of its own.
    alert = selectors.with_deadline(selectors.locked_for_update()).get(pk=alert_id)
    alert.presses += 1
    alert.save(update_fields=["presses"])
    data: dict[str, Any] = {"count": alert.presses, "source": source, **press.detail}
    if device is not None:
        data["device_id"] = device.device_id
    step = add_step(alert, "pressed_again", actor=raised_by, fix=press.fix, data=data)
    tell(alert, "alert.updated", step=step)
    return alert


def _household_of(resident: Resident) -> Household:
    return (
        Household.objects.select_related("grid__community")
        .defer("grid__boundary")
        .get(pk=resident.household_id)
    )


def do_raise_alert(
    *,
    resident: Resident,
    kind: str,
    source: str,
    household: Household | None = None,
    device: Device | None = None,
    raised_by: User | None = None,
    fix: Fix | None = None,
    battery: int | None = None,
    detail: dict[str, Any] | None = None,
) -> Alert:
    """Commit a new alert and call its first tier. Call inside `transaction.atomic()`.
    `household` is the resident's, loaded with its grid and community (read when not given).
    A resident's press goes through `press_for` instead (it folds repeats)."""
    with stream_batch():
        return _raise(
            resident=resident,
            household=household or _household_of(resident),
            kind=kind,
            source=source,
            device=device,
            raised_by=raised_by,
            fix=fix,
            battery=battery,
            detail=detail,
        )


def _raise(
    *,
    resident: Resident,
    household: Household,
    kind: str,
    source: str,
    device: Device | None,
    raised_by: User | None,
    fix: Fix | None,
    battery: int | None,
    detail: dict[str, Any] | None = None,
    text_contacts: bool = True,
) -> Alert:
    now = timezone.now()
    alert = Alert(
        kind=kind,
        source=source,
        device=device,
        raised_by=raised_by,
        resident=resident,
        household=household,
        grid=household.grid,
        community=household.grid.community,
        location=fix.point() if fix else None,
        accuracy_m=fix.accuracy_m if fix else None,
        battery=battery,
        created_at=now,
    )
    steps = [
        _new_step(
            alert, "raised", actor=raised_by, fix=fix, data={**(detail or {}), "source": source}
        )
    ]
    steps[0].data["kind"] = kind
    if alert.is_technical:
        alert.save()
        managers = selectors.grid_managers(alert.grid_id)
        _add_recipients(alert, managers, tier=1)
        record_events(
            user_ids=set(managers) | set(selectors.watchers(alert)),
            type="alert.raised",
            data=alert_summary(alert, now, escalates_at=None),  # a technical alarm never escalates
        )
    else:
        call = _next_tier(alert, now, called=set())
        if kind == AlertKind.FIRE:
            _fire_at_once(alert, now, call, steps)
        call.apply(alert, now, steps, created=True)
        if kind == AlertKind.EMERGENCY and text_contacts:
            # Durable and off the press's path: the dispatcher texts the contacts at once.
            clock.schedule(kind=TEXT_CONTACTS, key=str(alert.pk), due_at=now)
    AlertStep.objects.bulk_create(steps)
    observe.bind(alert_id=alert.pk)  # this request's later log lines name the alert
    logger.info("alert raised", extra={"kind": kind, "source": source, "tier": alert.tier})
    return alert


FIRE_DUTY_TIER = 3  # the community's duty supervisor


def _fire_at_once(alert: Alert, now: datetime, call: _TierCall, steps: list[AlertStep]) -> None:
    """A fire calls tier 1 and the community's duty supervisor at once (the fire policy
    leaves tier 3 out of the escalation for that reason), and the timeline tells whoever
    responds to call 119 first."""
    policy = selectors.policy_for(alert.community_id, alert.kind)
    duty = selectors.tier_members(alert, FIRE_DUTY_TIER, policy, now, called=call.called)
    if duty:
        call.members = sorted(set(call.members) | set(duty))
        call.called |= set(duty)
        if call.tier is None:
            call.tier, call.timeout_s = FIRE_DUTY_TIER, policy.timeout(FIRE_DUTY_TIER) or 60
    steps.append(_new_step(alert, "call_119", note=CALL_119, data={"number": "119"}))


CALL_119 = "火警：请先拨打119报警，再赶赴现场 / Fire: call 119 first, then go to the address"


def _add_recipients(alert: Alert, user_ids: list[int], tier: int) -> None:
    if user_ids:
        AlertRecipient.objects.bulk_create(
            [AlertRecipient(alert=alert, user_id=uid, tier=tier) for uid in user_ids],
            ignore_conflicts=True,
        )


@dataclass
class _TierCall:
    """The next tier to call (or none left), worked out before anything is written."""

    called: set[int]
    tier: int | None = None
    members: list[int] = field(default_factory=list)
    timeout_s: int = 0
    skipped: list[int] = field(default_factory=list)

    def apply(self, alert: Alert, now: datetime, steps: list[AlertStep], created: bool) -> None:
        """Write the call: the alert's tier and deadline, recipients, timer, timeline, events."""
        steps += [
            _new_step(alert, "tier_skipped", data={"tier": t, "reason": "nobody on duty"})
            for t in self.skipped
        ]
        # The deadline is stored once, as the escalation timer's due_at (issue 9).
        due_at = None
        if self.tier is not None:
            alert.tier = self.tier
            due_at = now + timedelta(seconds=self.timeout_s)
        if created:
            alert.save()
        else:
            alert.save(update_fields=["tier"])
        watchers = set(selectors.watchers(alert))
        summary = alert_summary(alert, now, escalates_at=due_at)
        if self.tier is None:
            steps.append(_new_step(alert, "escalation_exhausted", data={"tier": alert.tier}))
            record_events(user_ids=self.called | watchers, type="alert.updated", data=summary)
            return
        _add_recipients(alert, self.members, self.tier)
        clock.schedule(
            kind=ESCALATE,
            key=str(alert.pk),
            due_at=due_at,  # type: ignore[arg-type]
            payload={"tier": self.tier},
        )
        steps.append(
            _new_step(
                alert,
                "tier_called",
                data={"tier": self.tier, "user_ids": self.members, "timeout_s": self.timeout_s},
            )
        )
        record_events(user_ids=self.members, type="alert.raised", data=summary, urgent=True)
        others = (self.called | watchers) - set(self.members)
        record_events(user_ids=others, type="alert.updated", data=summary)


def _next_tier(alert: Alert, now: datetime, *, called: set[int]) -> _TierCall:
    """The next tier after the alert's that has someone on duty; empty tiers are skipped (and
    the timeline says so)."""
    policy = selectors.policy_for(alert.community_id, alert.kind)
    call = _TierCall(called=set(called))
    for tier in range(alert.tier + 1, selectors.TIERS + 1):
        timeout = policy.timeout(tier)
        if timeout <= 0:
            continue
        members = selectors.tier_members(alert, tier, policy, now, called=called)
        if not members:
            call.skipped.append(tier)
            continue
        call.tier, call.members, call.timeout_s = tier, members, timeout
        call.called |= set(members)
        return call
    return call


def escalate(*, alert_id: int, tier: int) -> None:
    """The escalation timer's handler: only if the alert is still open at that tier."""
    alert = selectors.locked_for_update().filter(pk=alert_id).first()
    if alert is None or alert.state != Alert.State.OPEN or alert.tier != tier:
        return
    now = timezone.now()
    with stream_batch():
        steps = [_new_step(alert, "escalated", data={"from_tier": tier})]
        called = set(alert.recipients.values_list("user_id", flat=True))
        _next_tier(alert, now, called=called).apply(alert, now, steps, created=False)
        AlertStep.objects.bulk_create(steps)


def text_emergency_contacts(*, alert_id: int) -> int:
    """The contacts' SMS of an emergency (a timer's handler, so it survives a crash): one
    outbox row per contact, written in the timer's transaction and sent by the dispatcher."""
    alert = (
        Alert.objects.select_related("resident", "community")
        .defer(*selectors.UNSHOWN_RESIDENT_FIELDS)
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        return 0
    return delivery.text_contacts(alert)


# -- the lifecycle -------------------------------------------------------------------------


def _locked(user: User, alert_id: int) -> Alert:
    selectors.get_alert(user, alert_id)  # 404 when out of scope, before taking any lock
    return selectors.locked_for_update().get(pk=alert_id)


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
            add_step(alert, "acknowledged", actor=user)
            tell(alert, "alert.updated")
        delivery.stop_ladder(alert, [user.pk], "acknowledged")
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
        alert.save(update_fields=["state", "accepted_by", "accepted_at"])
        clock.cancel(kind=ESCALATE, key=str(alert.pk))
        AlertRecipient.objects.filter(alert=alert, user=user, acknowledged_at__isnull=True).update(
            acknowledged_at=now
        )
        add_step(alert, "accepted", actor=user, fix=fix)
        tell(alert, "alert.updated")
        delivery.stop_ladder(alert, None, "accepted")
        if alert.kind == AlertKind.EMERGENCY:
            delivery.call_back_resident(alert, user)
    return alert


def do_decline(*, user: User, alert_id: int) -> Alert:
    """A recipient cannot go (keypress 2): their ladder stops, and once every recipient of
    the current tier has declined, the next tier is called now instead of at the deadline."""
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        if alert.state != Alert.State.OPEN:
            raise _refuse_state(alert)
        delivery.stop_ladder(alert, [user.pk], "declined")
        add_step(alert, "declined", actor=user)
        tier = set(alert.recipients.filter(tier=alert.tier).values_list("user_id", flat=True))
        declined = set(
            alert.timeline.filter(kind="declined", actor_id__in=tier).values_list(
                "actor_id", flat=True
            )
        )
        if tier and tier <= declined:
            clock.schedule(
                kind=ESCALATE,
                key=str(alert.pk),
                due_at=timezone.now(),
                payload={"tier": alert.tier},
            )
        tell(alert, "alert.updated")
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
        add_step(alert, "arrived", actor=user, fix=fix)
        tell(alert, "alert.updated")
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
        add_step(
            alert, "resolved", actor=user, fix=fix, note=note, data={"disposition": disposition}
        )
        delivery.stop_ladder(alert, None, "settled")
        tell(alert, "alert.updated")
        if alert.kind == AlertKind.EMERGENCY:
            do_follow_up_after_alert(alert=alert)  # a visit within 24 h, in this transaction
    return alert


def do_cancel_false_press(
    *, alert_id: int, user: User | None = None, signed: SignedRequest | None = None
) -> Alert:
    """The resident (their account or their device) cancels within 60 s of the press."""
    with transaction.atomic(), stream_batch():
        if signed is not None:
            signed.consume_nonce()
        if user is not None:
            alert = _locked(user, alert_id)
            if user.role != Role.RESIDENT or alert.resident_id != user.resident_id:
                raise ApiError("permission_denied", status=403)
        else:
            found = (
                selectors.locked_for_update()
                .filter(pk=alert_id, device=signed.device if signed else None)
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
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["state", "disposition", "resolved_at"])
        clock.cancel(kind=ESCALATE, key=str(alert.pk))
        add_step(alert, "cancelled", actor=user, data={"by": "device" if signed else "resident"})
        delivery.stop_ladder(alert, None, "settled")
        tell(alert, "alert.updated")
    return alert


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
        alert.save(update_fields=["state", "accepted_by", "accepted_at"])
        clock.cancel(kind=ESCALATE, key=str(alert.pk))
        delivery.stop_ladder(alert, None, "settled")
        _add_recipients(alert, [assignee.pk], tier=alert.tier)
        step = add_step(
            alert,
            "assigned" if previous is None else "reassigned",
            actor=user,
            note=note,
            data={
                "assignee": {"id": assignee.pk, "name": assignee.name},
                "previous": {"id": previous.pk, "name": previous.name} if previous else None,
            },
        )
        tell(alert, "alert.raised", user_ids=[assignee.pk], urgent=True, step=step)
        others = set(selectors.audience(alert)) | ({previous.pk} if previous else set())
        tell(alert, "alert.updated", user_ids=sorted(others - {assignee.pk}), step=step)
    return alert


def do_add_note(*, user: User, alert_id: int, note: str) -> AlertStep:
    """A note on the alert's timeline by anyone who may see the alert (not residents)."""
    note = _check_note(note, required=True)
    with transaction.atomic(), stream_batch():
        alert = _locked(user, alert_id)
        if user.role == Role.RESIDENT:
            raise ApiError("permission_denied", status=403)
        step = add_step(alert, "note", actor=user, note=note)
        tell(alert, "alert.updated", step=step)
    return step
