"""Writes to territory: importing grid boundaries and household points from GeoJSON."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from django.db import IntegrityError, transaction

from backend.core.errors import ApiError

from .models import Building, Community, Grid, Household

IMPORT_ERROR = "import_invalid"
MAX_REPORTED = 50  # a file with a systematic fault need not list every feature
_WGS84_NAMES = ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326")

# Property length limits: the max_length of Grid.code, Grid.name, Household.address, Building.name.
_GRID_CODE_MAX, _GRID_NAME_MAX, _ADDRESS_MAX, _BUILDING_MAX = 32, 100, 300, 200


@dataclass(frozen=True)
class ImportResult:
    grids_created: int
    buildings_created: int
    buildings_reused: int
    households_created: int


@dataclass
class _GridIn:
    index: int
    code: str
    name: str
    boundary: MultiPolygon


@dataclass
class _HouseholdIn:
    index: int
    address: str
    location: Point
    grid_code: str | None
    building: str | None


class _Errors:
    """Field errors keyed by JSON path (`features[3].geometry`); raised together."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, key: str, reason: str) -> None:
        if len(self.fields) < MAX_REPORTED:
            self.fields.setdefault(key, reason)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ApiError(IMPORT_ERROR, status=422, fields=dict(self.fields))


def do_import_geojson(
    *, path_or_file: str | os.PathLike[str] | IO[bytes] | IO[str], community: Community
) -> ImportResult:
    """Import grids and households of `community` from a GeoJSON FeatureCollection (WGS84).

    Grid features: Polygon or MultiPolygon, properties {"kind": "grid", "code", "name"}.
    Household features: Point, properties {"kind": "household", "address", "grid"?, "building"?};
    without "grid" the household goes to the grid of the community that contains it.
    All or nothing: any fault raises ApiError("import_invalid") naming the features at fault
    (e.g. {"features[3].geometry": "geometry_invalid"}) and nothing is written.
    """
    document = _load_json(path_or_file)
    errors = _Errors()
    grids, households = _parse(document, errors)
    errors.raise_if_any()
    with transaction.atomic():
        _check_grids_against_database(grids, community, errors)
        known = {g.code: g for g in Grid.objects.filter(community=community)}
        importing = {g.code for g in grids}
        for household in households:
            code = household.grid_code
            if code is not None and code not in known and code not in importing:
                errors.add(f"features[{household.index}].properties.grid", "grid_unknown")
        errors.raise_if_any()
        try:
            created = Grid.objects.bulk_create(
                Grid(community=community, code=g.code, name=g.name, boundary=g.boundary)
                for g in grids
            )
        except IntegrityError as exc:  # a concurrent import took a code since we checked
            raise ApiError(
                IMPORT_ERROR, status=422, fields={"features": "grid_code_duplicate"}
            ) from exc
        known.update((g.code, g) for g in created)
        placed = _place_households(households, known, community, errors)
        errors.raise_if_any()
        buildings_created, buildings_reused = _attach_buildings(placed)
        Household.objects.bulk_create((h for h, _ in placed), batch_size=2000)
    return ImportResult(
        grids_created=len(created),
        buildings_created=buildings_created,
        buildings_reused=buildings_reused,
        households_created=len(placed),
    )


def _load_json(path_or_file: str | os.PathLike[str] | IO[bytes] | IO[str]) -> Any:
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "rb") as f:
            raw: str | bytes = f.read()
    else:
        raw = path_or_file.read()

    def no_constants(name: str) -> None:
        raise ValueError(name)  # NaN and Infinity are not JSON

    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=no_constants)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as exc:
        raise ApiError(IMPORT_ERROR, status=422, fields={"file": "geojson_not_json"}) from exc


def _parse(document: Any, errors: _Errors) -> tuple[list[_GridIn], list[_HouseholdIn]]:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        errors.add("type", "geojson_not_feature_collection")
        return [], []
    crs = document.get("crs")
    if crs is not None and _crs_name(crs) not in _WGS84_NAMES:
        errors.add("crs", "geojson_crs_unsupported")
    features = document.get("features")
    if not isinstance(features, list):
        errors.add("features", "field_wrong_type" if "features" in document else "field_required")
        return [], []
    grids: list[_GridIn] = []
    households: list[_HouseholdIn] = []
    seen_codes: set[str] = set()
    for index, feature in enumerate(features):
        at = f"features[{index}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.add(at, "geojson_feature_invalid")
            continue
        properties = feature.get("properties")
        if not isinstance(properties, dict):
            errors.add(f"{at}.properties", "field_required")
            continue
        kind = properties.get("kind")
        if kind is None:
            errors.add(f"{at}.properties.kind", "field_required")
            continue
        if kind not in ("grid", "household"):
            errors.add(f"{at}.properties.kind", "feature_kind_unknown")
            continue
        geometry = _geometry(feature.get("geometry"), kind, f"{at}.geometry", errors)
        if kind == "grid":
            code = _text(properties, "code", _GRID_CODE_MAX, at, errors, required=True)
            name = _text(properties, "name", _GRID_NAME_MAX, at, errors, required=True)
            if code is not None and code in seen_codes:
                errors.add(f"{at}.properties.code", "grid_code_duplicate")
                continue
            if code is not None:
                seen_codes.add(code)
            if code is not None and name is not None and isinstance(geometry, MultiPolygon):
                grids.append(_GridIn(index, code, name, geometry))
        else:
            address = _text(properties, "address", _ADDRESS_MAX, at, errors, required=True)
            grid_code = _text(properties, "grid", _GRID_CODE_MAX, at, errors, required=False)
            building = _text(properties, "building", _BUILDING_MAX, at, errors, required=False)
            if address is not None and isinstance(geometry, Point):
                households.append(_HouseholdIn(index, address, geometry, grid_code, building))
    _check_grid_overlaps(grids, errors)
    return grids, households


def _crs_name(crs: Any) -> Any:
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        return crs["properties"].get("name")
    return None


def _text(
    properties: dict[str, Any],
    key: str,
    max_length: int,
    at: str,
    errors: _Errors,
    *,
    required: bool,
) -> str | None:
    value = properties.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(f"{at}.properties.{key}", "field_required")
        return None
    if not isinstance(value, str):
        errors.add(f"{at}.properties.{key}", "field_wrong_type")
        return None
    value = value.strip()
    if len(value) > max_length:
        errors.add(f"{at}.properties.{key}", "field_too_long")
        return None
    return value


class _BadGeometry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _geometry(value: Any, kind: str, at: str, errors: _Errors) -> GEOSGeometry | None:
    if value is None:
        errors.add(at, "field_required")
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        errors.add(at, "geometry_invalid")
        return None
    kind_types = {"grid": ("Polygon", "MultiPolygon"), "household": ("Point",)}
    if value["type"] not in kind_types[kind]:
        errors.add(at, "geometry_type_wrong")
        return None
    try:
        geometry: GEOSGeometry
        coordinates = value.get("coordinates")
        if value["type"] == "Point":
            geometry = Point(*_position(coordinates), srid=4326)
        elif value["type"] == "Polygon":
            geometry = MultiPolygon(_polygon(coordinates), srid=4326)
        else:
            if not isinstance(coordinates, list) or not coordinates:
                raise _BadGeometry("geometry_invalid")
            geometry = MultiPolygon(*(_polygon(p) for p in coordinates), srid=4326)
    except _BadGeometry as bad:
        errors.add(at, bad.reason)
        return None
    if geometry.empty or not geometry.valid:
        errors.add(at, "geometry_invalid")
        return None
    return geometry


def _position(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise _BadGeometry("geometry_invalid")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        raise _BadGeometry("geometry_invalid")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise _BadGeometry("geometry_invalid")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _BadGeometry("coordinates_out_of_range")
    return lon, lat


def _polygon(value: Any) -> Polygon:
    if not isinstance(value, list) or not value:
        raise _BadGeometry("geometry_invalid")
    rings = []
    for ring in value:
        if not isinstance(ring, list) or len(ring) < 4:
            raise _BadGeometry("geometry_invalid")
        points = [_position(p) for p in ring]
        if points[0] != points[-1]:
            raise _BadGeometry("geometry_invalid")
        rings.append(points)
    return Polygon(*rings)


def _check_grid_overlaps(grids: list[_GridIn], errors: _Errors) -> None:
    """Grids of one file may touch but not overlap (a point must have one grid)."""
    for i, grid in enumerate(grids):
        prepared = grid.boundary.prepared
        for other in grids[:i]:
            if prepared.intersects(other.boundary) and grid.boundary.relate_pattern(
                other.boundary, "T********"
            ):
                errors.add(f"features[{grid.index}].geometry", "grid_overlaps")
                break


def _check_grids_against_database(
    grids: list[_GridIn], community: Community, errors: _Errors
) -> None:
    taken = set(
        Grid.objects.filter(code__in=[g.code for g in grids]).values_list("code", flat=True)
    )
    for grid in grids:
        if grid.code in taken:
            errors.add(f"features[{grid.index}].properties.code", "grid_code_duplicate")
        elif Grid.objects.filter(
            community=community, boundary__relate=(grid.boundary, "T********")
        ).exists():
            errors.add(f"features[{grid.index}].geometry", "grid_overlaps")


def _place_households(
    households: list[_HouseholdIn], grids: dict[str, Grid], community: Community, errors: _Errors
) -> list[tuple[Household, _HouseholdIn]]:
    placed = []
    for item in households:
        if item.grid_code is not None:
            grid = grids[item.grid_code]
            if not grid.boundary.intersects(item.location):
                errors.add(f"features[{item.index}].geometry", "household_outside_grid")
                continue
        else:
            # A point on the line between two grids belongs to the one with the lower code.
            found = (
                Grid.objects.filter(community=community, boundary__intersects=item.location)
                .order_by("code")
                .first()
            )
            if found is None:
                errors.add(f"features[{item.index}].geometry", "household_outside_grids")
                continue
            grid = found
        household = Household(grid=grid, address=item.address, location=item.location)
        placed.append((household, item))
    return placed


def _attach_buildings(placed: list[tuple[Household, _HouseholdIn]]) -> tuple[int, int]:
    """Buildings are found by name within their grid, or created at their first household."""
    wanted = {(h.grid_id, item.building) for h, item in placed if item.building}
    existing: dict[tuple[int, str], Building] = {}
    if wanted:
        names = {name for _, name in wanted}
        grid_ids = {grid_id for grid_id, _ in wanted}
        found = Building.objects.filter(grid_id__in=grid_ids, name__in=names).order_by("-pk")
        existing.update(((b.grid_id, b.name), b) for b in found)  # the oldest wins
    new: dict[tuple[int, str], Building] = {}
    for household, item in placed:
        if not item.building:
            continue
        key = (household.grid_id, item.building)
        building = existing.get(key) or new.get(key)
        if building is None:
            building = Building(
                grid_id=household.grid_id, name=item.building, location=item.location
            )
            new[key] = building
        household.building = building
    Building.objects.bulk_create(new.values())  # households pick up the new ids when saved
    return len(new), len(wanted) - len(new)
