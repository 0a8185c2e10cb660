"""Open311 reads as GeoReport v2 says (issue 11 item 7): GET of service requests without an
api_key is allowed and shows only requests of items public by their definition (environment,
facilities), without description, with the community for the address and the location to
about 100 m; never a personal service. A key still sees what its own rules allow."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from backend.audit.models import AuditEvent
from backend.servicedesk.actions.keys import do_issue_open311_key
from backend.servicedesk.models import Open311Key, ServiceItem
from tests.servicedesk.conftest import Desk, desk, file_case, media_root  # noqa: F401

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
LAT, LON = "30.92513", "117.80527"
DESCRIPTION = "王明 13900000001：幸福路1号1栋门口路灯不亮"


@pytest.fixture
def street_light(desk: Desk) -> ServiceItem:  # noqa: F811
    item, _ = ServiceItem.objects.update_or_create(
        code="t-street-light",
        defaults={
            "name_zh": "路灯报修",
            "name_en": "Street light",
            "category": "facilities",
            "line": "",
            "department": desk.department,
            "time_limit_days": 5,
            "public_requests": True,
        },
    )
    return item


def _file(client: Client, key: str, code: str) -> str:
    response = client.post(
        f"{BASE}/requests.json",
        {
            "api_key": key,
            "service_code": code,
            "lat": LAT,
            "long": LON,
            "address_string": "幸福路1号1栋101室",
            "description": DESCRIPTION,
            "first_name": "明",
            "last_name": "王",
            "phone": "13900000001",
        },
    )
    assert response.status_code == 201, response.content
    return str(response.json()[0]["service_request_id"])


def test_a_keyless_read_shows_public_requests_only_and_no_personal_data(
    desk: Desk,  # noqa: F811
    street_light: ServiceItem,
) -> None:
    client = Client()
    key = do_issue_open311_key(key=Open311Key(name="12345 热线"))
    public = _file(client, key, street_light.code)
    personal = _file(client, key, desk.allowance.code)  # an allowance application
    file_case(desk)  # and one filed at the front desk for a resident
    before = AuditEvent.objects.count()

    response = client.get(f"{BASE}/requests.json")
    assert response.status_code == 200
    (row,) = response.json()
    assert row["service_request_id"] == public and row["service_code"] == "t-street-light"
    assert row["description"] == ""
    assert row["address"] == desk.world.c1.name  # the community, not the door
    assert (row["lat"], row["long"]) == (30.925, 117.805)
    text = response.content.decode()
    for personal_fact in ("王", "13900000001", "幸福路1号", "101室", "30.92513", "117.80527"):
        assert personal_fact not in json.dumps(json.loads(text), ensure_ascii=False)
    # Filters work as with a key; a personal request is not found, exactly like a missing one.
    assert client.get(f"{BASE}/requests.json", {"service_code": desk.allowance.code}).json() == []
    (detail,) = client.get(f"{BASE}/requests/{public}.json").json()
    assert detail == row
    missing = client.get(f"{BASE}/requests/{personal}.json")
    assert missing.status_code == 404
    assert missing.content == client.get(f"{BASE}/requests/20990101-0001.json").content
    # No personal data read: no audit row.
    assert AuditEvent.objects.count() == before

    # XML, as a GeoReport client reads it.
    root = ET.fromstring(client.get(f"{BASE}/requests.xml").content)  # noqa: S314 - our answer
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [public]
    assert root.findtext("request/description") == ""

    # jurisdiction_id narrows to a district; an unknown one is 404.
    assert client.get(f"{BASE}/requests.json", {"jurisdiction_id": "nope"}).status_code == 404


def test_a_key_still_sees_what_its_rules_allow(
    desk: Desk,  # noqa: F811
    street_light: ServiceItem,
) -> None:
    client = Client()
    key = do_issue_open311_key(key=Open311Key(name="12345 热线"))
    public = _file(client, key, street_light.code)
    personal = _file(client, key, desk.allowance.code)
    rows = client.get(f"{BASE}/requests.json", {"api_key": key}).json()
    assert {r["service_request_id"] for r in rows} == {public, personal}
    full = next(r for r in rows if r["service_request_id"] == public)
    assert full["description"] == DESCRIPTION and full["lat"] == float(LAT)
    # A key that is named but wrong (or revoked) is refused, never read as no key.
    assert client.get(f"{BASE}/requests.json", {"api_key": "o311_wrong"}).status_code == 403
    Open311Key.objects.update(active=False)
    assert client.get(f"{BASE}/requests/{public}.json", {"api_key": key}).status_code == 403


def test_only_places_can_be_public(desk: Desk) -> None:  # noqa: F811
    """A personal service (an allowance) cannot be made public, by the admin or otherwise."""
    desk.allowance.public_requests = True
    with pytest.raises(IntegrityError), transaction.atomic():
        desk.allowance.save()
