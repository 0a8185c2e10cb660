"""Reads of territory, already narrowed to what the caller may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from backend.accounts.selectors import Scope
from backend.core.errors import NotFound

from .models import Grid, Household


def grid_filter(scope: Scope, prefix: str = "") -> Q:
    """Grids wholly in scope (B posts, a community, a district); A posts do not add grids."""
    if scope.everything:
        return Q()
    q = Q(pk__in=[])
    if scope.district_id is not None:
        q |= Q(**{f"{prefix}community__district_id": scope.district_id})
    if scope.community_ids:
        q |= Q(**{f"{prefix}community_id__in": scope.community_ids})
    if scope.grid_ids:
        q |= Q(**{f"{prefix}pk__in": scope.grid_ids})
    return q


def grids_for(scope: Scope) -> QuerySet[Grid]:
    return Grid.objects.filter(grid_filter(scope)).select_related("community").order_by("code")


def get_grid(scope: Scope, grid_id: int) -> Grid:
    grid = grids_for(scope).filter(pk=grid_id).first()
    if grid is None:
        raise NotFound()
    return grid


def whole_grid_scope(scope: Scope) -> Q:
    """Households in grids the scope covers entirely (for use on Household)."""
    if scope.everything:
        return Q()
    q = Q(pk__in=[])
    if scope.district_id is not None:
        q |= Q(grid__community__district_id=scope.district_id)
    if scope.community_ids:
        q |= Q(grid__community_id__in=scope.community_ids)
    if scope.grid_ids:
        q |= Q(grid_id__in=scope.grid_ids)
    return q


def households_base() -> QuerySet[Household]:
    return Household.objects.select_related("grid", "building")
