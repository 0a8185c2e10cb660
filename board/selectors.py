"""What the dispatch board draws, composed from the domains' selectors: the live state (alerts,
workers with positions and duty, duty per grid) and the panels (visit coverage, cases near or
past their SLA)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from django.db.models import Q
from django.http import HttpRequest

from backend.accounts.models import Role, User
from backend.accounts.selectors import OnDuty, b_posts_of, duty_now, field_staff, scope_for
from backend.alerts.events import alert_summary
from backend.alerts.selectors import (
    escalation_deadline,
    positions,
    recent_alerts,
    record_alerts_read,
)
from backend.audit.actions import do_record_read
from backend.audit.models import AuditEvent
from backend.core import stream
from backend.servicedesk.selectors import case_rows, cases_for, record_cases_read
from backend.territory.models import Household
from backend.territory.selectors import grids_for, households_in_bbox
from backend.visits.selectors import coverage_for

ENDED_WITHIN = timedelta(minutes=30)  # an ended alert stays on the board this long
MAX_ALERTS = 1000
PANEL_CASES = 30


def _person(d: OnDuty) -> dict[str, Any]:
    return {"id": d.user_id, "name": d.name, "role": d.role, "until": d.until.isoformat()}


def board_state(user: User, *, now: datetime, request: HttpRequest | None = None) -> dict[str, Any]:
    """Everything the board draws besides the grid polygons, as of `last_event_id`: the
    stream position is read first, so replaying from it can only repeat what this shows,
    never skip it. The alerts shown are one audit row naming their residents."""
    last_event_id = stream.current_seq(user.pk)
    grids = list(grids_for(scope_for(user)).values_list("pk", "community_id"))
    grid_ids = frozenset(g for g, _ in grids)
    community_ids = frozenset(c for _, c in grids)
    district_id = user.district_id if user.role == Role.DISTRICT_ADMIN else None
    by_grid, wide = duty_now(
        community_ids=community_ids, grid_ids=grid_ids, district_id=district_id, now=now
    )
    on_duty = {d.user_id for people in by_grid.values() for d in people} | {d.user_id for d in wide}
    workers = list(
        field_staff(community_ids)
        .order_by("role", "name", "pk")
        .values("pk", "name", "role", "community_id")
    )
    posts = b_posts_of([w["pk"] for w in workers])
    where = positions(w["pk"] for w in workers)
    alerts = list(recent_alerts(user, now=now, ended_within=ENDED_WITHIN)[:MAX_ALERTS])
    record_alerts_read(user, alerts, request=request)
    return {
        "server_time": now.isoformat(),
        "last_event_id": last_event_id,
        "me": {"id": user.pk, "name": user.name, "role": user.role},
        "alerts": [alert_summary(a, now, escalates_at=escalation_deadline(a)) for a in alerts],
        "workers": [
            {
                "id": w["pk"],
                "name": w["name"],
                "role": w["role"],
                "community_id": w["community_id"],
                "grid_ids": sorted(posts.get(w["pk"], [])),
                "on_duty": w["pk"] in on_duty,
                "position": (
                    {
                        "lat": p.location.y,
                        "lon": p.location.x,
                        "accuracy_m": p.accuracy_m,
                        "at": p.at.isoformat(),
                    }
                    if (p := where.get(w["pk"]))
                    else None
                ),
            }
            for w in workers
        ],
        "duty": {
            "grids": {str(g): [_person(d) for d in people] for g, people in by_grid.items()},
            "wide": [_person(d) for d in wide],
        },
    }


def board_panels(user: User, *, request: HttpRequest | None = None) -> dict[str, Any]:
    """Visit coverage per grid, and open cases near (75 % warned) or past their SLA (one
    audit row naming the cases' residents)."""
    near = (
        cases_for(user, open_only=True)
        .filter(Q(warned_at__isnull=False) | Q(overdue_at__isnull=False))
        .order_by("due_at", "id")
    )
    rows = case_rows(near[:PANEL_CASES])
    record_cases_read(user, [cast(int | None, r["resident_id"]) for r in rows], request=request)
    return {
        "coverage": coverage_for(user)["grids"],
        "cases": rows,
        "cases_total": near.count(),
    }


def households_in_view(
    user: User, box: tuple[float, float, float, float], *, limit: int, request: HttpRequest
) -> list[Household]:
    """The households (addresses, positions) of the caller's grids in the viewport, at most
    `limit`: one audit row naming them."""
    rows = list(households_in_bbox(scope_for(user), box, limit=limit))
    do_record_read(
        actor=user,
        action=AuditEvent.Action.LIST_HOUSEHOLDS,
        target_type="household",
        target_ids=[h.pk for h in rows],
        request=request,
    )
    return rows
