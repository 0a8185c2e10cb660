"""Open311 GeoReport v2: a client lists services, files a request with its api_key, and reads
it back — every field named as the specification names it (wiki.open311.org/GeoReport_v2)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from backend.servicedesk.actions.keys import do_issue_open311_key
from backend.servicedesk.models import Case, Open311Key
from tests.conftest import CaptureEvents

from .conftest import Desk

pytestmark = pytest.mark.django_db

SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
}
POST_FIELDS = {"service_request_id", "token", "service_notice", "account_id"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
BASE = "/open311/v2"


def xml(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314 - our own server's answer


def make_key(name: str = "12345 市民热线", **extra: Any) -> str:
    return do_issue_open311_key(key=Open311Key(name=name, **extra))


def post_request(client: Client, key: str | None, **fields: Any) -> Any:
    data = {
        "service_code": "t-allowance",
        "lat": "30.9251",
        "long": "117.8052",
        "address_string": "幸福路1号1栋",
        "description": "我家老人满80岁了，想申请高龄津贴",
        "first_name": "明",
        "last_name": "王",
        "phone": "13900000001",
        **fields,
    }
    if key:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.json", data)  # form-encoded, as Open311 clients send


def test_open311_round_trip(desk: Desk, capture_events: CaptureEvents) -> None:
    client = Client()
    key = make_key()

    discovery = client.get(f"{BASE}/discovery.json").json()
    assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert "application/json" in discovery["endpoints"][0]["formats"]

    services = client.get(f"{BASE}/services.json").json()
    assert services and all(set(s) == SERVICE_FIELDS for s in services)
    allowance = next(s for s in services if s["service_code"] == "t-allowance")
    assert allowance["type"] == "realtime" and allowance["metadata"] is True
    assert allowance["service_name"] == desk.allowance.name_zh
    english = client.get(f"{BASE}/services.json", HTTP_ACCEPT_LANGUAGE="en").json()
    assert {s["service_name"] for s in english} >= {desk.allowance.name_en}

    definition = client.get(f"{BASE}/services/t-allowance.json").json()
    assert definition["service_code"] == "t-allowance"
    assert [a["description"] for a in definition["attributes"]] == ["身份证", "户口簿"]
    assert all(set(a) == ATTRIBUTE_FIELDS for a in definition["attributes"])

    with capture_events() as events:
        filed = post_request(client, key)
    assert filed.status_code == 201, filed.content
    (created,) = filed.json()
    assert set(created) == POST_FIELDS
    number = created["service_request_id"]

    (read,) = client.get(f"{BASE}/requests/{number}.json", {"api_key": key}).json()
    assert set(read) == REQUEST_FIELDS
    assert read["service_request_id"] == number and read["status"] == "open"
    assert read["service_code"] == "t-allowance"
    assert (read["lat"], read["long"]) == (30.9251, 117.8052)
    assert read["description"].startswith("我家老人") and read["expected_datetime"]

    listed = client.get(
        f"{BASE}/requests.json", {"api_key": key, "service_code": "t-allowance", "status": "open"}
    ).json()
    assert [r["service_request_id"] for r in listed] == [number]
    closed = client.get(f"{BASE}/requests.json", {"api_key": key, "status": "closed"}).json()
    assert closed == []
    (by_token,) = client.get(f"{BASE}/tokens/{created['token']}.json").json()
    assert by_token == {"service_request_id": number, "token": created["token"]}

    # It is a case like any other: routed by the point's grid to the community's queue.
    case = Case.objects.get(number=number)
    assert (case.channel, case.grid, case.state) == ("open311", desk.world.grid_a, "submitted")
    assert case.queue_key == f"line:{desk.world.c1.pk}:elderly_care"
    assert events.of(desk.world.officer_elderly_1, "case.updated")


def test_open311_keys_and_errors(desk: Desk) -> None:
    client = Client()
    key, other = make_key(), make_key("another platform")
    no_key = post_request(client, None)
    assert no_key.status_code == 403
    assert set(no_key.json()[0]) == {"code", "description"}
    assert post_request(client, "o311_wrong").status_code == 403
    assert post_request(client, key, service_code="nope").status_code == 400
    assert post_request(client, key, lat="").status_code == 400
    outside = post_request(client, key, lat="10.0", long="10.0")
    assert outside.status_code == 400
    assert Case.objects.count() == 0

    number = post_request(client, key).json()[0]["service_request_id"]
    # A key sees what it filed; another key does not (and no resident's data ever leaves).
    assert client.get(f"{BASE}/requests/{number}.json", {"api_key": other}).status_code == 404
    assert client.get(f"{BASE}/requests.json", {"api_key": other}).json() == []
    # Without a key: public requests only (tests/trust/test_open311_public.py); an allowance
    # application is never one.
    assert client.get(f"{BASE}/requests.json").json() == []
    platform = make_key("区级平台", sees_all_requests=True, district=desk.world.district)
    seen = client.get(f"{BASE}/requests.json", {"api_key": platform}).json()
    assert [r["service_request_id"] for r in seen] == [number]
    assert client.get(f"{BASE}/services/nope.json").status_code == 404
    bad_status = client.get(f"{BASE}/requests.json", {"api_key": key, "status": "x"})
    assert bad_status.status_code == 400
    assert post_request(client, key, first_name="a\x00b").status_code == 400
    nul = client.get(f"{BASE}/requests.json", {"api_key": key, "service_code": "a\x00"})
    assert nul.status_code == 400
    for date in ("2026-13-45T10:00:00+08:00", "yesterday"):
        bad = client.get(f"{BASE}/requests.json", {"api_key": key, "start_date": date})
        assert bad.status_code == 400, date
    window = client.get(
        f"{BASE}/requests.json",
        {"api_key": key, "start_date": "2020-01-01T00:00:00+08:00", "end_date": "2099-01-01"},
    )
    assert [r["service_request_id"] for r in window.json()] == [number]


def test_open311_xml(desk: Desk) -> None:
    client = Client()
    response = client.get(f"{BASE}/services.xml")
    assert response["Content-Type"].startswith("text/xml")
    root = xml(response.content)
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert "t-allowance" in codes
    definition = xml(client.get(f"{BASE}/services/t-allowance.xml").content)
    assert definition.tag == "service_definition"
    assert len(definition.findall("attributes/attribute")) == 2
    key = make_key()
    filed = client.post(
        f"{BASE}/requests.xml",
        {"api_key": key, "service_code": "t-allowance", "lat": "30.9251", "long": "117.8052"},
    )
    assert filed.status_code == 201
    number = xml(filed.content).findtext("request/service_request_id")
    read = xml(client.get(f"{BASE}/requests/{number}.xml", {"api_key": key}).content)
    assert read.findtext("request/status") == "open"
    errors = xml(client.get(f"{BASE}/requests.xml", {"api_key": "o311_wrong"}).content)
    assert errors.tag == "errors" and errors.findtext("error/code") == "403"
