"""Scope: each post sees what it is entitled to; out of scope is 404, identical to a missing id.

The BOLA matrix is built from the OpenAPI schema, so a new operation that takes an id fails the
suite until it is covered here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from backend.audit.models import AuditEvent
from mobile_api.api import api
from tests.conftest import ApiClient, World

pytestmark = pytest.mark.django_db

MISSING_ID = 987_654_321

# Path parameters that name an object of a grid: (object in worker A's grid, object in grid B).
PATH_IDS: dict[str, Callable[[World], tuple[int, int]]] = {
    "grid_id": lambda w: (w.grid_a.pk, w.grid_b.pk),
    "household_id": lambda w: (w.household_a.pk, w.household_b.pk),
    "resident_id": lambda w: (w.resident_a.pk, w.resident_b.pk),
}
# Query parameters that take such an id.
QUERY_IDS: dict[str, Callable[[World], tuple[int, int]]] = {
    "grid": lambda w: (w.grid_a.pk, w.grid_b.pk),
    "household": lambda w: (w.household_a.pk, w.household_b.pk),
}
# List operations that return objects of grids: what grid B's objects look like in them.
LISTS: dict[str, Callable[[World, dict[str, Any]], tuple[set[int], set[int]]]] = {
    "/api/v1/grids": lambda w, body: ({f["id"] for f in body["features"]}, {w.grid_b.pk}),
    "/api/v1/households": lambda w, body: ({i["id"] for i in body["items"]}, {w.household_b.pk}),
    "/api/v1/residents": lambda w, body: ({i["id"] for i in body["items"]}, {w.resident_b.pk}),
}
# GET operations that carry nothing of other grids.
NOT_GRID_DATA = {"/api/v1/me", "/api/v1/health"}
ANONYMOUS_ALLOWED = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/health"),
}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _params(op: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p["in"] == where]


def _call(client: ApiClient, method: str, path: str, query: dict[str, Any] | None = None) -> Any:
    if method == "get":
        return client.get(path, query or {})
    return client.generic(method.upper(), path, "{}", content_type="application/json")


def _fill(path: str, values: dict[str, int]) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)


def test_every_operation_with_an_id_is_covered() -> None:
    uncovered = []
    for method, path, op in operations():
        for name in _params(op, "path"):
            if name not in PATH_IDS:
                uncovered.append(f"{method.upper()} {path} path:{name}")
        for name in _params(op, "query"):
            if (
                name == "id" or name.endswith("_id") or name in {"grid", "household", "resident"}
            ) and name not in QUERY_IDS:
                uncovered.append(f"{method.upper()} {path} query:{name}")
        if (
            method == "get"
            and not _params(op, "path")
            and path not in LISTS | dict.fromkeys(NOT_GRID_DATA)
        ):
            uncovered.append(f"GET {path} (list not classified)")
    assert not uncovered, f"add these to the BOLA matrix: {uncovered}"


def test_bola_matrix_out_of_scope_is_404_identical_to_missing(
    world: World, client_for: Any
) -> None:
    client = client_for(world.worker_a)
    checked = 0
    for method, path, op in operations():
        names = _params(op, "path")
        if names:
            own = _fill(path, {n: PATH_IDS[n](world)[0] for n in names})
            theirs = _fill(path, {n: PATH_IDS[n](world)[1] for n in names})
            missing = _fill(path, dict.fromkeys(names, MISSING_ID))
            assert _call(client, method, own).status_code == 200, own
            out, gone = _call(client, method, theirs), _call(client, method, missing)
            assert out.status_code == gone.status_code == 404, (theirs, out.content)
            assert out.content == gone.content
            checked += 1
        for name in _params(op, "query"):
            if name in QUERY_IDS:
                own_id, their_id = QUERY_IDS[name](world)
                assert _call(client, method, path, {name: own_id}).status_code == 200
                out = _call(client, method, path, {name: their_id})
                gone = _call(client, method, path, {name: MISSING_ID})
                assert out.status_code == gone.status_code == 404, (path, name)
                assert out.content == gone.content
                checked += 1
        if method == "get" and path in LISTS:
            response = _call(client, method, path)
            assert response.status_code == 200
            seen, forbidden = LISTS[path](world, response.json())
            assert seen, f"{path} returned nothing in scope either"
            assert not seen & forbidden, path
            checked += 1
    assert checked >= 9


def test_anonymous_gets_401_everywhere_outside_the_allowlist(world: World) -> None:
    anonymous = ApiClient()
    for method, path, _ in operations():
        if (method, path) in ANONYMOUS_ALLOWED:
            continue
        response = _call(
            anonymous, method, _fill(path, {}) if "{" not in path else re.sub(r"{\w+}", "1", path)
        )
        assert response.status_code == 401, (
            f"{method.upper()} {path} answered {response.status_code}"
        )
        assert response.json()["error"]["code"] == "not_authenticated"


def ids(client: ApiClient, path: str, **query: Any) -> set[int]:
    response = client.get(path, query)
    assert response.status_code == 200, response.content
    body = response.json()
    return {item["id"] for item in body.get("items", body.get("features", []))}


def test_supervisor_sees_the_community_and_not_the_next(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    assert ids(client, "/api/v1/residents") == {world.resident_a.pk, world.resident_b.pk}
    assert ids(client, "/api/v1/grids") == {world.grid_a.pk, world.grid_b.pk}
    assert client.get(f"/api/v1/residents/{world.resident_c.pk}").status_code == 404


def test_district_admin_sees_everything(world: World, client_for: Any) -> None:
    client = client_for(world.admin)
    assert ids(client, "/api/v1/residents") == {
        world.resident_a.pk,
        world.resident_b.pk,
        world.resident_c.pk,
    }


def test_a_post_sees_residents_its_line_serves_in_its_community(
    world: World, client_for: Any
) -> None:
    # Elderly care: both elders of community 1, not the disabled man of community 2.
    client = client_for(world.officer_elderly_1)
    assert ids(client, "/api/v1/residents") == {world.resident_a.pk, world.resident_b.pk}
    assert ids(client, "/api/v1/grids") == set()
    assert client.get(f"/api/v1/residents/{world.resident_c.pk}").status_code == 404
    assert client.get(f"/api/v1/households/{world.household_b.pk}").status_code == 200


def test_resident_account_sees_only_self_and_household(world: World, client_for: Any) -> None:
    client = client_for(world.resident_user_a)
    assert ids(client, "/api/v1/residents") == {world.resident_a.pk}
    assert ids(client, "/api/v1/households") == {world.household_a.pk}
    assert client.get(f"/api/v1/residents/{world.resident_b.pk}").status_code == 404


def test_filters_and_search(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    assert ids(client, "/api/v1/residents", care_tag="living_alone") == {world.resident_a.pk}
    assert ids(client, "/api/v1/residents", q="秀兰") == {world.resident_b.pk}
    assert ids(client, "/api/v1/households", q="幸福路2号") == {world.household_b.pk}
    assert ids(client, "/api/v1/households", grid=world.grid_a.pk) == {world.household_a.pk}
    page = client.get("/api/v1/residents", {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2 and len(page["items"]) == 1
    bad = client.get("/api/v1/residents", {"care_tag": "vip"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert list(bad.json()["error"]["fields"]) == ["care_tag"]


def test_resident_detail_is_masked_and_every_read_is_audited(world: World, client_for: Any) -> None:
    client = client_for(world.worker_a)
    before = AuditEvent.objects.count()
    response = client.get(
        f"/api/v1/residents/{world.resident_a.pk}", HTTP_X_CLIENT="gridline-android/1.0"
    )
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"340705\*{8}\d{3}[\dX]", body["id_number_masked"])
    assert world.resident_a.id_number not in response.content.decode()
    assert body["care_tags"] == ["aged_60", "aged_80", "living_alone"]
    assert body["emergency_contacts"][0]["relation"] == "儿子"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    assert (event.actor, event.target_id, event.client) == (
        world.worker_a,
        world.resident_a.pk,
        "gridline-android/1.0",
    )
    # A refused read writes nothing.
    client.get(f"/api/v1/residents/{world.resident_b.pk}")
    assert AuditEvent.objects.count() == before + 1
    # Lists do not show the ID number either.
    listed = client.get("/api/v1/residents").content.decode()
    assert world.resident_a.id_number not in listed


def test_pagination_is_bounded(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    for query in ({"limit": 10**19}, {"offset": 10**19}, {"limit": 0}, {"offset": -1}):
        response = client.get("/api/v1/households", query)
        assert response.status_code == 422, query
        assert list(response.json()["error"]["fields"]) == list(query)
