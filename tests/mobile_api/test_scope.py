"""Scope: each post sees what it is entitled to; out of scope is 404, identical to a missing id.

The BOLA matrix is built from the OpenAPI schema, so a new operation that takes an id fails the
suite until it is covered here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from backend.alerts.actions import do_raise_alert
from backend.alerts.devices import do_register_device
from backend.audit.models import AuditEvent
from backend.servicedesk.actions import do_file_case
from backend.servicedesk.models import ServiceItem
from backend.visits.actions import VisitRecord, derive_due_visits, do_sync_visits
from backend.visits.models import Visit
from mobile_api.api import api
from tests.conftest import ApiClient, World

pytestmark = pytest.mark.django_db

MISSING_ID = 987_654_321


@dataclass(frozen=True)
class Case:
    """Who calls, an object they may reach, and one of the same kind they may not."""

    caller: str
    own: Callable[[Any], Any]
    theirs: Callable[[Any], Any]
    missing: Any = MISSING_ID


# Path parameters that name an object of a grid or a community.
PATH_IDS: dict[str, Case] = {
    "grid_id": Case("worker_a", lambda w: w.grid_a.pk, lambda w: w.grid_b.pk),
    "household_id": Case("worker_a", lambda w: w.household_a.pk, lambda w: w.household_b.pk),
    "resident_id": Case("worker_a", lambda w: w.resident_a.pk, lambda w: w.resident_b.pk),
    "alert_id": Case("worker_a", lambda w: w.alert_a.pk, lambda w: w.alert_b.pk),
    # Devices are managed by supervisors: community 1's may not touch community 2's.
    "device_id": Case(
        "supervisor_1", lambda w: "PENDANT-A", lambda w: "PENDANT-C", missing="NO-SUCH-DEVICE"
    ),
    "visit_uuid": Case(
        "worker_a",
        lambda w: w.visit_a.client_uuid,
        lambda w: w.visit_b.client_uuid,
        missing=uuid.UUID(int=MISSING_ID),
    ),
    # Service-desk cases: worker A filed case A (grid A); worker B filed case B (grid B).
    "case_id": Case("worker_a", lambda w: w.case_a.pk, lambda w: w.case_b.pk),
}
# Query parameters that take such an id.
QUERY_IDS: dict[str, Case] = {
    "grid": PATH_IDS["grid_id"],
    "household": PATH_IDS["household_id"],
}
# List operations that return objects of grids: what grid B's objects look like in them.
LISTS: dict[str, Callable[[Any, dict[str, Any]], tuple[set[int], set[int]]]] = {
    "/api/v1/grids": lambda w, body: ({f["id"] for f in body["features"]}, {w.grid_b.pk}),
    "/api/v1/households": lambda w, body: ({i["id"] for i in body["items"]}, {w.household_b.pk}),
    "/api/v1/residents": lambda w, body: ({i["id"] for i in body["items"]}, {w.resident_b.pk}),
    "/api/v1/alerts": lambda w, body: ({i["id"] for i in body["items"]}, {w.alert_b.pk}),
    "/api/v1/visits": lambda w, body: ({i["id"] for i in body["items"]}, {w.visit_b.pk}),
    "/api/v1/visits/today": lambda w, body: (
        {s["household"]["id"] for s in body["stops"]},
        {w.household_b.pk, w.household_c.pk},
    ),
    "/api/v1/visits/coverage": lambda w, body: (
        {g["grid_id"] for g in body["grids"]} | {u["user_id"] for u in body["workers"]},
        {w.grid_b.pk, w.grid_c.pk, w.worker_b.pk},
    ),
    "/api/v1/cases": lambda w, body: ({i["id"] for i in body["items"]}, {w.case_b.pk}),
}
# A valid body for operations that need one, so that scope, not validation, answers.
BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "/api/v1/residents/{resident_id}/alerts": lambda: {
        "client_alert_id": str(uuid.uuid4()),
        "kind": "help",
    },
    "/api/v1/alerts/{alert_id}/arrive": lambda: {"location": {"lat": 30.92, "lon": 117.8}},
    "/api/v1/alerts/{alert_id}/resolve": lambda: {"disposition": "other"},
    "/api/v1/cases/{case_id}/request-material": lambda: {"materials": ["户口簿"]},
    "/api/v1/cases/{case_id}/reject": lambda: {"reason": "不符合条件"},
    "/api/v1/cases/{case_id}/reassign": lambda: {
        "reason": "应由民政办理",
        "target_line": "civil_affairs",
    },
    "/api/v1/cases/{case_id}/rating": lambda: {"score": 5},
    "/api/v1/cases/{case_id}/comments": lambda: {"text": "已电话联系家属"},
}
# Signed device operations: a device reaches only its own resident's alerts
# (tests/alerts/test_alerts.py::test_device_cancel_only_its_own_alert).
DEVICE_OPS = {
    ("post", "/api/v1/device/alerts"),
    ("post", "/api/v1/device/heartbeat"),
    ("post", "/api/v1/device/alerts/{alert_id}/cancel"),
}
# GET operations that carry nothing of other grids.
NOT_GRID_DATA = {"/api/v1/me", "/api/v1/health", "/api/v1/service-items"}
ANONYMOUS_ALLOWED = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/health"),
}


@pytest.fixture
def scoped(world: World) -> SimpleNamespace:
    """The world plus an alert and a device in each of grid A, grid B and community 2."""
    with transaction.atomic():
        alert_a = do_raise_alert(
            resident=world.resident_a, kind="help", source="worker", raised_by=world.worker_a
        )
        alert_b = do_raise_alert(
            resident=world.resident_b, kind="help", source="worker", raised_by=world.worker_b
        )
    do_register_device(device_id="PENDANT-A", kind="pendant", resident=world.resident_a)
    do_register_device(device_id="PENDANT-C", kind="pendant", resident=world.resident_c)
    derive_due_visits()  # a routine task for every household (none visited yet)
    visits = {}
    for name, worker, household in (
        ("visit_a", world.worker_a, world.household_a),
        ("visit_b", world.worker_b, world.household_b),
    ):
        record = VisitRecord(
            client_uuid=uuid.uuid4(),
            household_id=household.pk,
            visited_at=timezone.now(),
            present=False,  # nobody home: the routine tasks stay on the lists
        )
        do_sync_visits(worker=worker, records=[record])
        visits[name] = Visit.objects.get(client_uuid=record.client_uuid)
    item, _ = ServiceItem.objects.get_or_create(
        code="bola-allowance",
        defaults={"name_zh": "高龄津贴", "name_en": "Old-age allowance", "category": "elderly"}
        | {"line": "elderly_care", "time_limit_days": 20},
    )
    with transaction.atomic():
        case_a = do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_a, resident=world.resident_a
        )
        case_b = do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_b, resident=world.resident_b
        )
    return SimpleNamespace(
        **vars(world), alert_a=alert_a, alert_b=alert_b, case_a=case_a, case_b=case_b, **visits
    )


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


def _call(
    client: ApiClient,
    method: str,
    path: str,
    query: dict[str, Any] | None = None,
    template: str = "",
) -> Any:
    if method == "get":
        return client.get(path, query or {})
    body = BODIES.get(template, dict)()
    return client.generic(method.upper(), path, json.dumps(body), content_type="application/json")


def _fill(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)


def test_every_operation_with_an_id_is_covered() -> None:
    uncovered = []
    for method, path, op in operations():
        if (method, path) in DEVICE_OPS:
            continue
        for name in _params(op, "path"):
            if name not in PATH_IDS:
                uncovered.append(f"{method.upper()} {path} path:{name}")
        for name in _params(op, "query"):
            idlike = (
                name == "id" or name.endswith("_id") or name in {"grid", "household", "resident"}
            )
            if idlike and name not in QUERY_IDS:
                uncovered.append(f"{method.upper()} {path} query:{name}")
        if method == "get" and not _params(op, "path") and path not in {*LISTS, *NOT_GRID_DATA}:
            uncovered.append(f"GET {path} (list not classified)")
    assert not uncovered, f"add these to the BOLA matrix: {uncovered}"


def test_device_operations_need_a_device_signature() -> None:
    for method, path, op in operations():
        if (method, path) in DEVICE_OPS:
            assert op["security"] == [{"DeviceSignature": []}], path


def test_bola_matrix_out_of_scope_is_404_identical_to_missing(
    scoped: SimpleNamespace, client_for: Any
) -> None:
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = client_for(getattr(scoped, name))
        return clients[name]

    checked = 0
    for method, path, op in operations():
        if (method, path) in DEVICE_OPS:
            continue
        names = _params(op, "path")
        if names:
            case = PATH_IDS[names[-1]]
            who = client(case.caller)
            own = _fill(path, {n: PATH_IDS[n].own(scoped) for n in names})
            theirs = _fill(path, {n: PATH_IDS[n].theirs(scoped) for n in names})
            missing = _fill(path, {n: PATH_IDS[n].missing for n in names})
            reached = _call(who, method, own, template=path)
            assert reached.status_code != 404 and reached.status_code < 500, (own, reached.content)
            out = _call(who, method, theirs, template=path)
            gone = _call(who, method, missing, template=path)
            assert out.status_code == gone.status_code == 404, (method, theirs, out.content)
            assert out.content == gone.content
            checked += 1
        for name in _params(op, "query"):
            if name in QUERY_IDS:
                case = QUERY_IDS[name]
                who = client(case.caller)
                assert _call(who, method, path, {name: case.own(scoped)}).status_code == 200
                out = _call(who, method, path, {name: case.theirs(scoped)})
                gone = _call(who, method, path, {name: case.missing})
                assert out.status_code == gone.status_code == 404, (path, name)
                assert out.content == gone.content
                checked += 1
        if method == "get" and path in LISTS:
            response = _call(client("worker_a"), method, path)
            assert response.status_code == 200
            seen, forbidden = LISTS[path](scoped, response.json())
            assert seen, f"{path} returned nothing in scope either"
            assert not seen & forbidden, path
            checked += 1
    assert checked >= 20


def test_anonymous_gets_401_everywhere_outside_the_allowlist(world: World) -> None:
    anonymous = ApiClient()
    for method, path, _ in operations():
        if (method, path) in ANONYMOUS_ALLOWED:
            continue
        response = _call(anonymous, method, re.sub(r"{\w+}", "1", path), template=path)
        assert response.status_code == 401, (
            f"{method.upper()} {path} answered {response.status_code}"
        )
        expected = "device_auth_missing" if (method, path) in DEVICE_OPS else "not_authenticated"
        assert response.json()["error"]["code"] == expected


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
