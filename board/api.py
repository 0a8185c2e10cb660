"""The board's JSON endpoints (session + TOTP + CSRF): thin, over backend selectors/actions.

Out of scope is 404 with the same body as a missing id, as in the mobile API.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts.actions import do_issue_ticket
from backend.accounts.models import MobileSession, User
from backend.accounts.selectors import scope_for
from backend.alerts import actions, events, selectors
from backend.core.errors import ApiError
from backend.servicedesk.selectors import case_rows, cases_for
from backend.territory.selectors import grid_collection, households_in_bbox, parse_bbox
from backend.visits.selectors import coverage_for

from .auth import board_api, json_body

PANEL_CASES = 30


@board_api("GET")
def state(request: HttpRequest, user: User, session: MobileSession) -> dict[str, Any]:
    return selectors.board_state(user, now=timezone.now())


@board_api("GET")
def panels(request: HttpRequest, user: User, session: MobileSession) -> dict[str, Any]:
    """Visit coverage per grid, and open cases near (75 % warned) or past their SLA."""
    near = (
        cases_for(user, open_only=True)
        .filter(Q(warned_at__isnull=False) | Q(overdue_at__isnull=False))
        .order_by("due_at", "id")
    )
    return {
        "coverage": coverage_for(user)["grids"],
        "cases": case_rows(near[:PANEL_CASES]),
        "cases_total": near.count(),
    }


@board_api("GET")
def grids(request: HttpRequest, user: User, session: MobileSession) -> dict[str, Any]:
    return grid_collection(scope_for(user))


@board_api("GET")
def households(request: HttpRequest, user: User, session: MobileSession) -> dict[str, Any]:
    try:
        bbox = parse_bbox(request.GET.get("bbox", ""))
    except ValueError as exc:
        raise ApiError("validation_error", status=422, fields={"bbox": "bbox_invalid"}) from exc
    limit = 2000
    rows = list(households_in_bbox(scope_for(user), bbox, limit=limit + 1))
    return {
        "items": [
            {
                "id": h.pk,
                "address": h.address,
                "lat": h.location.y,
                "lon": h.location.x,
                "grid_id": h.grid_id,
            }
            for h in rows[:limit]
        ],
        "truncated": len(rows) > limit,
    }


@board_api("GET")
def alert_detail(
    request: HttpRequest, user: User, session: MobileSession, alert_id: int
) -> dict[str, Any]:
    alert = selectors.get_alert(user, alert_id)
    return {
        **events.alert_summary(alert),
        "timeline": [events.step_summary(s) for s in selectors.timeline(alert)],
    }


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        raise ApiError("validation_error", status=422, fields={name: "field_required"})
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError("validation_error", status=422, fields={name: "field_wrong_type"})
    return value


def _str_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ApiError("validation_error", status=422, fields={name: "field_wrong_type"})
    return value


@board_api("POST")
def assign(
    request: HttpRequest, user: User, session: MobileSession, alert_id: int
) -> dict[str, Any]:
    body = json_body(request)
    alert = actions.do_assign(
        user=user,
        alert_id=alert_id,
        assignee_id=_int_field(body, "assignee_id"),
        note=_str_field(body, "note"),
    )
    return events.alert_summary(alert)


@board_api("POST")
def add_note(
    request: HttpRequest, user: User, session: MobileSession, alert_id: int
) -> dict[str, Any]:
    body = json_body(request)
    step = actions.do_add_note(user=user, alert_id=alert_id, note=_str_field(body, "note"))
    return events.step_summary(step)


@board_api("POST")
def ticket(request: HttpRequest, user: User, session: MobileSession) -> dict[str, Any]:
    """A one-time websocket ticket bound to this board log-in (revoked at log-out)."""
    value, expires_in = do_issue_ticket(session=session)
    return {"ticket": value, "expires_in": expires_in, "url": f"/ws/v1/stream?ticket={value}"}
