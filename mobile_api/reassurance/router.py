"""A resident's reassurance calls (关爱电话): their timeline, in the caller's scope."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from backend.audit.actions import client_of, ip_of
from backend.core.api_errors import responses
from backend.reassurance import selectors
from backend.reassurance.models import ReassuranceEntry
from mobile_api.security import caller, caller_scope

router = Router(tags=["reassurance"])


class ReassuranceEntryOut(Schema):
    kind: str
    at: datetime
    week: date
    call_state: str
    data: dict[str, Any]

    @staticmethod
    def resolve_week(obj: ReassuranceEntry) -> date:
        return obj.call.week

    @staticmethod
    def resolve_call_state(obj: ReassuranceEntry) -> str:
        return str(obj.call.state)


@router.get(
    "/residents/{resident_id}/reassurance",
    response=responses({200: list[ReassuranceEntryOut]}, 401, 404, 422),
)
def reassurance_timeline(request: HttpRequest, resident_id: int) -> list[ReassuranceEntry]:
    """The resident's weekly reassurance calls, oldest first: `called`, `fine` (pressed 1),
    `keypress` (another key), `missed` (`data.why`: no_answer, no_keypress, dead, ...) and
    `visit_raised` (`data.task_id`: the visit two misses in a row put on the grid's list).
    Every read is written to the audit trail, as a read of the resident's record."""
    return selectors.read_timeline(
        caller_scope(request),
        resident_id,
        reader=caller(request),
        client=client_of(request),
        ip=ip_of(request),
    )
