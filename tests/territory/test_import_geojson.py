"""GeoJSON import of grids and households: the happy path, and bad files that change nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from backend.core.errors import ApiError
from backend.territory.actions import do_import_geojson
from backend.territory.models import Building, Community, District, Grid, Household
from tests.conftest import square

DATA = Path(__file__).parent / "data"


@pytest.fixture
def community(db: None) -> Community:
    district = District.objects.create(code="340705", name="铜官区")
    return Community.objects.create(district=district, code="T01", name="试点社区")


def good() -> dict[str, Any]:
    return json.loads((DATA / "two_grids.geojson").read_text(encoding="utf-8"))


def counts() -> tuple[int, int, int]:
    return Grid.objects.count(), Building.objects.count(), Household.objects.count()


def test_imports_grids_and_households_finding_grids_by_location(community: Community) -> None:
    result = do_import_geojson(path_or_file=DATA / "two_grids.geojson", community=community)

    assert (result.grids_created, result.households_created) == (2, 4)
    assert (result.buildings_created, result.buildings_reused) == (2, 0)
    g1, g2 = Grid.objects.filter(community=community).order_by("code")
    assert (g1.code, g1.name, g2.code) == ("T01-G01", "试点第1网格", "T01-G02")
    assert g1.boundary.geom_type == g2.boundary.geom_type == "MultiPolygon"
    by_address = {h.address: h for h in Household.objects.select_related("grid", "building")}
    assert by_address["铜官区石城路1号1栋1单元101室"].grid == g1
    # no "grid" property: found by the spatial query
    assert by_address["铜官区石城路3号2栋2单元502室"].grid == g2
    assert by_address["铜官区石城路5号平房"].grid == g2
    assert by_address["铜官区石城路5号平房"].building is None
    building = by_address["铜官区石城路1号1栋1单元101室"].building
    assert building is not None
    assert building.grid == g1
    assert by_address["铜官区石城路1号1栋1单元102室"].building == building
    assert by_address["铜官区石城路3号2栋2单元502室"].building.grid == g2  # type: ignore[union-attr]
    # every household lies in its grid (ST_Contains on the database)
    assert Household.objects.filter(grid__boundary__contains=F("location")).count() == 4


def test_second_import_reuses_buildings_and_existing_grids(community: Community) -> None:
    do_import_geojson(path_or_file=DATA / "two_grids.geojson", community=community)
    before = Building.objects.get(name="石城路1号1栋")

    with (DATA / "more_households.geojson").open("rb") as f:
        result = do_import_geojson(path_or_file=f, community=community)

    assert (result.grids_created, result.households_created) == (0, 2)
    assert (result.buildings_created, result.buildings_reused) == (1, 1)
    assert Building.objects.filter(name="石城路1号1栋").count() == 1
    assert Household.objects.filter(building=before).count() == 3
    added = Household.objects.get(address="铜官区石城路7号1栋1单元101室")
    assert added.grid.code == "T01-G02"


def test_households_of_another_community_grid_are_not_placed_there(community: Community) -> None:
    other = Community.objects.create(district=community.district, code="T02", name="邻近社区")
    Grid.objects.create(
        community=other, code="T02-G01", name="邻近网格", boundary=square(117.82, 30.92)
    )
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": "household", "address": "铜官区金山路2号"},
                "geometry": {"type": "Point", "coordinates": [117.825, 30.925]},
            }
        ],
    }
    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=io.StringIO(json.dumps(document)), community=community)
    assert caught.value.fields == {"features[0].geometry": "household_outside_grids"}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation of the good document: set features[i]...key to value."""

    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(index: int, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        del document["features"][index]["properties"][key]

    return mutate


BOW_TIE = [
    [[117.80, 30.92], [117.805, 30.925], [117.805, 30.92], [117.80, 30.925], [117.80, 30.92]]
]

BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], dict[str, str]]] = [
    ("not a collection", _set("type", "Feature"), {"type": "geojson_not_feature_collection"}),
    ("features not a list", _set("features", {}), {"features": "field_wrong_type"}),
    (
        "projected crs",
        _set("crs", {"type": "name", "properties": {"name": "EPSG:3857"}}),
        {"crs": "geojson_crs_unsupported"},
    ),
    ("not a feature", _set("features.3", [1, 2]), {"features[3]": "geojson_feature_invalid"}),
    (
        "unknown kind",
        _set("features.4.properties.kind", "shop"),
        {"features[4].properties.kind": "feature_kind_unknown"},
    ),
    (
        "self-intersecting grid",
        _set("features.1.geometry", {"type": "Polygon", "coordinates": BOW_TIE}),
        {"features[1].geometry": "geometry_invalid"},
    ),
    (
        "empty polygon",
        _set("features.0.geometry.coordinates", []),
        {"features[0].geometry": "geometry_invalid"},
    ),
    (
        "unclosed ring",
        _set("features.0.geometry.coordinates.0.4", [117.8, 30.921]),
        {"features[0].geometry": "geometry_invalid"},
    ),
    ("no geometry", _set("features.2.geometry", None), {"features[2].geometry": "field_required"}),
    (
        "household as polygon",
        _set("features.5.geometry", {"type": "Polygon", "coordinates": BOW_TIE}),
        {"features[5].geometry": "geometry_type_wrong"},
    ),
    (
        "grid as point",
        _set("features.0.geometry", {"type": "Point", "coordinates": [117.8, 30.92]}),
        {"features[0].geometry": "geometry_type_wrong"},
    ),
    (
        "latitude and longitude swapped",
        _set("features.3.geometry.coordinates", [30.9221, 117.8022]),
        {"features[3].geometry": "coordinates_out_of_range"},
    ),
    (
        "coordinate is text",
        _set("features.3.geometry.coordinates", ["117.8022", 30.9221]),
        {"features[3].geometry": "geometry_invalid"},
    ),
    ("grid without code", _delete(0, "code"), {"features[0].properties.code": "field_required"}),
    (
        "household without address",
        _delete(4, "address"),
        {"features[4].properties.address": "field_required"},
    ),
    (
        "address not text",
        _set("features.4.properties.address", 42),
        {"features[4].properties.address": "field_wrong_type"},
    ),
    (
        "code too long",
        _set("features.1.properties.code", "G" * 33),
        {"features[1].properties.code": "field_too_long"},
    ),
    (
        "duplicate grid code",
        _set("features.1.properties.code", "T01-G01"),
        {"features[1].properties.code": "grid_code_duplicate"},
    ),
    (
        "overlapping grids",
        _set(
            "features.1.geometry",
            {
                "type": "Polygon",
                "coordinates": [
                    [[117.803, 30.92], [117.81, 30.92], [117.81, 30.925], [117.803, 30.92]]
                ],
            },
        ),
        {"features[1].geometry": "grid_overlaps"},
    ),
    (
        "unknown grid code",
        _set("features.3.properties.grid", "T09-G01"),
        {"features[3].properties.grid": "grid_unknown"},
    ),
    (
        "household outside its named grid",
        _set("features.3.properties.grid", "T01-G02"),
        {"features[3].geometry": "household_outside_grid"},
    ),
    (
        "household outside every grid",
        _set("features.5.geometry.coordinates", [117.9, 30.99]),
        {"features[5].geometry": "household_outside_grids"},
    ),
]


@pytest.mark.parametrize(
    ("mutate", "fields"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_a_broken_file_names_the_feature_and_imports_nothing(
    community: Community,
    tmp_path: Path,
    mutate: Callable[[dict[str, Any]], None],
    fields: dict[str, str],
) -> None:
    document = good()
    mutate(document)
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=path, community=community)

    assert caught.value.code == "import_invalid"
    assert caught.value.status == 422
    assert caught.value.fields == fields
    assert counts() == (0, 0, 0)


def test_not_json_is_refused(community: Community) -> None:
    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=DATA / "not_json.geojson", community=community)
    assert caught.value.fields == {"file": "geojson_not_json"}
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "text",
    [
        (DATA / "two_grids.geojson").read_text(encoding="utf-8").replace("117.8021", "NaN"),
        "[" * 100_000,
        "",
    ],
    ids=["NaN", "deep nesting", "empty"],
)
def test_nan_deep_nesting_and_nothing_are_not_json(community: Community, text: str) -> None:
    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=io.StringIO(text), community=community)
    assert caught.value.fields == {"file": "geojson_not_json"}


def test_grid_code_taken_by_another_community_is_a_duplicate(community: Community) -> None:
    other = Community.objects.create(district=community.district, code="T02", name="邻近社区")
    Grid.objects.create(community=other, code="T01-G02", name="占用", boundary=square(117.9, 30.9))
    before = counts()

    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=DATA / "two_grids.geojson", community=community)

    assert caught.value.fields == {"features[1].properties.code": "grid_code_duplicate"}
    assert counts() == before


def test_grid_overlapping_an_existing_grid_is_refused(community: Community) -> None:
    Grid.objects.create(
        community=community, code="T01-OLD", name="旧网格", boundary=square(117.804, 30.921, 0.002)
    )
    before = counts()

    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=DATA / "two_grids.geojson", community=community)

    assert caught.value.fields == {
        "features[0].geometry": "grid_overlaps",
        "features[1].geometry": "grid_overlaps",
    }
    assert counts() == before


def test_every_fault_is_reported_at_once(community: Community) -> None:
    document = good()
    del document["features"][0]["properties"]["name"]
    document["features"][2]["properties"]["kind"] = "shop"
    document["features"][5]["geometry"]["coordinates"] = [200, 30.9]

    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=io.StringIO(json.dumps(document)), community=community)

    assert caught.value.fields == {
        "features[0].properties.name": "field_required",
        "features[2].properties.kind": "feature_kind_unknown",
        "features[5].geometry": "coordinates_out_of_range",
    }


def test_a_fault_found_after_grids_were_written_rolls_them_back(community: Community) -> None:
    # Household 2 is only found to be outside every grid after the grid rows exist.
    with pytest.raises(ApiError) as caught:
        do_import_geojson(path_or_file=DATA / "household_outside.geojson", community=community)
    assert caught.value.fields == {"features[2].geometry": "household_outside_grids"}
    assert counts() == (0, 0, 0)


def test_import_territory_command(community: Community) -> None:
    out = io.StringIO()
    call_command(
        "import_territory", str(DATA / "two_grids.geojson"), "--community", "T01", stdout=out
    )
    assert "2 grids, 4 households" in out.getvalue()
    assert counts() == (2, 2, 4)


def test_import_territory_command_explains_a_bad_file_in_both_languages(
    community: Community,
) -> None:
    with pytest.raises(CommandError) as caught:
        call_command(
            "import_territory", str(DATA / "household_outside.geojson"), "--community", "T01"
        )
    text = str(caught.value)
    assert "nothing was imported" in text
    assert "未导入任何数据" in text
    assert "features[2].geometry: The household lies outside every grid" in text
    assert counts() == (0, 0, 0)


def test_import_territory_command_unknown_community_and_missing_file(community: Community) -> None:
    with pytest.raises(CommandError, match="No community"):
        call_command("import_territory", str(DATA / "two_grids.geojson"), "--community", "X")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_territory", str(DATA / "missing.geojson"), "--community", "T01")
