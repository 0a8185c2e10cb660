"""Reads of households and residents, narrowed to the caller's posts.

A B post sees its grids; a supervisor its community; a district administrator the district;
an A post the residents of its community whose care tags its business line serves (and their
households); a resident's own account only that resident and their household. Showing a
resident's record (`read_resident`) writes the read to the audit trail.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import HttpRequest

from backend.audit.actions import do_record_read
from backend.audit.models import AuditEvent
from backend.core.errors import NotFound
from backend.territory.models import Grid, Household
from backend.territory.scope import Scope, scope_filter
from backend.territory.selectors import get_grid

from .models import EmergencyContact, Resident, ResidentTag


def _tagged_resident(tags: tuple[str, ...]) -> Q:
    return Q(Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag__in=tags)))


def _tagged_household(tags: tuple[str, ...]) -> Q:
    return Q(Exists(ResidentTag.objects.filter(resident__household=OuterRef("pk"), tag__in=tags)))


def resident_filter(scope: Scope) -> Q:
    """Residents in scope; an A post adds those of its community with the tags it serves."""
    return scope_filter(
        scope,
        grid="household__grid_id",
        community="household__grid__community_id",
        district="household__grid__community__district_id",
        resident="pk",
        tagged=_tagged_resident,
    )


def household_filter(scope: Scope) -> Q:
    """Households in scope; an A post adds those of its community with a resident it serves."""
    return scope_filter(
        scope,
        grid="grid_id",
        community="grid__community_id",
        district="grid__community__district_id",
        household="pk",
        tagged=_tagged_household,
    )


def households_for(
    scope: Scope,
    *,
    q: str | None = None,
    grid_id: int | None = None,
    care_tag: str | None = None,
) -> QuerySet[Household]:
    qs = Household.objects.filter(household_filter(scope)).select_related("grid")
    if grid_id is not None:
        get_grid_or_line_grid(scope, grid_id)
        qs = qs.filter(grid_id=grid_id)
    if q:
        qs = qs.filter(address__icontains=q)
    if care_tag:
        # Only residents in scope count: a household an A post sees through one resident must
        # not reveal, by matching, that an out-of-scope housemate carries the tag.
        tagged = Resident.objects.filter(
            resident_filter(scope), household=OuterRef("pk"), tags__tag=care_tag
        )
        qs = qs.filter(Exists(tagged))
    return qs.order_by("pk")


def get_household(scope: Scope, household_id: int) -> Household:
    household = (
        Household.objects.filter(household_filter(scope), pk=household_id)
        .select_related("grid", "building")
        .prefetch_related(
            Prefetch(
                "residents",
                queryset=Resident.objects.filter(resident_filter(scope))
                .prefetch_related("tags")
                .order_by("pk"),
            )
        )
        .first()
    )
    if household is None:
        raise NotFound()
    return household


def residents_for(
    scope: Scope,
    *,
    q: str | None = None,
    grid_id: int | None = None,
    household_id: int | None = None,
    care_tag: str | None = None,
) -> QuerySet[Resident]:
    qs = Resident.objects.filter(resident_filter(scope)).select_related("household")
    if grid_id is not None:
        get_grid_or_line_grid(scope, grid_id)
        qs = qs.filter(household__grid_id=grid_id)
    if household_id is not None:
        get_household(scope, household_id)
        qs = qs.filter(household_id=household_id)
    if q:
        qs = qs.filter(name__contains=q)
    if care_tag:
        qs = qs.filter(Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag=care_tag)))
    return qs.prefetch_related("tags").order_by("pk")


def get_resident(scope: Scope, resident_id: int) -> Resident:
    resident = (
        Resident.objects.filter(resident_filter(scope), pk=resident_id)
        .select_related("household__grid")
        .prefetch_related(
            "tags", Prefetch("emergency_contacts", queryset=EmergencyContact.objects.order_by("pk"))
        )
        .first()
    )
    if resident is None:
        raise NotFound()
    return resident


def read_resident(
    scope: Scope,
    resident_id: int,
    *,
    reader: AbstractBaseUser,
    client: str = "",
    ip: str | None = None,
) -> Resident:
    """A resident's record to show to `reader`; the read is written to the audit trail (in
    scope only: an out-of-scope id is 404 and reads nothing). `client` and `ip` say where
    from, as the transport knows it."""
    resident = get_resident(scope, resident_id)
    do_record_read(
        actor=reader,
        action=AuditEvent.Action.VIEW_RESIDENT,
        target_type="resident",
        target_id=resident.pk,
        client=client,
        ip=ip,
    )
    return resident


def read_household(
    scope: Scope, household_id: int, *, reader: AbstractBaseUser, request: HttpRequest
) -> Household:
    """A household with its residents in scope, to show to `reader`; audited like
    `read_resident` (an out-of-scope id is 404 and reads nothing)."""
    household = get_household(scope, household_id)
    do_record_read(
        actor=reader,
        action=AuditEvent.Action.VIEW_HOUSEHOLD,
        target_type="household",
        target_id=household.pk,
        target_ids=[r.pk for r in household.residents.all()],
        request=request,
    )
    return household


def get_grid_or_line_grid(scope: Scope, grid_id: int) -> None:
    """A grid filter is allowed on a grid in scope, or in a community an A post covers."""
    line_communities = {community_id for community_id, _ in scope.line_tags}
    if (
        line_communities
        and Grid.objects.filter(pk=grid_id, community_id__in=line_communities).exists()
    ):
        return
    get_grid(scope, grid_id)
