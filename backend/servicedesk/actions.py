"""Writes of the service desk: intake, routing, the workflow, SLA clocks, documents, ratings.

Every step locks the case row (SELECT ... FOR UPDATE), checks the state first (an illegal
transition is 409 and changes nothing), then who may do it, and writes the new state, its
timeline step, its stream events and its clock timers in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backend.accounts.models import BusinessLine, GridAssignment, Role, User
from backend.alerts.actions import Fix
from backend.core import clock
from backend.core.errors import ApiError
from backend.core.models import IdempotencyRecord
from backend.core.stream import batch as stream_batch
from backend.core.stream import record_events
from backend.people.models import Resident
from backend.territory.models import Grid, Household
from backend.visits import geo
from backend.visits.actions import do_raise_visit_task, fence_for
from backend.visits.models import TaskKind

from . import selectors, workdays
from .models import (
    Case,
    CaseCounter,
    CaseDocument,
    CaseRating,
    CaseState,
    CaseStep,
    Channel,
    Department,
    Open311Key,
    ServiceItem,
)

logger = logging.getLogger(__name__)

SLA_WARNING = "case.sla_warning"
SLA_OVERDUE = "case.sla_overdue"
WARN_AT = 0.75

S = CaseState


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str | None  # None: decided by the action (supply_material returns where it was)
    who: tuple[str, ...]  # "queue", "field", "resident", "supervisor"


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition((S.DRAFT,), S.SUBMITTED, ("field", "resident")),
    "accept": Transition((S.SUBMITTED,), S.ACCEPTED, ("queue",)),
    "request_material": Transition((S.ACCEPTED, S.IN_PROGRESS), S.MATERIAL_NEEDED, ("queue",)),
    "supply_material": Transition((S.MATERIAL_NEEDED,), None, ("field", "resident")),
    "start": Transition((S.ACCEPTED,), S.IN_PROGRESS, ("queue",)),
    "approve": Transition((S.IN_PROGRESS,), S.APPROVED, ("queue",)),
    "reject": Transition((S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS), S.REJECTED, ("queue",)),
    "reassign": Transition(
        (S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS), S.SUBMITTED, ("queue", "supervisor")
    ),
    "deliver": Transition((S.APPROVED, S.REJECTED), S.DELIVERED, ("field", "queue")),
    "close": Transition((S.DELIVERED,), S.CLOSED, ("field", "queue", "supervisor")),
}


# -- what the stream says ------------------------------------------------------------------


def _mask(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if name else ""


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
            {"id": case.resident_id, "name": _mask(case.resident.name)} if case.resident else None
        ),
        "household_id": case.household_id,
        "grid_id": case.grid_id,
        "community_id": case.community_id,
        "filed_by_id": case.filed_by_id,
        "assignee_id": case.assignee_id,
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "paused": case.state == S.MATERIAL_NEEDED,
        "overdue": case.overdue_at is not None,
        "updated_at": case.updated_at.isoformat(),
    }


def _tell(
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


def _staff(case: Case) -> list[int]:
    """The audience without the resident: for the clock's internal warnings."""
    return [uid for uid in selectors.audience(case) if uid not in selectors.resident_accounts(case)]


def _text_resident(case: Case, text: str) -> None:
    """Tell a resident without an app account by SMS, after commit."""
    if selectors.resident_accounts(case):
        return  # they read it in the resident app
    phone = (case.resident.phone if case.resident else "") or case.contact_phone
    if not phone:
        return

    def send() -> None:
        from backend.notify.sms import send_sms

        try:
            send_sms(phone=phone, text=text)
        except Exception:
            logger.warning("SMS to the resident of case %s failed", case.number, exc_info=True)

    transaction.on_commit(send, robust=True)


def _step(
    case: Case,
    kind: str,
    *,
    actor: User | None,
    from_state: str = "",
    fix: Fix | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    duty: str = "",
) -> CaseStep:
    return CaseStep.objects.create(
        duty=duty,
        case=case,
        kind=kind,
        from_state=from_state,
        to_state=case.state if from_state else "",
        actor=actor,
        at=timezone.now(),
        location=fix.point() if fix else None,
        accuracy_m=fix.accuracy_m if fix else None,
        note=note,
        data=data or {},
    )


# -- numbers, routing, clocks ----------------------------------------------------------------


def next_number(day: date) -> str:
    """YYYYMMDD + a 4-digit (or longer) daily sequence, given in commit order per day."""
    table = CaseCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, last) VALUES (%s, 1) "  # noqa: S608
            f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [day],
        )
        (n,) = cursor.fetchone()
    return f"{day:%Y%m%d}{int(n):04d}"


def _route(case: Case, *, line: str = "", department: Department | None = None) -> None:
    if department is not None:
        case.queue_line, case.queue_department = "", department
        case.queue_key = selectors.department_queue_key(department.pk)
    elif line and case.community_id is not None:
        case.queue_line, case.queue_department = line, None
        case.queue_key = selectors.line_queue_key(case.community_id, line)
    else:
        case.queue_line, case.queue_department, case.queue_key = line, None, ""


def _arm(case: Case, now: datetime, calendar: workdays.Calendar | None = None) -> None:
    """(Re)compute due_at from what is left and set the warning and overdue timers."""
    calendar = calendar or workdays.Calendar()
    left = max(0, case.sla_budget_s - case.sla_used_s)
    case.due_at = workdays.add_working_seconds(now, left, calendar)
    key = str(case.pk)
    if case.warned_at is None:
        warn_left = max(0, int(case.sla_budget_s * WARN_AT) - case.sla_used_s)
        clock.schedule(
            kind=SLA_WARNING,
            key=key,
            due_at=workdays.add_working_seconds(now, warn_left, calendar),
        )
    if case.overdue_at is None:
        clock.schedule(kind=SLA_OVERDUE, key=key, due_at=case.due_at)


def _start_clock(case: Case, now: datetime) -> None:
    case.sla_budget_s = case.item.time_limit_days * workdays.DAY
    case.sla_used_s = 0
    case.sla_running_since = now
    _arm(case, now)


def _pause_clock(case: Case, now: datetime) -> None:
    if case.sla_running_since is None:
        return
    case.sla_used_s += workdays.working_seconds(case.sla_running_since, now)
    case.sla_running_since = None
    case.due_at = None
    clock.cancel(kind=SLA_WARNING, key=str(case.pk))
    clock.cancel(kind=SLA_OVERDUE, key=str(case.pk))


def _resume_clock(case: Case, now: datetime) -> None:
    case.sla_running_since = now
    _arm(case, now)


def _stop_clock(case: Case, now: datetime) -> None:
    if case.sla_running_since is not None:
        case.sla_used_s += workdays.working_seconds(case.sla_running_since, now)
        case.sla_running_since = None
    clock.cancel(kind=SLA_WARNING, key=str(case.pk))
    clock.cancel(kind=SLA_OVERDUE, key=str(case.pk))


def used_seconds(case: Case, now: datetime) -> int:
    running = workdays.working_seconds(case.sla_running_since, now) if case.sla_running_since else 0
    return case.sla_used_s + running


def sla_check(*, case_id: int, kind: str) -> None:
    """The warning and overdue timers' handler: acts only if the clock really got there."""
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "resident", "queue_department")
        .filter(pk=case_id)
        .first()
    )
    if case is None or case.sla_running_since is None:
        return
    now = timezone.now()
    threshold = int(case.sla_budget_s * WARN_AT) if kind == SLA_WARNING else case.sla_budget_s
    used = used_seconds(case, now)
    if used + 1 < threshold:  # the calendar changed under the timer: re-arm
        clock.schedule(
            kind=kind,
            key=str(case.pk),
            due_at=workdays.add_working_seconds(now, threshold - used),
        )
        return
    case.updated_at = now
    if kind == SLA_WARNING and case.warned_at is None:
        case.warned_at = now
        case.save(update_fields=["warned_at", "updated_at"])
        _step(case, "sla_warning", actor=None, data={"used_s": used, "budget_s": threshold})
        queue = selectors.queue_members(case)
        _tell(case, type="case.sla_warning", urgent_to=queue, audience=_staff(case))
    elif kind == SLA_OVERDUE and case.overdue_at is None:
        case.overdue_at = now
        case.save(update_fields=["overdue_at", "updated_at"])
        _step(case, "overdue", actor=None, data={"used_s": used, "budget_s": case.sla_budget_s})
        _tell(
            case,
            type="case.overdue",
            urgent_to=selectors.supervisors(case),
            audience=_staff(case),
        )


# -- intake --------------------------------------------------------------------------------


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    *,
    scope: str,
    key: uuid.UUID,
    body: dict[str, Any],
    make: Callable[[], dict[str, Any]],
    field: str = "client_case_id",
) -> tuple[int, dict[str, Any]]:
    """Run `make()` once per (scope, client id); a retry gets the first answer, a different
    body under the same id is 422 (as for alerts)."""
    digest = _request_hash(body)
    for _ in range(2):
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is not None:
            if existing.request_hash != digest:
                raise ApiError("idempotency_mismatch", status=422, fields={field: "field_invalid"})
            return existing.status, existing.body
        try:
            with transaction.atomic():
                response = make()
                IdempotencyRecord.objects.create(
                    scope=scope, key=key, request_hash=digest, status=201, body=response
                )
                return 201, response
        except IntegrityError:
            continue
    raise ApiError("internal_error", status=500)


STAFF_CHANNELS = (Channel.FRONT_DESK, Channel.SERVICE_POINT, Channel.DOORSTEP, Channel.PHONE)


def check_intake(
    *, user: User, item: ServiceItem, resident: Resident, channel: str, proxy: bool
) -> None:
    if user.role == Role.RESIDENT:
        if user.resident_id != resident.pk or proxy or channel != Channel.RESIDENT_APP:
            raise ApiError("permission_denied", status=403)
    elif channel not in STAFF_CHANNELS:
        raise ApiError("validation_error", status=422, fields={"channel": "field_invalid"})
    if proxy and not item.proxy_allowed:
        raise ApiError("item_not_proxy", status=422, fields={"item_code": "item_not_proxy"})
    district_id = resident.household.grid.community.district_id
    if item.district_id not in (None, district_id) or not item.active:
        raise ApiError("validation_error", status=422, fields={"item_code": "field_invalid"})


def do_file_case(
    *,
    item: ServiceItem,
    channel: str,
    filed_by: User | None,
    resident: Resident | None = None,
    household: Household | None = None,
    proxy: bool = False,
    description: str = "",
    fix: Fix | None = None,
    location: Point | None = None,
    address: str = "",
    contact: dict[str, str] | None = None,
    open311_key: Open311Key | None = None,
) -> Case:
    """File a case. A proxy case starts as a draft (consent and documents, then submit);
    anything else is submitted at once. Call inside `transaction.atomic()`."""
    now = timezone.now()
    household = household or (resident.household if resident else None)
    grid = household.grid if household else grid_at(location)
    community = grid.community if grid else None
    contact = contact or {}
    case = Case(
        number=next_number(timezone.localdate(now)),
        item=item,
        state=S.DRAFT,
        district_id=(
            community.district_id
            if community
            else (open311_key.district_id if open311_key else item.district_id)
        ),
        community=community,
        grid=grid,
        household=household,
        resident=resident,
        location=location or (household.location if household else None),
        address=address or (household.address if household else ""),
        description=description,
        channel=channel,
        proxy=proxy,
        filed_by=filed_by,
        open311_key=open311_key,
        contact_name=contact.get("name", ""),
        contact_phone=contact.get("phone", ""),
        contact_email=contact.get("email", ""),
        created_at=now,
        updated_at=now,
    )
    _route(case, line=item.line, department=item.department)
    case.save()
    _step(
        case,
        "filed",
        actor=filed_by,
        fix=fix,
        data={"channel": channel, "proxy": proxy, "queue": case.queue_key},
    )
    if not proxy:
        _submit(case, actor=filed_by, now=now, fix=fix)
    else:
        # A draft concerns the filer and the resident (who may confirm consent in the app).
        filer = [filed_by.pk] if filed_by else []
        _tell(case, audience=filer + selectors.resident_accounts(case))
    return case


def grid_at(location: Point | None) -> Grid | None:
    if location is None:
        return None
    return Grid.objects.filter(boundary__contains=location).select_related("community").first()


def _submit(
    case: Case, *, actor: User | None, now: datetime, fix: Fix | None = None, duty: str = ""
) -> None:
    source = case.state
    case.state = S.SUBMITTED
    case.submitted_at = now
    case.updated_at = now
    _start_clock(case, now)
    case.save()
    _step(case, "submit", actor=actor, from_state=source, fix=fix, duty=duty)
    queue = selectors.queue_members(case)
    if not queue:
        # Never to nobody: the supervisor hears at once so that someone names a queue.
        _step(case, "queue_empty", actor=None, data={"queue": case.queue_key})
        _tell(case, urgent_to=selectors.supervisors(case))
    else:
        _tell(case, urgent_to=queue)


# -- the workflow --------------------------------------------------------------------------


def _locked(user: User, case_id: int) -> Case:
    selectors.get_case(user, case_id)  # 404 when out of scope, before taking any lock
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "resident", "household", "queue_department", "community")
        .get(pk=case_id)
    )


def _roles(user: User, case: Case) -> set[str]:
    roles: set[str] = set()
    if user.role == Role.RESIDENT:
        if user.resident_id is not None and user.resident_id == case.resident_id:
            roles.add("resident")
        return roles
    if case.queue_key and case.queue_key in selectors.queue_keys(user):
        roles.add("queue")
    if user.pk == case.filed_by_id or (
        case.grid_id is not None
        and GridAssignment.objects.filter(user=user, grid_id=case.grid_id).exists()
    ):
        roles.add("field")
    if user.role in (Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        roles.add("supervisor")  # the scope check already kept them to their community
    return roles


def _check(user: User, case: Case, action: str) -> tuple[Transition, str]:
    """The transition, and the post the user acts in ("A" for the queue, "B" for the field)."""
    transition = TRANSITIONS[action]
    if case.state not in transition.sources:
        raise ApiError("case_wrong_state", status=409)
    acting = _roles(user, case) & set(transition.who)
    if not acting:
        raise ApiError("permission_denied", status=403)
    return transition, "A" if "queue" in acting else ("B" if "field" in acting else "")


def do_transition(
    *,
    user: User,
    case_id: int,
    action: str,
    fix: Fix | None = None,
    note: str = "",
    materials: list[str] | None = None,
    reason: str = "",
    target_line: str = "",
    target_department_id: int | None = None,
    delivery_method: str = "",
) -> Case:
    """One step of the workflow (see TRANSITIONS). 409 and nothing changed when the case is
    not in a state the action starts from."""
    with transaction.atomic():
        case = _locked(user, case_id)
        transition, duty = _check(user, case, action)
        now = timezone.now()
        source = case.state
        data: dict[str, Any] = {}
        urgent: list[int] = []
        also: list[int] = []
        if action == "submit":
            if case.proxy and not case.consent_kind:
                raise ApiError("case_consent_missing", status=409)
            _submit(case, actor=user, now=now, fix=fix, duty=duty)
            return case
        if action == "reassign":
            also = selectors.queue_members(case)  # the queue it leaves hears where it went
            data = _reassign(case, reason=reason, line=target_line, dept_id=target_department_id)
            urgent = selectors.queue_members(case)
        elif action == "request_material":
            if not materials:
                raise ApiError(
                    "validation_error", status=422, fields={"materials": "field_required"}
                )
            case.material_list = materials
            case.paused_from = source
            _pause_clock(case, now)
            data = {"materials": materials}
            urgent = [uid for uid in (case.filed_by_id,) if uid] or selectors.grid_managers(case)
        elif action == "supply_material":
            _resume_clock(case, now)
            data = {"materials": case.material_list}
            urgent = selectors.queue_members(case)
        elif action == "reject":
            if not reason.strip():
                raise ApiError("validation_error", status=422, fields={"reason": "field_required"})
            case.decision_reason = reason
        elif action == "approve":
            case.decision_reason = reason or note
        elif action == "deliver":
            data = _check_delivery(user, case, fix=fix, method=delivery_method)
        if action in ("accept", "start"):
            case.assignee = user
        if action in ("approve", "reject"):
            case.decided_at = now
            _stop_clock(case, now)
            urgent = [uid for uid in (case.filed_by_id,) if uid] or selectors.grid_managers(case)
        if action == "deliver":
            case.delivered_at = now
        if action == "close":
            case.closed_at = now
        target = transition.target or case.paused_from or S.ACCEPTED
        if action == "supply_material":
            case.paused_from = ""
        case.state = target
        case.updated_at = now
        case.save()
        if action in ("approve", "reject") and case.item.in_person_delivery and case.household:
            # The result goes back to the door: a delivery task on the grid worker's list.
            do_raise_visit_task(
                household=case.household,
                kind=TaskKind.DELIVERY,
                reason=f"送达{case.item.name_zh}结果（{case.number}）",
                due_at=now + DELIVERY_WITHIN,
                source_kind="case",
                source_ref=str(case.pk),
            )
        _step(
            case,
            action,
            actor=user,
            from_state=source,
            fix=fix,
            note=reason if action in ("reject", "reassign") else note,
            data=data,
            duty=duty,
        )
        _tell(case, urgent_to=urgent, also=also)
        _tell_resident(case, action)
    return case


def _reassign(case: Case, *, reason: str, line: str, dept_id: int | None) -> dict[str, Any]:
    """Move a case to another queue. It must name the queue, and someone must work there."""
    if not reason.strip():
        raise ApiError("validation_error", status=422, fields={"reason": "field_required"})
    if bool(line) == (dept_id is not None):
        raise ApiError(
            "reassign_target_required",
            status=422,
            fields={"target_line": "field_required", "target_department_id": "field_required"},
        )
    department = None
    if dept_id is not None:
        department = Department.objects.filter(pk=dept_id).first()
        if department is None or department.district_id not in (None, case.district_id):
            raise ApiError(
                "validation_error", status=422, fields={"target_department_id": "field_invalid"}
            )
    elif line not in BusinessLine.values or case.community_id is None:
        raise ApiError("validation_error", status=422, fields={"target_line": "field_invalid"})
    before = case.queue_key
    _route(case, line=line, department=department)
    if case.queue_key == before:
        raise ApiError("reassign_same_queue", status=422, fields={"target_line": "field_invalid"})
    if not selectors.queue_members(case):
        raise ApiError("reassign_target_empty", status=409)
    case.assignee = None
    return {"from_queue": before, "to_queue": case.queue_key}


def within_geofence(*, household: Household | None, fix: Fix, fallback: Point | None) -> bool:
    """The visits' check-in rule, so a hand delivery is checked like a visit: the community's
    radius (default 50 m) plus the reported accuracy counted up to its cap (default 100 m),
    measured on the geography (backend.visits.geo)."""
    community_id = household.grid.community_id if household is not None else None
    radius, cap = fence_for(community_id) if community_id is not None else (50, 100)
    fence_m = radius + min(max(fix.accuracy_m or 0.0, 0.0), cap)
    if household is not None:
        [result] = geo.fence([geo.FenceCheck(household.pk, fix.lon, fix.lat, fence_m)])
        return result.within
    if fallback is None:
        return False
    return geo.haversine_m(fix.lon, fix.lat, fallback.x, fallback.y) <= fence_m


DELIVERY_WITHIN = timedelta(days=2)
DELIVERY_METHODS = ("in_person", "app", "sms", "pickup", "post")


def _check_delivery(user: User, case: Case, *, fix: Fix | None, method: str) -> dict[str, Any]:
    method = method or ("in_person" if case.item.in_person_delivery else "app")
    if method not in DELIVERY_METHODS:
        raise ApiError("validation_error", status=422, fields={"method": "field_invalid"})
    if case.item.in_person_delivery and method != "in_person":
        raise ApiError(
            "delivery_in_person_required", status=422, fields={"method": "field_invalid"}
        )
    data: dict[str, Any] = {"method": method}
    if method == "in_person":
        if fix is None:
            raise ApiError("validation_error", status=422, fields={"location": "field_required"})
        if not within_geofence(household=case.household, fix=fix, fallback=case.location):
            raise ApiError("checkin_too_far", status=422, fields={"location": "checkin_too_far"})
        data["checked_in"] = True
    return data


_RESIDENT_TEXTS = {
    "approve": "已办理完成（批准）",
    "reject": "未予批准",
    "close": "已办结，欢迎在居民端或向网格员评价本次服务（1-5分）",
}


def _tell_resident(case: Case, action: str) -> None:
    if action not in _RESIDENT_TEXTS:
        return
    if action == "close":
        accounts = selectors.resident_accounts(case)
        if accounts:
            record_events(user_ids=accounts, type="case.rating_requested", data=case_summary(case))
    text = f"【网格服务】您的{case.item.name_zh}（编号{case.number}）{_RESIDENT_TEXTS[action]}。"
    if action in ("approve", "reject") and case.item.in_person_delivery:
        text += "网格员将上门送达结果。"
    _text_resident(case, text)


# -- consent, documents, comments, ratings ---------------------------------------------------


def do_confirm_consent(*, user: User, case_id: int) -> Case:
    """The resident confirms in the app that the worker may file for them."""
    with transaction.atomic():
        case = _locked(user, case_id)
        if case.state != S.DRAFT:
            raise ApiError("case_wrong_state", status=409)
        if "resident" not in _roles(user, case):
            raise ApiError("permission_denied", status=403)
        now = timezone.now()
        case.consent_kind, case.consent_at, case.updated_at = "in_app", now, now
        case.save(update_fields=["consent_kind", "consent_at", "updated_at"])
        _step(case, "consent", actor=user, data={"kind": "in_app"})
        _tell(case)
    return case


def do_add_document(
    *,
    user: User,
    case_id: int,
    data: bytes,
    client_photo_id: uuid.UUID,
    kind: str,
    label: str = "",
) -> tuple[CaseDocument, bool]:
    """Attach a photo through the shared pipeline; idempotent per (uploader, client id)."""
    from backend.photos.actions import do_store_photo
    from backend.photos.models import Photo

    case = selectors.get_case(user, case_id)
    if kind not in CaseDocument.Kind.values:
        raise ApiError("validation_error", status=422, fields={"kind": "field_invalid"})
    if not _roles(user, case) & {"field", "queue", "resident"}:
        raise ApiError("permission_denied", status=403)
    existing = Photo.objects.filter(uploaded_by=user, client_photo_id=client_photo_id).first()
    if existing is not None:
        document = CaseDocument.objects.filter(photo=existing, case=case).first()
        if document is None:
            raise ApiError(
                "idempotency_mismatch", status=422, fields={"client_photo_id": "field_invalid"}
            )
        return document, False
    if case.state == S.CLOSED or case.household is None:
        raise ApiError("case_wrong_state", status=409)
    photo, _ = do_store_photo(
        data=data,
        household=case.household,
        subject_kind="case",
        subject_uuid=case.uuid,
        uploaded_by=user,
        client_photo_id=client_photo_id,
    )
    with transaction.atomic():
        case = _locked(user, case_id)
        document, created = CaseDocument.objects.get_or_create(
            photo=photo, defaults={"case": case, "kind": kind, "label": label, "added_by": user}
        )
        if created:
            now = timezone.now()
            case.updated_at = now
            fields = ["updated_at"]
            if kind == CaseDocument.Kind.CONSENT and not case.consent_kind:
                case.consent_kind, case.consent_at = "photo", now
                fields += ["consent_kind", "consent_at"]
            case.save(update_fields=fields)
            _step(case, "document", actor=user, data={"kind": kind, "label": label})
    return document, created


def do_comment(*, user: User, case_id: int, text: str, fix: Fix | None = None) -> CaseStep:
    with transaction.atomic():
        case = _locked(user, case_id)
        if user.role == Role.RESIDENT:
            raise ApiError("permission_denied", status=403)
        step = _step(case, "comment", actor=user, fix=fix, note=text)
        _tell(case, type="case.comment", audience=_staff(case))
    return step


def do_rate(*, user: User, case_id: int, score: int, comment: str = "") -> CaseRating:
    """The resident rates a closed case in the app, or a worker records it on a visit. Once."""
    if not 1 <= score <= 5:
        raise ApiError("validation_error", status=422, fields={"score": "field_out_of_range"})
    with transaction.atomic():
        case = _locked(user, case_id)
        if case.state != S.CLOSED:
            raise ApiError("case_wrong_state", status=409)
        roles = _roles(user, case)
        if "resident" in roles:
            via = CaseRating.Via.APP
        elif "field" in roles:
            via = CaseRating.Via.VISIT
        else:
            raise ApiError("permission_denied", status=403)
        if CaseRating.objects.filter(case=case).exists():
            raise ApiError("case_already_rated", status=409)
        rating = CaseRating.objects.create(
            case=case, score=score, comment=comment, via=via, recorded_by=user, at=timezone.now()
        )
        _step(case, "rated", actor=user, data={"score": score, "via": via})
        _tell(case)
    return rating
