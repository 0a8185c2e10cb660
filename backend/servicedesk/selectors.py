"""Reads of the catalog and of cases, narrowed to the caller.

A worker sees the cases they filed and the cases of their B-post grids; a back-office officer
the cases in their queues (A posts of a community, district departments); a supervisor their
community's; a district administrator the district's; a resident's account their own.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpRequest

from backend.accounts.models import BusinessLineAssignment, GridAssignment, Role, User
from backend.accounts.selectors import b_post_workers, scope_for
from backend.audit.actions import do_record, do_record_read, seen
from backend.audit.models import AuditEvent
from backend.core.errors import NotFound
from backend.core.personal import mask_name
from backend.territory.scope import scope_filter

from .models import OPEN_STATES, Case, CaseState, Department, Open311Key, ServiceItem


def line_queue_key(community_id: int, line: str) -> str:
    return f"line:{community_id}:{line}"


def department_queue_key(department_id: int) -> str:
    return f"dept:{department_id}"


def queue_keys(user: User) -> list[str]:
    """The queues a user works: their A posts and the departments they belong to (one query:
    every page of a queue asks)."""
    lines = (
        BusinessLineAssignment.objects.filter(user=user)
        .annotate(key=Concat(Value("line:"), Cast("community_id", CharField()), Value(":"), "line"))
        .values_list("key", flat=True)
    )
    departments = (
        Department.members.through.objects.filter(user_id=user.pk)
        .annotate(key=Concat(Value("dept:"), Cast("department_id", CharField())))
        .values_list("key", flat=True)  # type: ignore[misc]
    )
    return list(lines.union(departments, all=True))


def queue_members(case: Case) -> list[int]:
    """Active users who work the case's queue."""
    ids: Iterable[int]
    if case.queue_department_id is not None:
        ids = Department.members.through.objects.filter(
            department_id=case.queue_department_id, user__is_active=True
        ).values_list("user_id", flat=True)
    elif case.queue_line and case.community_id is not None:
        ids = BusinessLineAssignment.objects.filter(
            community_id=case.community_id, line=case.queue_line, user__is_active=True
        ).values_list("user_id", flat=True)
    else:
        return []
    return sorted(set(ids))


def supervisors(case: Case) -> list[int]:
    """Who hears of overdue cases: the community's supervisors, else the district's admins."""
    q = Q(role=Role.SUPERVISOR, community_id=case.community_id) if case.community_id else Q()
    ids = list(User.objects.filter(q, is_active=True).values_list("pk", flat=True)) if q else []
    if not ids:
        ids = list(
            User.objects.filter(
                Q(district_id=case.district_id) | Q(district__isnull=True),
                role=Role.DISTRICT_ADMIN,
                is_active=True,
            ).values_list("pk", flat=True)
        )
    return sorted(ids)


def grid_managers(case: Case) -> list[int]:
    if case.grid_id is None:
        return []
    return b_post_workers([case.grid_id]).get(case.grid_id, [])


def resident_accounts(case: Case) -> list[int]:
    if case.resident_id is None:
        return []
    return list(
        User.objects.filter(
            role=Role.RESIDENT, resident_id=case.resident_id, is_active=True
        ).values_list("pk", flat=True)
    )


def audience(case: Case) -> list[int]:
    """Everyone told of a case's steps: the filer, the queue, whoever took it, the resident."""
    ids = set(queue_members(case)) | set(resident_accounts(case))
    ids |= {uid for uid in (case.filed_by_id, case.assignee_id) if uid}
    return sorted(ids)


FOLLOWED_STATES = tuple(s for s in CaseState if s not in (CaseState.DELIVERED, CaseState.CLOSED))


def case_filter(user: User) -> Q:
    """Cases in the user's scope; a worker or officer also sees the cases they filed until
    the result is delivered (then only if still in scope: a worker who lost the grid no longer
    reads it) and those in their queues."""
    works_cases = user.role in (Role.WORKER, Role.OFFICER)
    return scope_filter(
        scope_for(user),
        grid="grid_id",
        community="community_id",
        district="district_id",
        resident="resident_id",
        also=(
            Q(filed_by=user, state__in=FOLLOWED_STATES) | Q(queue_key__in=queue_keys(user))
            if works_cases
            else None
        ),
    )


VIEWS = ("queue", "filed", "grids", "all")


def cases_for(
    user: User,
    *,
    view: str = "all",
    state: str | None = None,
    open_only: bool = False,
    overdue: bool | None = None,
    q: str | None = None,
) -> QuerySet[Case]:
    """Cases in scope. `queue`: open cases in my queues, soonest due first; `filed`: cases I
    filed; `grids`: cases of my B-post grids; `all`: everything I may see, newest first."""
    if view == "queue":
        qs = Case.objects.filter(queue_key__in=queue_keys(user), state__in=OPEN_STATES)
        order: tuple[str, ...] = ("due_at", "id")
    elif view == "filed":
        qs, order = Case.objects.filter(filed_by=user), ("-id",)
    elif view == "grids":
        grids = GridAssignment.objects.filter(user=user).values("grid_id")
        qs, order = Case.objects.filter(grid_id__in=grids), ("-id",)
    else:
        qs, order = Case.objects.filter(case_filter(user)), ("-id",)
    if state:
        qs = qs.filter(state=state)
    if open_only:
        qs = qs.filter(state__in=OPEN_STATES)
    if overdue is not None:
        qs = qs.filter(overdue_at__isnull=not overdue)
    if q:
        qs = qs.filter(Q(number=q) | Q(address__contains=q))
    # Lists leave out what they do not show: the point (GEOS), the resident's encrypted
    # fields (a Fernet decryption per row) and the long texts.
    return (
        qs.select_related("item", "queue_department", "resident")
        .defer(*LIST_DEFERRED)
        .order_by(*order)
    )


LIST_DEFERRED = (
    "location",
    "description",
    "material_list",
    "decision_reason",
    "resident__id_number",
    "resident__health_notes",
    "resident__consent_note",
    "item__description_zh",
    "item__description_en",
    "item__materials_zh",
    "item__materials_en",
)


CASE_ROW = {
    "item_code": F("item__code"),
    "item_name_zh": F("item__name_zh"),
    "item_name_en": F("item__name_en"),
    "queue": F("queue_key"),
    "queue_department_code": F("queue_department__code"),
    "resident_full_name": F("resident__name"),
}
CASE_ROW_FIELDS = (
    "id",
    "number",
    "state",
    "channel",
    "proxy",
    "resident_id",
    "household_id",
    "grid_id",
    "community_id",
    "address",
    "queue_line",
    "filed_by_id",
    "assignee_id",
    "created_at",
    "submitted_at",
    "due_at",
    "overdue_at",
)


def case_rows(cases: QuerySet[Case]) -> list[dict[str, object]]:
    """A page of cases as plain rows (no model instances): what lists show, names masked."""
    rows = list(cases.values(*CASE_ROW_FIELDS, **CASE_ROW))
    for row in rows:
        name = row.pop("resident_full_name")
        row["resident_name"] = mask_name(name) if isinstance(name, str) else None
        row["overdue"] = row.pop("overdue_at") is not None
        row["queue_department"] = row.pop("queue_department_code")
        row["paused"] = row["state"] == "material_needed"
    return rows


def get_case(user: User, case_id: int) -> Case:
    case = (
        Case.objects.filter(case_filter(user), pk=case_id)
        .select_related(
            "item", "queue_department", "resident", "household", "filed_by", "assignee", "community"
        )
        .first()
    )
    if case is None:
        raise NotFound()
    return case


def read_case(user: User, case_id: int, *, request: HttpRequest | None = None) -> Case:
    """A case (the resident, address, description) to show to `user` — its detail, its
    comments or its documents (the row's detail says which endpoint) — audited like
    `people.selectors.read_resident` (an out-of-scope id is 404 and reads nothing)."""
    case = get_case(user, case_id)
    record_case_read(user, case, request=request)
    return case


def record_case_read(user: User, case: Case, *, request: HttpRequest | None = None) -> None:
    """The audit row of a read of `case` (already found in the user's scope)."""
    do_record_read(
        actor=user,
        action=AuditEvent.Action.VIEW_CASE,
        target_type="case",
        target_id=case.pk,
        target_ids=seen([case.resident_id]),
        request=request,
    )


def record_cases_read(
    user: User,
    resident_ids: Iterable[int | None],
    *,
    request: HttpRequest | None = None,
    detail: str = "",
) -> None:
    """A list of cases shown to `user`: one audit row naming the residents on it."""
    do_record_read(
        actor=user,
        action=AuditEvent.Action.LIST_CASES,
        target_type="case",
        target_ids=seen(resident_ids),
        request=request,
        detail=detail,
    )


def catalog(*, district_id: int | None = None, active: bool = True) -> QuerySet[ServiceItem]:
    qs = ServiceItem.objects.select_related("department")
    if active:
        qs = qs.filter(active=True)
    if district_id is not None:
        qs = qs.filter(Q(district_id=district_id) | Q(district__isnull=True))
    return qs.order_by("category", "code")


def record_open311_read(
    key: Open311Key, cases: Iterable[Case], *, request: HttpRequest | None = None
) -> None:
    """A keyed Open311 read (addresses and positions of the cases): one audit row naming the
    key (there is no user) and the residents of the cases shown."""
    do_record(
        action=AuditEvent.Action.OPEN311_READ,
        actor_label=f"open311 key {key.pk} {key.name}",
        target_type="case",
        target_ids=seen(c.resident_id for c in cases),
        detail=f"{request.method} {request.path}" if request is not None else "",
        request=request,
    )


def public_requests(*, district_id: int | None = None) -> QuerySet[Case]:
    """Requests anyone may read (Open311 without an api_key): cases of items public by their
    definition (`ServiceItem.public_requests`: environment and facilities, never a personal
    service), filed (not drafts), in the district when one is named."""
    qs = Case.objects.filter(item__public_requests=True).exclude(state=CaseState.DRAFT)
    if district_id is not None:
        qs = qs.filter(district_id=district_id)
    return qs.select_related("item", "queue_department", "community")
