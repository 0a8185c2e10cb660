"""Reads for alerts: the policy in force, who is in each tier, who watches, who may see."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from backend.accounts.models import DutyShift, GridAssignment, Role, User, WorkerPosition
from backend.accounts.selectors import b_post_workers, field_staff, scope_for
from backend.audit.actions import do_record_read, seen
from backend.audit.models import AuditEvent
from backend.core.errors import NotFound
from backend.core.models import Timer
from backend.territory.scope import scope_filter

from .models import PERSON_KINDS, URGENT_KINDS, Alert, AlertKind, AlertStep, EscalationPolicy

DEFAULT_TIMEOUTS: dict[str, list[int]] = {
    AlertKind.EMERGENCY: [60, 60, 60, 60],
    # A green "help" press is not life-threatening: longer tiers, no district officer.
    AlertKind.HELP: [300, 300, 600, 0],
    # A fire calls tier 1 and the community's duty supervisor at once (actions._fire_at_once),
    # so tier 3 is left out of its escalation.
    AlertKind.FIRE: [60, 60, 0, 60],
}
TIERS = 4

# The escalation timer (backend/core/clock.py) of an alert: kind ESCALATE, key the alert's id.
# Its due_at is the one stored escalation deadline (issue 9).
ESCALATE = "alert.escalate"
_UNREAD = object()


def _pending_escalations() -> QuerySet[Timer]:
    return Timer.objects.filter(kind=ESCALATE, fired_at__isnull=True, cancelled_at__isnull=True)


def escalation_deadline(alert: Alert) -> datetime | None:
    """When the open alert calls its next tier (its pending escalation timer); None once it
    is accepted, ended or out of tiers. No statement for an alert read through `with_deadline`
    (or `by_urgency`, `get_alert`) or one that is not open; else one, on the timer's (kind,
    key) index."""
    if alert.state != Alert.State.OPEN:
        return None
    annotated: object = getattr(alert, "escalates_at", _UNREAD)
    if isinstance(annotated, datetime) or annotated is None:  # with_deadline's annotation
        return annotated
    due: datetime | None = (
        _pending_escalations().filter(key=str(alert.pk)).values_list("due_at", flat=True).first()
    )
    return due


def with_deadline(qs: QuerySet[Alert]) -> QuerySet[Alert]:
    """Alerts annotated `escalates_at`: the due_at of their pending escalation timer, in the
    same statement (a subquery on the timer's (kind, key) index)."""
    due = _pending_escalations().filter(key=Cast(OuterRef("pk"), CharField())).values("due_at")
    return qs.annotate(escalates_at=Subquery(due[:1]))


@dataclass(frozen=True)
class Policy:
    tier_timeouts: tuple[int, ...]
    nearest_workers: int = 3
    position_max_age_s: int = 600
    heartbeat_misses: int = 3
    low_battery_percent: int = 20

    def timeout(self, tier: int) -> int:
        return self.tier_timeouts[tier - 1] if tier <= len(self.tier_timeouts) else 0


def policy_for(community_id: int, kind: str) -> Policy:
    """The policy in force for a community and kind. Read on every press and heartbeat and
    changed a few times a year: kept per process for settings.POLICY_CACHE_S (and dropped at
    once in the process that saves one), so a change reaches every process within seconds."""
    key = (community_id, kind)
    cached = _policies.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    policy = _read_policy(community_id, kind)
    _policies[key] = (time.monotonic() + settings.POLICY_CACHE_S, policy)
    return policy


_policies: dict[tuple[int, str], tuple[float, Policy]] = {}


@receiver([post_save, post_delete], sender=EscalationPolicy)
def _forget_policies(**kwargs: Any) -> None:
    _policies.clear()


def _read_policy(community_id: int, kind: str) -> Policy:
    rows = sorted(
        EscalationPolicy.objects.filter(
            Q(community_id=community_id) | Q(community__isnull=True), kind=kind
        ),
        key=lambda p: p.community_id is None,  # the community's own first, then the default
    )
    if rows:
        p = rows[0]
        return Policy(
            tuple(int(t) for t in p.tier_timeouts) or tuple(DEFAULT_TIMEOUTS.get(kind, [60])),
            p.nearest_workers,
            p.position_max_age_s,
            p.heartbeat_misses,
            p.low_battery_percent,
        )
    return Policy(tuple(DEFAULT_TIMEOUTS.get(kind, [60, 60, 60, 60])))


def _on_duty(now: datetime) -> QuerySet[DutyShift]:
    return DutyShift.objects.filter(starts_at__lte=now, ends_at__gt=now, user__is_active=True)


def tier_members(
    alert: Alert, tier: int, policy: Policy, now: datetime, *, called: set[int]
) -> list[int]:
    """User ids to call at `tier`, excluding `called` (everyone called so far)."""
    shifts = _on_duty(now)
    ids: Iterable[int]
    if tier == 1:
        ids = _grid_managers_on_duty(alert.grid_id, alert.community_id, now)
    elif tier == 2:
        on_duty = shifts.filter(community_id=alert.community_id, user__role=Role.WORKER).values(
            "user_id"
        )
        fresh = now - timedelta(seconds=policy.position_max_age_s)
        # The community's on-duty workers are a few dozen rows: filter, then order in metres.
        candidates = WorkerPosition.objects.filter(user_id__in=on_duty, at__gte=fresh).exclude(
            user_id__in=called
        )
        target = alert.location or alert.household.location
        ids = list(
            candidates.annotate(d=Distance("location", target))
            .order_by("d")
            .values_list("user_id", flat=True)[: policy.nearest_workers]
        )
    elif tier == 3:
        ids = shifts.filter(
            community_id=alert.community_id, user__role=Role.SUPERVISOR
        ).values_list("user_id", flat=True)
    else:
        ids = shifts.filter(
            Q(user__district_id=alert.community.district_id) | Q(user__district__isnull=True),
            community__isnull=True,
            user__role=Role.DISTRICT_ADMIN,
        ).values_list("user_id", flat=True)
    return sorted(set(ids) - called)


def _grid_managers_on_duty(grid_id: int, community_id: int, now: datetime) -> list[int]:
    """Tier 1: the grid's B-post holders with a shift of its community (the whole community
    or this grid) running now. Read on every press: one statement written here instead of a
    query the ORM compiles each time (the compiling cost more than running it)."""
    q = connection.ops.quote_name
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.{q('user_id')} FROM {q(DutyShift._meta.db_table)} s "  # noqa: S608
            f"JOIN {q(User._meta.db_table)} u ON u.{q('id')} = s.{q('user_id')} "
            f"WHERE s.{q('starts_at')} <= %s AND s.{q('ends_at')} > %s "
            f"AND u.{q('is_active')} AND s.{q('community_id')} = %s "
            f"AND (s.{q('grid_id')} IS NULL OR s.{q('grid_id')} = %s) "
            f"AND s.{q('user_id')} IN (SELECT {q('user_id')} "
            f"FROM {q(GridAssignment._meta.db_table)} WHERE {q('grid_id')} = %s)",
            [at, at, community_id, grid_id, grid_id],
        )
        return [int(row[0]) for row in cursor.fetchall()]


def grid_managers(grid_id: int) -> list[int]:
    """B-post holders of the grid, on duty or not (technical alarms go to them)."""
    return b_post_workers([grid_id]).get(grid_id, [])


def watchers(alert: Alert) -> list[int]:
    """Who follows every alert of the community: its supervisors and the district officers,
    and the resident's own account."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Read on every press and step of an alert: written here, not compiled by the ORM.
        cursor.execute(
            f"SELECT {q('id')} FROM {q(User._meta.db_table)} WHERE {q('is_active')} AND ("  # noqa: S608
            f"({q('role')} = %s AND {q('community_id')} = %s) "
            f"OR ({q('role')} = %s AND ({q('district_id')} = %s OR {q('district_id')} IS NULL)) "
            f"OR ({q('role')} = %s AND {q('resident_id')} = %s))",
            [
                str(Role.SUPERVISOR),
                alert.community_id,
                str(Role.DISTRICT_ADMIN),
                alert.community.district_id,
                str(Role.RESIDENT),
                alert.resident_id,
            ],
        )
        return sorted({int(row[0]) for row in cursor.fetchall()})


def audience(alert: Alert) -> list[int]:
    """Everyone told of the alert's changes: recipients so far, and the watchers."""
    return sorted(set(alert.recipients.values_list("user_id", flat=True)) | set(watchers(alert)))


def locked_for_update() -> QuerySet[Alert]:
    """Alerts locked (SELECT ... FOR UPDATE of the alert row) with what their events show:
    community, household, resident and whoever accepted. The summary shows a masked name
    only, so the resident's encrypted fields are not loaded (nor decrypted)."""
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("community", "household", "resident", "accepted_by")
        .defer(*UNSHOWN_RESIDENT_FIELDS)
    )


UNSHOWN_RESIDENT_FIELDS = ("resident__id_number", "resident__health_notes")


LIVE_STATES = (Alert.State.OPEN, Alert.State.ACCEPTED, Alert.State.ARRIVED)


def alert_filter(user: User) -> Q:
    """Alerts in the user's scope, and those they were called to while the alert is live
    (open, accepted, arrived): a worker called from another grid, or one who has since lost
    the grid, does not keep reading the resident's address once it is over."""
    return scope_filter(
        scope_for(user),
        grid="grid_id",
        community="community_id",
        district="community__district_id",
        resident="resident_id",
        also=Q(recipients__user=user, state__in=LIVE_STATES),
    )


def alerts_for(user: User, *, state: str | None = None) -> QuerySet[Alert]:
    """The user's alerts, most urgent first (`by_urgency`)."""
    qs = Alert.objects.filter(alert_filter(user)).distinct()
    if state:
        qs = qs.filter(state=state)
    return by_urgency(qs.select_related("resident", "household", "accepted_by"))


def by_urgency(qs: QuerySet[Alert]) -> QuerySet[Alert]:
    """The order a supervisor reads a flood in:
    0. emergencies and fires nobody has accepted, newest first — a new tier-1 emergency is
       always at the top (an older one is already calling higher tiers, its clock shows);
    1. other open calls for help, 2. accepted or arrived, 3. open technical alarms, each by
       tier reached (highest first), then age (oldest first);
    4. ended, most recent first.
    Repeated presses are one alert already (`presses` counts them). Each alert is annotated
    `escalates_at` (`with_deadline`)."""
    active = (Alert.State.ACCEPTED, Alert.State.ARRIVED)
    urgency = Case(
        When(state=Alert.State.OPEN, kind__in=URGENT_KINDS, then=Value(0)),
        When(state=Alert.State.OPEN, kind__in=PERSON_KINDS, then=Value(1)),
        When(state__in=active, then=Value(2)),
        When(state=Alert.State.OPEN, then=Value(3)),
        default=Value(4),
        output_field=IntegerField(),
    )
    return (
        with_deadline(qs)
        .annotate(urgency=urgency)
        .order_by(
            "urgency",
            Case(When(urgency=0, then=F("created_at"))).desc(nulls_last=True),
            Case(When(urgency__lt=4, then=F("tier"))).desc(nulls_last=True),
            Case(When(urgency__lt=4, then=F("created_at"))).asc(nulls_last=True),
            F("resolved_at").desc(nulls_last=True),
            "-pk",
        )
    )


def press_target(resident_id: int, kind: str, *, since: datetime) -> tuple[int, bool] | None:
    """The resident's alert of this kind a new press meets, as (id, active): the active one
    (the press joins it), or else the latest raised since `since`; None when neither. One
    statement, on the (resident, kind, created_at) index."""
    active = Q(state__in=ACTIVE_STATES)
    row = (
        Alert.objects.filter(resident_id=resident_id, kind=kind)
        .filter(active | Q(created_at__gte=since))
        .annotate(active=Case(When(active, then=True), default=False, output_field=BooleanField()))
        .order_by("-active", "-created_at")
        .values_list("pk", "active")
        .first()
    )
    return (int(row[0]), bool(row[1])) if row else None


def get_alert(user: User, alert_id: int) -> Alert:
    alert = alerts_for(user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound()
    return alert


def read_alert(user: User, alert_id: int, *, request: HttpRequest | None = None) -> Alert:
    """An alert (the resident's name, address, position) to show to `user`, audited like
    `people.selectors.read_resident`: one row naming the resident (an out-of-scope id is 404
    and reads nothing)."""
    alert = get_alert(user, alert_id)
    do_record_read(
        actor=user,
        action=AuditEvent.Action.VIEW_ALERT,
        target_type="alert",
        target_id=alert.pk,
        target_ids=seen([alert.resident_id]),
        request=request,
    )
    return alert


def record_alerts_read(
    user: User, alerts: Iterable[Alert], *, request: HttpRequest | None = None, detail: str = ""
) -> None:
    """A list of alerts shown to `user`: one audit row naming the residents on it."""
    do_record_read(
        actor=user,
        action=AuditEvent.Action.LIST_ALERTS,
        target_type="alert",
        target_ids=seen(a.resident_id for a in alerts),
        request=request,
        detail=detail,
    )


def assignable_users(community_id: int) -> QuerySet[User]:
    """Who a supervisor may hand an alert of this community to."""
    return field_staff([community_id])


ACTIVE_STATES = (Alert.State.OPEN, Alert.State.ACCEPTED, Alert.State.ARRIVED)


def recent_alerts(user: User, *, now: datetime, ended_within: timedelta) -> QuerySet[Alert]:
    """Every active alert in scope, and those ended within `ended_within` (the board's), most
    urgent first."""
    return by_urgency(
        Alert.objects.filter(alert_filter(user))
        .filter(Q(state__in=ACTIVE_STATES) | Q(resolved_at__gte=now - ended_within))
        .select_related("resident", "household", "accepted_by")
        .defer(*UNSHOWN_RESIDENT_FIELDS)  # the summary shows a masked name only
        .distinct()
    )


def timeline(alert: Alert) -> QuerySet[AlertStep]:
    return alert.timeline.select_related("actor").order_by("at", "pk")


def positions(user_ids: Iterable[int]) -> dict[int, WorkerPosition]:
    return {p.user_id: p for p in WorkerPosition.objects.filter(user_id__in=list(user_ids))}


def unaccepted_past_tiers() -> dict[tuple[str, ...], float]:
    """For the metrics scrape: open help alerts past ALERT_UNACCEPTED_TIERS tiers, by kind."""
    from django.db.models import Count

    from .models import TECHNICAL_KINDS

    rows = (
        Alert.objects.filter(state=Alert.State.OPEN, tier__gt=settings.ALERT_UNACCEPTED_TIERS)
        .exclude(kind__in=TECHNICAL_KINDS)
        .values("kind")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[str, ...], float] = {(row["kind"],): float(row["n"]) for row in rows}
    for kind in (AlertKind.EMERGENCY, AlertKind.HELP):
        counts.setdefault((str(kind),), 0.0)
    return counts


def reach(alert: Alert) -> list[dict[str, Any]]:
    """Per recipient: each rung of their delivery ladder (channel, status, outcome, when) and
    whether nobody could reach them: the ladder has run out, they never acknowledged, and no
    rung was stopped by an acknowledgement."""
    from backend.notify.models import OutboxMessage

    rungs: dict[int, list[dict[str, Any]]] = {}
    for row in OutboxMessage.objects.filter(
        subject=f"alert:{alert.pk}", user__isnull=False
    ).order_by("user_id", "created_at", "rung"):
        rungs.setdefault(int(row.user_id), []).append(  # type: ignore[arg-type]
            {
                "channel": row.channel,
                "rung": row.rung,
                "status": row.status,
                "outcome": row.outcome,
                "attempts": row.attempts,
                "due_at": row.not_before,
                "tried_at": row.attempted_at,
            }
        )
    people = []
    for recipient in alert.recipients.select_related("user").order_by("tier", "pk"):
        mine = rungs.get(recipient.user_id, [])
        done = bool(mine) and all(_finished(r) for r in mine)
        answered = (
            recipient.acknowledged_at is not None or alert.accepted_by_id == recipient.user_id
        )
        people.append(
            {
                "user": {"id": recipient.user_id, "name": recipient.user.name},
                "tier": recipient.tier,
                "rungs": mine,
                "unreachable": done and not answered,
            }
        )
    return people


def _finished(rung: dict[str, Any]) -> bool:
    """Nothing more will come of this rung: it died, or it went out (a call once its result
    is in)."""
    if rung["status"] == "dead":
        return True
    return rung["status"] == "sent" and (rung["channel"] != "voice" or bool(rung["outcome"]))
