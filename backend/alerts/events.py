"""What the stream says about an alert: the JSON-safe payloads every alert event carries."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.utils import timezone

from backend.core.personal import mask_name

from .models import Alert, AlertKind, AlertStep


def alert_summary(
    alert: Alert, now: datetime | None = None, *, escalates_at: datetime | None
) -> dict[str, Any]:
    """The picture of an alert every event carries (resident name masked). Reads only what
    is already loaded with the alert: its resident, household and accepted_by; the caller
    passes the escalation deadline (its timer's due_at: selectors.escalation_deadline, or
    the `escalates_at` of selectors.with_deadline)."""
    now = now or timezone.now()
    if alert.state != Alert.State.OPEN:
        escalates_at = None
    seconds_left = max(0, math.ceil((escalates_at - now).total_seconds())) if escalates_at else None
    return {
        "alert_id": alert.pk,
        "kind": alert.kind,
        "state": alert.state,
        "tier": alert.tier,
        "resident": {"id": alert.resident_id, "name": mask_name(alert.resident.name)},
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
        "escalates_at": escalates_at.isoformat() if escalates_at else None,
        "seconds_left": seconds_left,
        "accepted_by": (
            {"id": alert.accepted_by_id, "name": alert.accepted_by.name}
            if alert.accepted_by_id and alert.accepted_by
            else None
        ),
        "disposition": alert.disposition or None,
        "presses": alert.presses,
        # What the responder does first: a fire is called in to 119 before anything else.
        "call": "119" if alert.kind == AlertKind.FIRE else None,
    }


def step_summary(step: AlertStep) -> dict[str, Any]:
    """A timeline entry as JSON (events of supervisors' steps carry the step they added)."""
    return {
        "kind": step.kind,
        "actor": {"id": step.actor_id, "name": step.actor.name} if step.actor else None,
        "at": step.at.isoformat(),
        "note": step.note,
        "data": step.data,
    }
