"""Reads for alerts: the policy in force, who is in each tier, who watches, who may see."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.db.models.functions import Distance
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import DutyShift, GridAssignment, Role, User, WorkerPosition
from backend.accounts.selectors import b_post_workers, field_staff, scope_for
from backend.core.errors import NotFound
from backend.territory.scope import scope_filter

from .models import Alert, AlertKind, AlertStep, EscalationPolicy

DEFAULT_TIMEOUTS: dict[str, list[int]] = {
    AlertKind.EMERGENCY: [60, 60, 60, 60],
    # A green "help" press is not life-threatening: longer tiers, no district officer.
    AlertKind.HELP: [300, 300, 600, 0],
}
TIERS = 4


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
    changed a few times a year: kept per process for POLICY_TTL (and dropped at once in the
    process that saves one), so a change reaches every process within seconds."""
    key = (community_id, kind)
    cached = _policies.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    policy = _read_policy(community_id, kind)
    _policies[key] = (time.monotonic() + POLICY_TTL, policy)
    return policy


POLICY_TTL = 5.0
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
        managers = GridAssignment.objects.filter(grid_id=alert.grid_id).values("user_id")
        ids = shifts.filter(
            Q(community_id=alert.community_id),
            Q(grid__isnull=True) | Q(grid_id=alert.grid_id),
            user_id__in=managers,
        ).values_list("user_id", flat=True)
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


def grid_managers(grid_id: int) -> list[int]:
    """B-post holders of the grid, on duty or not (technical alarms go to them)."""
    return b_post_workers([grid_id]).get(grid_id, [])


def watchers(alert: Alert) -> list[int]:
    """Who follows every alert of the community: its supervisors and the district officers,
    and the resident's own account."""
    ids = set(
        User.objects.filter(
            Q(role=Role.SUPERVISOR, community_id=alert.community_id)
            | Q(role=Role.DISTRICT_ADMIN, district_id=alert.community.district_id)
            | Q(role=Role.DISTRICT_ADMIN, district__isnull=True)
            | Q(role=Role.RESIDENT, resident_id=alert.resident_id),
            is_active=True,
        ).values_list("pk", flat=True)
    )
    return sorted(ids)


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
    qs = Alert.objects.filter(alert_filter(user)).distinct()
    if state:
        qs = qs.filter(state=state)
    return qs.select_related("resident", "household", "accepted_by").order_by("-created_at")


def get_alert(user: User, alert_id: int) -> Alert:
    alert = alerts_for(user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound()
    return alert


def assignable_users(community_id: int) -> QuerySet[User]:
    """Who a supervisor may hand an alert of this community to."""
    return field_staff([community_id])


ACTIVE_STATES = (Alert.State.OPEN, Alert.State.ACCEPTED, Alert.State.ARRIVED)


def recent_alerts(user: User, *, now: datetime, ended_within: timedelta) -> QuerySet[Alert]:
    """Every active alert in scope, and those ended within `ended_within` (the board's)."""
    return (
        Alert.objects.filter(alert_filter(user))
        .filter(Q(state__in=ACTIVE_STATES) | Q(resolved_at__gte=now - ended_within))
        .select_related("resident", "household", "accepted_by")
        .defer(*UNSHOWN_RESIDENT_FIELDS)  # the summary shows a masked name only
        .distinct()
        .order_by("-created_at")
    )


def timeline(alert: Alert) -> QuerySet[AlertStep]:
    return alert.timeline.select_related("actor").order_by("at", "pk")


def positions(user_ids: Iterable[int]) -> dict[int, WorkerPosition]:
    return {p.user_id: p for p in WorkerPosition.objects.filter(user_id__in=list(user_ids))}
