"""Areas: who may address which part of the territory, and the households inside (PostGIS
selects the households of a polygon)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Polygon
from django.db.models import QuerySet

from backend.accounts.models import Role, User
from backend.core.errors import ApiError
from backend.territory.models import Building, Community, Grid, Household

from .models import Addressed, AreaKind

AUTHORS = (Role.SUPERVISOR, Role.DISTRICT_ADMIN)
MAX_AREA_IDS = 500


@dataclass(frozen=True)
class AreaIn:
    """An area as a transport parsed it: `ids` are grid or building ids, `polygon` GeoJSON."""

    kind: str
    community_id: int | None = None
    ids: tuple[int, ...] = ()
    polygon: dict[str, Any] | None = None


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


def check_author(user: User) -> None:
    """Notices, polls and hearings are written by a community supervisor or a district
    administrator; grid workers carry them to the door."""
    if user.role not in AUTHORS or (user.role == Role.SUPERVISOR and not user.community_id):
        raise ApiError("permission_denied", status=403)


def _community(user: User, community_id: int | None) -> Community | None:
    if user.role == Role.SUPERVISOR:
        if community_id not in (None, user.community_id):
            raise _invalid("area.community_id")
        return user.community
    if community_id is None:
        return None
    community = Community.objects.filter(pk=community_id).first()
    if community is None or user.district_id not in (None, community.district_id):
        raise _invalid("area.community_id")
    return community


def _polygon(raw: dict[str, Any] | None) -> MultiPolygon:
    if not raw:
        raise _invalid("area.polygon", "field_required")
    try:
        geometry = GEOSGeometry(json.dumps(raw), srid=4326)
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise _invalid("area.polygon", "geometry_invalid") from exc
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry, srid=4326)
    if not isinstance(geometry, MultiPolygon):
        raise _invalid("area.polygon", "geometry_type_wrong")
    if geometry.empty or not geometry.valid:
        raise _invalid("area.polygon", "geometry_invalid")
    return geometry


def resolve_area(*, user: User, area: AreaIn) -> dict[str, Any]:
    """The fields of an `Addressed` row for `area`, checked against what the author may
    address: a supervisor their community, a district administrator their district."""
    check_author(user)
    if area.kind not in AreaKind.values:
        raise _invalid("area.kind")
    if len(area.ids) > MAX_AREA_IDS:
        raise _invalid("area.ids", "field_too_long")
    community = _community(user, area.community_id)
    district_id = community.district_id if community else user.district_id
    if district_id is None:
        raise _invalid("area.community_id", "field_required")
    fields: dict[str, Any] = {
        "district_id": district_id,
        "community": community,
        "area_kind": area.kind,
        "area_ids": [],
        "area_polygon": None,
    }
    if area.kind == AreaKind.DISTRICT:
        if community is not None:
            raise _invalid("area.kind")
    elif area.kind == AreaKind.COMMUNITY:
        if community is None:
            raise _invalid("area.community_id", "field_required")
    elif area.kind in (AreaKind.GRIDS, AreaKind.BUILDINGS):
        fields["area_ids"] = _checked_ids(area, district_id, community)
    else:
        fields["area_polygon"] = _polygon(area.polygon)
    return fields


def _checked_ids(area: AreaIn, district_id: int, community: Community | None) -> list[int]:
    ids = sorted(set(area.ids))
    if not ids:
        raise _invalid("area.ids", "field_required")
    model = Grid if area.kind == AreaKind.GRIDS else Building
    prefix = "" if model is Grid else "grid__"
    qs = model.objects.filter(pk__in=ids, **{f"{prefix}community__district_id": district_id})
    if community is not None:
        qs = qs.filter(**{f"{prefix}community": community})
    if qs.count() != len(ids):
        raise _invalid("area.ids")
    return ids


def households_in(row: Addressed) -> QuerySet[Household]:
    """The households of the row's area, inside its community or district."""
    qs = Household.objects.filter(grid__community__district_id=row.district_id)
    if row.community_id is not None:
        qs = qs.filter(grid__community_id=row.community_id)
    if row.area_kind == AreaKind.GRIDS:
        qs = qs.filter(grid_id__in=row.area_ids)
    elif row.area_kind == AreaKind.BUILDINGS:
        qs = qs.filter(building_id__in=row.area_ids)
    elif row.area_kind == AreaKind.POLYGON:
        qs = qs.filter(location__within=row.area_polygon)
    return qs


def describe(row: Addressed) -> str:
    """The area in words, for the printed page."""
    place = row.community.name if row.community else "全区"
    if row.area_kind == AreaKind.GRIDS:
        grids = Grid.objects.filter(pk__in=row.area_ids).order_by("code")
        return f"{place}：" + "、".join(g.name for g in grids)
    if row.area_kind == AreaKind.BUILDINGS:
        buildings = Building.objects.filter(pk__in=row.area_ids).order_by("pk")
        return f"{place}：" + "、".join(b.name for b in buildings)
    if row.area_kind == AreaKind.POLYGON:
        return f"{place}：地图圈选范围内住户"
    return place
