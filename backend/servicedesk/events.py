"""What the service desk tells people about a case: the JSON-safe picture every stream event
carries, who hears it, and the SMS texts for residents without the app."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from backend.core.personal import mask_name
from backend.core.stream import batch as stream_batch
from backend.core.stream import record_events

from . import selectors
from .models import Case, CaseState

logger = logging.getLogger(__name__)


def case_summary(case: Case) -> dict[str, Any]:
    """The JSON-safe picture of a case each event carries (the resident's name masked)."""
    return {
        "case_id": case.pk,
        "number": case.number,
        "state": case.state,
        "item": {
            "code": case.item.code,
            "name_zh": case.item.name_zh,
            "name_en": case.item.name_en,
        },
        "queue": case.queue_key,
        "resident": (
            {"id": case.resident_id, "name": mask_name(case.resident.name)}
            if case.resident
            else None
        ),
        "household_id": case.household_id,
        "grid_id": case.grid_id,
        "community_id": case.community_id,
        "filed_by_id": case.filed_by_id,
        "assignee_id": case.assignee_id,
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "paused": case.state == CaseState.MATERIAL_NEEDED,
        "overdue": case.overdue_at is not None,
        "updated_at": case.updated_at.isoformat(),
    }


def tell(
    case: Case,
    *,
    urgent_to: Iterable[int] = (),
    also: Iterable[int] = (),
    type: str = "case.updated",
    audience: Iterable[int] | None = None,
) -> None:
    """`type` to the case's audience (or the one given) plus `also`; urgent (pushed when the
    phone has no live socket) to `urgent_to`."""
    urgent = set(urgent_to)
    base = set(selectors.audience(case) if audience is None else audience)
    everyone = base | set(also) | urgent
    data = case_summary(case)
    with stream_batch():  # one pass over the cursors, in id order
        if everyone - urgent:
            record_events(user_ids=everyone - urgent, type=type, data=data)
        if urgent:
            record_events(user_ids=urgent, type=type, data=data, urgent=True)


def staff(case: Case) -> list[int]:
    """The audience without the resident: for the clock's internal warnings."""
    return [uid for uid in selectors.audience(case) if uid not in selectors.resident_accounts(case)]


def text_resident(case: Case, result: str) -> None:
    """Tell a resident without an app account by template SMS, through the outbox (written
    in this transaction, sent by the dispatcher)."""
    from backend.notify import outbox

    if selectors.resident_accounts(case):
        return  # they read it in the resident app
    phone = (case.resident.phone if case.resident else "") or case.contact_phone
    if not phone:
        return
    outbox.enqueue(
        channel="sms",
        subject=f"case:{case.pk}",
        to=phone,
        template="case_result",
        params={"item": case.item.name_zh[:35], "number": str(case.number)[:35], "result": result},
    )


RESIDENT_TEXTS = {
    "approve": "已办理完成（批准）",
    "reject": "未予批准",
    "close": "已办结，欢迎在居民端或向网格员评价本次服务（1-5分）",
}


def tell_resident(case: Case, action: str) -> None:
    """The resident hears of a decision and of the close (in the app, else by SMS)."""
    if action not in RESIDENT_TEXTS:
        return
    if action == "close":
        accounts = selectors.resident_accounts(case)
        if accounts:
            record_events(user_ids=accounts, type="case.rating_requested", data=case_summary(case))
    result = RESIDENT_TEXTS[action]
    if action in ("approve", "reject") and case.item.in_person_delivery:
        result += "，网格员将上门送达结果"
    text_resident(case, result[:35])
