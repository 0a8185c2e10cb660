"""Intake (一口受理): one action files a matter from any channel — a worker at a desk, a
service point or a door (also by proxy), a resident in the app, another system over Open311 —
numbers it, routes it to a queue and, unless it is a proxy draft, submits it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import scope_for
from backend.core import observe
from backend.core.errors import ApiError
from backend.core.geo import Fix
from backend.core.idempotency import idempotent
from backend.people.models import Resident
from backend.people.selectors import get_resident
from backend.servicedesk import events, selectors
from backend.servicedesk.models import (
    Case,
    CaseCounter,
    CaseState,
    Channel,
    Open311Key,
    ServiceItem,
)
from backend.territory.models import Grid, Household

from .common import record_step, route
from .workflow import submit_case

STAFF_CHANNELS = (Channel.FRONT_DESK, Channel.SERVICE_POINT, Channel.DOORSTEP, Channel.PHONE)


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


# -- who may file what ----------------------------------------------------------------------


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


def _catalog_item(district_id: int | None, code: str) -> ServiceItem:
    item = selectors.catalog(district_id=district_id).filter(code=code).first()
    if item is None:
        raise ApiError("validation_error", status=422, fields={"item_code": "field_invalid"})
    return item


def _resident_of(user: User, resident_id: int | None) -> Resident:
    """A resident's own account files for themselves; staff name a resident in their scope."""
    if user.role == Role.RESIDENT:
        if user.resident is None:
            raise ApiError("permission_denied", status=403)
        return user.resident
    if resident_id is None:
        raise ApiError("validation_error", status=422, fields={"resident_id": "field_required"})
    return get_resident(scope_for(user), resident_id)


# -- the one intake action ------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    status: int  # 201; a retry with the same client id gets the first answer's status
    answer: dict[str, Any]  # id, number, state, due_at as filed (what a retry gets back)
    case: Case


def _answer(case: Case) -> dict[str, Any]:
    return {
        "id": case.pk,
        "number": case.number,
        "state": case.state,
        "due_at": case.due_at.isoformat() if case.due_at else None,
    }


def do_intake(
    *,
    user: User,
    item_code: str,
    channel: str,
    resident_id: int | None = None,
    proxy: bool = False,
    description: str = "",
    fix: Fix | None = None,
    client_case_id: uuid.UUID | None = None,
    request: dict[str, Any] | None = None,
) -> Filed:
    """File a matter for a resident: a worker names one in their scope, a resident's own
    account files for itself, from an item of that resident's district's catalog. With a
    `client_case_id` it runs once per user (a retry of the same `request` gets the first
    answer)."""
    resident = _resident_of(user, resident_id)
    item = _catalog_item(resident.household.grid.community.district_id, item_code)
    check_intake(user=user, item=item, resident=resident, channel=channel, proxy=proxy)
    filed: list[Case] = []

    def make() -> dict[str, Any]:
        case = do_file_case(
            item=item,
            channel=channel,
            filed_by=user,
            resident=resident,
            proxy=proxy,
            description=description,
            fix=fix,
        )
        filed.append(case)
        return _answer(case)

    if client_case_id is None:
        with transaction.atomic():
            answer = make()
        return Filed(201, answer, filed[0])
    status, answer = idempotent(
        scope=f"case:user:{user.pk}",
        key=client_case_id,
        body={**(request or {}), "resident_id": resident.pk},
        run=lambda: (201, make()),
        field="client_case_id",
    )
    case = filed[0] if filed else Case.objects.select_related("item").get(pk=answer["id"])
    return Filed(status, answer, case)


@dataclass(frozen=True)
class PublicFiler:
    """A member of the public filing through another system (Open311): where, and how to
    reach them back, as they gave it."""

    key: Open311Key
    location: Point
    address: str = ""
    name: str = ""
    phone: str = ""
    email: str = ""


def do_open311_intake(
    *, filer: PublicFiler, item_code: str, district_id: int | None, description: str = ""
) -> Filed:
    """File an Open311 request for the public at a point inside our grids (and the key's
    district, if it has one), from the catalog of `district_id` (the key's, else the
    request's jurisdiction)."""
    item = _catalog_item(district_id, item_code)
    with transaction.atomic():
        grid = grid_at(filer.location)
        if grid is None or filer.key.district_id not in (None, grid.community.district_id):
            raise ApiError("location_outside_area", status=422)
        case = do_file_case(
            item=item, channel=Channel.OPEN311, filed_by=None, description=description, public=filer
        )
    return Filed(201, _answer(case), case)


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
    public: PublicFiler | None = None,
) -> Case:
    """File a case whose caller has been checked (do_intake and do_open311_intake check a
    transport's request; a visit's finding files its referral). A proxy case starts as a
    draft (consent and documents, then submit); anything else is submitted at once. Call
    inside `transaction.atomic()`."""
    now = timezone.now()
    household = household or (resident.household if resident else None)
    case = Case(
        number=next_number(timezone.localdate(now)),
        item=item,
        state=CaseState.DRAFT,
        household=household,
        resident=resident,
        description=description,
        channel=channel,
        proxy=proxy,
        filed_by=filed_by,
        created_at=now,
        updated_at=now,
    )
    _place(case, household, public)
    route(case, line=item.line, department=item.department)
    case.save()
    observe.bind(case_id=case.pk)  # this request's later log lines name the case
    record_step(
        case,
        "filed",
        actor=filed_by,
        fix=fix,
        data={"channel": channel, "proxy": proxy, "queue": case.queue_key},
    )
    if not proxy:
        submit_case(case, actor=filed_by, now=now, fix=fix)
    else:
        # A draft concerns the filer and the resident (who may confirm consent in the app).
        filer = [filed_by.pk] if filed_by else []
        events.tell(case, audience=filer + selectors.resident_accounts(case))
    return case


def _place(case: Case, household: Household | None, public: PublicFiler | None) -> None:
    """Where the case is: the household's grid and address, or the public filer's point."""
    if household is not None:
        case.grid, case.location, case.address = (
            household.grid,
            household.location,
            household.address,
        )
    elif public is not None:
        case.grid, case.location, case.address = (
            grid_at(public.location),
            public.location,
            public.address,
        )
        case.open311_key = public.key
        case.contact_name, case.contact_phone, case.contact_email = (
            public.name,
            public.phone,
            public.email,
        )
    community = case.grid.community if case.grid else None
    case.community = community
    case.district_id = (
        community.district_id
        if community
        else (public.key.district_id if public else case.item.district_id)
    )


def grid_at(location: Point | None) -> Grid | None:
    if location is None:
        return None
    return Grid.objects.filter(boundary__contains=location).select_related("community").first()
