"""The smaller findings of the security review (issue 11)."""

from __future__ import annotations

import io
import json
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from PIL import Image

from backend.accounts.actions import do_logout, do_register_push_token, do_remove_grid_assignment
from backend.accounts.models import MobileSession, PushToken
from backend.audit.models import AuditEvent
from backend.core.models import StreamEvent
from backend.core.stream import record_events
from backend.photos import pipeline
from mobile_api.open311.views import render
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_the_jpeg_comment_segment_does_not_survive() -> None:
    source = io.BytesIO()
    Image.new("RGB", (640, 480), "white").save(source, "JPEG", comment=b"patient: Zhang, HbA1c 9%")
    processed = pipeline.process(source.getvalue())
    for copy in (processed.display, processed.thumbnail):
        assert b"HbA1c" not in copy
        assert b"\xff\xfe" not in copy.split(b"\xff\xda", 1)[0]  # no COM before the scan
        assert "comment" not in Image.open(io.BytesIO(copy)).info


def test_open311_xml_survives_control_characters() -> None:
    body = render(
        [{"service_request_id": "1", "description": "漏水\x00\x07\x1b[31m end\ufffe"}],
        "xml",
        root="service_requests",
    )
    root = ET.fromstring(body.content)  # noqa: S314 - our own output; raises on a control char
    text = root.findtext("request/description")
    assert text is not None and text.startswith("漏水") and text.endswith("end\ufffd")


def test_push_tokens_are_not_taken_from_a_signed_in_user(world: World, client_for: Any) -> None:
    client_for(world.worker_a)  # worker A is signed in
    do_register_push_token(user=world.worker_a, token="PHONE-A", platform="android", provider="fcm")
    thief = client_for(world.worker_b)
    taken = thief.post(
        "/api/v1/me/push-tokens",
        {"token": "PHONE-A", "platform": "android"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "push_token_taken"
    assert PushToken.objects.get().user == world.worker_a
    # Once worker A has signed out everywhere (the phone changed hands), it moves.
    for session in MobileSession.objects.filter(user=world.worker_a):
        do_logout(session=session)
    moved = thief.post("/api/v1/me/push-tokens", {"token": "PHONE-A", "platform": "android"})
    assert moved.status_code == 201
    assert PushToken.objects.get().user == world.worker_b


@pytest.mark.parametrize(
    "path",
    ["/board/login/", "/api/v1/health", "/api/v1/docs", "/open311/v2/services.json", "/admin/"],
)
def test_every_page_has_csp_frame_ancestors_and_referrer_policy(path: str) -> None:
    response = Client().get(path)
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    if not path.startswith("/admin/"):
        assert "script-src 'self';" in csp  # no inline scripts


def test_seed_demo_and_demo_codes_refuse_production(settings: Any, world: World) -> None:
    settings.PRODUCTION = True  # pytest-django's settings fixture: restored after the test
    with pytest.raises(CommandError):
        call_command("seed_demo")
    with pytest.raises(CommandError):
        call_command("board_totp", "--phone", world.supervisor_1.phone, "--code")


def test_a_forged_client_header_is_not_where_the_read_came_from(
    world: World, client_for: Any
) -> None:
    client = client_for(world.worker_a)
    client.get(
        f"/api/v1/residents/{world.resident_a.pk}",
        HTTP_X_CLIENT="10.9.9.9 trusted-terminal",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
        REMOTE_ADDR="192.0.2.7",
    )
    event = AuditEvent.objects.latest("pk")
    assert event.ip == "192.0.2.7"
    assert event.client.startswith("192.0.2.7 claims: ")


def test_a_trusted_proxy_forwards_the_clients_address(
    world: World, client_for: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = client_for(world.worker_a)
    client.get(
        f"/api/v1/residents/{world.resident_a.pk}",
        HTTP_X_FORWARDED_FOR="203.0.113.5, 10.1.1.1",
        REMOTE_ADDR="10.2.2.2",
    )
    assert AuditEvent.objects.latest("pk").ip == "203.0.113.5"


def test_losing_a_grid_ends_access_to_its_old_alerts_cases_and_stream(
    world: World, client_for: Any
) -> None:
    import uuid

    from backend.alerts.actions import do_accept, do_raise_for_resident, do_resolve

    worker = world.worker_a
    answer = do_raise_for_resident(
        user=world.resident_user_a,
        resident=world.resident_a,
        client_alert_id=uuid.uuid4(),
        kind="emergency",
        body={},
    )
    alert_id = answer[1]["alert_id"]
    do_accept(user=worker, alert_id=alert_id)
    do_resolve(user=worker, alert_id=alert_id, disposition="false_press", note="")
    phone = client_for(worker)
    assert phone.get(f"/api/v1/alerts/{alert_id}").status_code == 200
    record_events(
        user_ids=[worker.pk],
        type="alert.raised",
        data={"alert": {"grid_id": world.grid_a.pk, "household": {"address": "幸福路1号"}}},
    )
    record_events(user_ids=[worker.pk], type="note", data={"grid_id": world.grid_b.pk})
    do_remove_grid_assignment(assignment=worker.b_posts.get(grid=world.grid_a))
    frames = {e.type: e.data for e in StreamEvent.objects.filter(user=worker)}
    assert "幸福路1号" not in json.dumps(frames, ensure_ascii=False)
    assert frames["redacted"] == {}
    assert frames["note"] == {"grid_id": world.grid_b.pk}  # another grid's event stays
    assert phone.get(f"/api/v1/households/{world.household_a.pk}").status_code == 404
    assert phone.get(f"/api/v1/alerts/{alert_id}").status_code == 404
