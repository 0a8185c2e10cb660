"""The board's JSON endpoints at /board/api/: a NinjaAPI of its own (session + TOTP + CSRF,
its own OpenAPI document), thin over the board's read model and the alerts' actions.

Out of scope is 404 with the same body as a missing id, as in the mobile API; every error is
the project's error body (backend/core/api_errors.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI

from backend.accounts.actions import do_issue_ticket
from backend.accounts.selectors import scope_for
from backend.alerts import actions, events
from backend.alerts.selectors import escalation_deadline, reach, read_alert, timeline
from backend.assessment.selectors import charts as assessment_charts
from backend.core.api_errors import install_error_handlers, responses
from backend.core.errors import ApiError
from backend.territory.selectors import grid_collection, parse_bbox

from . import selectors
from .auth import BoardSession, board_caller
from .schemas import (
    AlertDetail,
    AlertOut,
    AssessmentChartsOut,
    AssignIn,
    GridCollection,
    HouseholdsOut,
    NoteIn,
    PanelsOut,
    StateOut,
    StepOut,
    TicketOut,
)

api = NinjaAPI(
    title="gridline board API",
    version="1",
    description="The supervisors' dispatch board: a Django session after password + TOTP "
    "(log in at /board/login/), the CSRF token as X-CSRFToken on writes.",
    urls_namespace="board:api",
    auth=BoardSession(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)

HOUSEHOLDS_MAX = 2000


@api.get("/state", response=responses({200: StateOut}, 401), url_name="state")
def state(request: HttpRequest) -> dict[str, Any]:
    """Alerts (active, and ended in the last 30 min), workers with positions and duty, duty
    per grid, as of `last_event_id` (read first)."""
    return selectors.board_state(board_caller(request).user, now=timezone.now(), request=request)


@api.get("/panels", response=responses({200: PanelsOut}, 401), url_name="panels")
def panels(request: HttpRequest) -> dict[str, Any]:
    return selectors.board_panels(board_caller(request).user, request=request)


@api.get(
    "/assessment", response=responses({200: AssessmentChartsOut}, 401, 422), url_name="assessment"
)
def assessment(request: HttpRequest, scheme: str = "worker") -> dict[str, Any]:
    """The assessment page's charts for one kind of scheme (`scheme` = worker, the B post;
    officer, the A post; community): ranking per community, trend across quarters, spread of
    the indicators' points (the cards the caller may see)."""
    return assessment_charts(board_caller(request).user, scheme)


@api.get("/grids", response=responses({200: GridCollection}, 401), url_name="grids")
def grids(request: HttpRequest) -> dict[str, Any]:
    """The caller's grids as a GeoJSON FeatureCollection (WGS 84)."""
    return grid_collection(scope_for(board_caller(request).user))


@api.get("/households", response=responses({200: HouseholdsOut}, 401, 422), url_name="households")
def households(request: HttpRequest, bbox: str) -> dict[str, Any]:
    """Households of the caller's grids in the viewport `bbox=west,south,east,north` (at most
    0.2° each way), at most 2,000."""
    try:
        box = parse_bbox(bbox)
    except ValueError as exc:
        raise ApiError("validation_error", status=422, fields={"bbox": "bbox_invalid"}) from exc
    rows = selectors.households_in_view(
        board_caller(request).user, box, limit=HOUSEHOLDS_MAX + 1, request=request
    )
    return {
        "items": [
            {
                "id": h.pk,
                "address": h.address,
                "lat": h.location.y,
                "lon": h.location.x,
                "grid_id": h.grid_id,
            }
            for h in rows[:HOUSEHOLDS_MAX]
        ],
        "truncated": len(rows) > HOUSEHOLDS_MAX,
    }


@api.get("/alerts/{alert_id}", response=responses({200: AlertDetail}, 401, 404, 422))
def alert_detail(request: HttpRequest, alert_id: int) -> dict[str, Any]:
    alert = read_alert(board_caller(request).user, alert_id, request=request)
    return {
        **events.alert_summary(alert, escalates_at=escalation_deadline(alert)),
        "timeline": [events.step_summary(s) for s in timeline(alert)],
        "reach": reach(alert),
    }


@api.post(
    "/alerts/{alert_id}/assign", response=responses({200: AlertOut}, 400, 401, 403, 404, 409, 422)
)
def assign(request: HttpRequest, alert_id: int, payload: AssignIn) -> dict[str, Any]:
    """Hand the alert to a worker (or supervisor) of its community."""
    alert = actions.do_assign(
        user=board_caller(request).user,
        alert_id=alert_id,
        assignee_id=payload.assignee_id,
        note=payload.note,
    )
    return events.alert_summary(alert, escalates_at=escalation_deadline(alert))


@api.post(
    "/alerts/{alert_id}/notes", response=responses({200: StepOut}, 400, 401, 403, 404, 409, 422)
)
def add_note(request: HttpRequest, alert_id: int, payload: NoteIn) -> dict[str, Any]:
    """A note on the alert's timeline."""
    step = actions.do_add_note(
        user=board_caller(request).user, alert_id=alert_id, note=payload.note
    )
    return events.step_summary(step)


@api.post("/ticket", response=responses({200: TicketOut}, 401, 403), url_name="ticket")
def ticket(request: HttpRequest) -> dict[str, Any]:
    """A one-time websocket ticket bound to this board log-in (revoked at log-out)."""
    value, expires_in = do_issue_ticket(session=board_caller(request).session)
    return {"ticket": value, "expires_in": expires_in, "url": f"/ws/v1/stream?ticket={value}"}
