"""Households and residents in the caller's scope. Out of scope is 404, like a missing id."""

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from backend.audit.actions import client_of, ip_of
from backend.audit.models import AuditEvent
from backend.core.api_errors import responses
from backend.core.ratelimit import check_rate
from backend.core.text import Text
from backend.people import selectors
from backend.people.models import CareTag, Resident
from backend.territory.models import Household
from mobile_api.pagination import AuditedPage
from mobile_api.security import caller, caller_scope

from .schemas import HouseholdDetail, HouseholdOut, ResidentDetail, ResidentSummary

router = Router(tags=["people"])


class HouseholdFilters(Schema):
    q: Text | None = Field(None, max_length=100, description="address contains")
    grid: int | None = Field(None, description="grid id (must be in scope)")
    care_tag: CareTag | None = None


class ResidentFilters(HouseholdFilters):
    q: Text | None = Field(None, max_length=100, description="name contains")
    household: int | None = Field(None, description="household id (must be in scope)")


@router.get("/households", response=responses({200: list[HouseholdOut]}, 401, 404, 422, 429))
@paginate(AuditedPage, action=AuditEvent.Action.LIST_HOUSEHOLDS, target_type="household")
def list_households(request: HttpRequest, filters: Query[HouseholdFilters]) -> QuerySet[Household]:
    if filters.q:
        check_rate(request, group="search", key=f"user:{caller(request).pk}")
    return selectors.households_for(
        caller_scope(request), q=filters.q, grid_id=filters.grid, care_tag=filters.care_tag
    )


@router.get("/households/{household_id}", response=responses({200: HouseholdDetail}, 401, 404, 422))
def household_detail(request: HttpRequest, household_id: int) -> Household:
    """A household with its residents in scope; every read is written to the audit trail."""
    return selectors.read_household(
        caller_scope(request), household_id, reader=caller(request), request=request
    )


@router.get(
    "/residents",
    response=responses({200: list[ResidentSummary]}, 401, 404, 422, 429),
)
@paginate(AuditedPage, action=AuditEvent.Action.LIST_RESIDENTS, target_type="resident")
def list_residents(request: HttpRequest, filters: Query[ResidentFilters]) -> QuerySet[Resident]:
    if filters.q:
        check_rate(request, group="search", key=f"user:{caller(request).pk}")
    return selectors.residents_for(
        caller_scope(request),
        q=filters.q,
        grid_id=filters.grid,
        household_id=filters.household,
        care_tag=filters.care_tag,
    )


@router.get("/residents/{resident_id}", response=responses({200: ResidentDetail}, 401, 404, 422))
def resident_detail(request: HttpRequest, resident_id: int) -> Resident:
    """A resident's record; every read is written to the audit trail."""
    return selectors.read_resident(
        caller_scope(request),
        resident_id,
        reader=caller(request),
        client=client_of(request),
        ip=ip_of(request),
    )
