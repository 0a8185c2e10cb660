"""Reads of territory, already narrowed to what the caller may see."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.geos import Polygon
from django.db.models import Q, QuerySet

from backend.core.errors import NotFound

from .models import Grid, Household
from .scope import Scope, scope_filter


def grid_filter(scope: Scope) -> Q:
    """Grids wholly in scope (B posts, a community, a district); A posts do not add grids."""
    return scope_filter(
        scope, grid="pk", community="community_id", district="community__district_id"
    )


def grids_for(scope: Scope) -> QuerySet[Grid]:
    return Grid.objects.filter(grid_filter(scope)).select_related("community").order_by("code")


def get_grid(scope: Scope, grid_id: int) -> Grid:
    grid = grids_for(scope).filter(pk=grid_id).first()
    if grid is None:
        raise NotFound()
    return grid


def whole_grid_scope(scope: Scope) -> Q:
    """Households in grids the scope covers entirely (for use on Household)."""
    return scope_filter(
        scope,
        grid="grid_id",
        community="grid__community_id",
        district="grid__community__district_id",
    )


def households_base() -> QuerySet[Household]:
    return Household.objects.select_related("grid", "building")


def grid_feature(grid: Grid, geometry: dict[str, Any] | None = None) -> dict[str, Any]:
    """A grid as a GeoJSON Feature (WGS 84)."""
    return {
        "type": "Feature",
        "id": grid.pk,
        "geometry": geometry if geometry is not None else json.loads(grid.boundary.geojson),
        "properties": {
            "id": grid.pk,
            "code": grid.code,
            "name": grid.name,
            "community_id": grid.community_id,
            "community_name": grid.community.name,
        },
    }


def grid_collection(scope: Scope, precision: int = 6) -> dict[str, Any]:
    """The scope's grids as a FeatureCollection; the database writes the GeoJSON (hundreds
    of polygons in one query, coordinates rounded to ~0.1 m)."""
    grids = (
        grids_for(scope).defer("boundary").annotate(geo=AsGeoJSON("boundary", precision=precision))
    )
    return {
        "type": "FeatureCollection",
        "features": [grid_feature(g, json.loads(g.geo)) for g in grids],
    }


# A viewport wider than this (degrees) is not a "zoomed in" view: refuse rather than send
# a community's every household.
BBOX_MAX_DEGREES = 0.2


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """`west,south,east,north` in degrees; ValueError when it is not that."""
    parts = [float(p) for p in raw.split(",")]
    if len(parts) != 4:
        raise ValueError(raw)
    west, south, east, north = parts
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError(raw)
    if east - west > BBOX_MAX_DEGREES or north - south > BBOX_MAX_DEGREES:
        raise ValueError(raw)
    return west, south, east, north


def households_in_bbox(
    scope: Scope, bbox: tuple[float, float, float, float], limit: int = 2000
) -> QuerySet[Household]:
    """Households of whole grids in scope inside the viewport (GiST index on location)."""
    area = Polygon.from_bbox(bbox)
    area.srid = 4326
    return (
        Household.objects.filter(whole_grid_scope(scope), location__intersects=area)
        .only("pk", "address", "location", "grid_id")
        .order_by("pk")[:limit]
    )
