"""Notices: an area's households (a polygon through PostGIS), read receipts by each channel,
the door-to-door round for the unreached, objections as routed cases only during the window,
attachments and the printable page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.utils import timezone

from backend.community.models import Notice, NoticeAddressee, NoticeObjection
from backend.community.sms import send_due_notice_sms
from backend.core import clock
from backend.notify import outbox, sms
from backend.servicedesk.models import Case
from backend.visits.actions import VisitRecord, do_sync_visits
from backend.visits.models import TaskKind, VisitTask

from .conftest import Life, grids, jpeg, notice, polygon_around

pytestmark = pytest.mark.django_db


def households(n: Notice) -> set[int]:
    return set(NoticeAddressee.objects.filter(notice=n).values_list("household_id", flat=True))


def create(client: Any, area: dict[str, Any], **extra: Any) -> Any:
    body = {"kind": "affairs", "title": "停水通知", "body": "周三停水。", "area": area, **extra}
    return client.post("/api/v1/community/notices", body)


def test_a_notice_to_a_polygon_reaches_exactly_the_households_inside(
    life: Life, client_for: Any
) -> None:
    client = client_for(life.supervisor_1)
    around_a = polygon_around(117.805, 30.925)  # household A, not A2 (same grid) nor B
    made = create(client, {"kind": "polygon", "polygon": around_a})
    assert made.status_code == 201, made.content
    published = client.post(f"/api/v1/community/notices/{made.json()['id']}/publish")
    assert published.status_code == 200 and published.json()["households"] == 1
    assert households(Notice.objects.get(pk=made.json()["id"])) == {life.household_a.pk}
    # A polygon over A and B (two grids), as a MultiPolygon.
    both = {
        "type": "MultiPolygon",
        "coordinates": [
            polygon_around(117.805, 30.925)["coordinates"],
            polygon_around(117.815, 30.925)["coordinates"],
        ],
    }
    n2 = create(client, {"kind": "polygon", "polygon": both}).json()["id"]
    client.post(f"/api/v1/community/notices/{n2}/publish")
    assert households(Notice.objects.get(pk=n2)) == {life.household_a.pk, life.household_b.pk}
    # Community 2's household lies in the polygon, but the supervisor's area is community 1.
    n3 = create(client, {"kind": "polygon", "polygon": polygon_around(117.825, 30.925)})
    refused = client.post(f"/api/v1/community/notices/{n3.json()['id']}/publish")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "area_empty"
    assert Notice.objects.get(pk=n3.json()["id"]).state == "draft"


def test_bad_areas_are_refused_with_the_field(life: Life, client_for: Any) -> None:
    client = client_for(life.supervisor_1)
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"kind": "grids", "ids": [life.grid_c.pk]}, "area.ids"),  # another community's grid
        ({"kind": "grids", "ids": []}, "area.ids"),
        ({"kind": "polygon", "polygon": {"type": "Point", "coordinates": [117.8, 30.9]}}, None),
        ({"kind": "polygon", "polygon": {"type": "Polygon", "coordinates": [[[1, 2]]]}}, None),
        ({"kind": "community", "community_id": life.c2.pk}, "area.community_id"),
    ]
    for area, field in cases:
        response = create(client, area, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 422, (area, response.content)
        if field:
            assert list(response.json()["error"]["fields"]) == [field]
    assert not Notice.objects.exists()
    # A grid worker carries notices; they do not write them.
    worker = create(client_for(life.worker_a), {"kind": "grids", "ids": [life.grid_a.pk]})
    assert worker.status_code == 403


def test_read_receipts_by_app_sms_link_and_in_person(
    life: Life, client_for: Any, media_and_sms: list[sms.SmsMessage]
) -> None:
    n = notice(life.supervisor_1, grids(life.grid_a.pk, life.grid_b.pk))
    assert households(n) == {life.household_a.pk, life.household_a2.pk, life.household_b.pk}
    # The app: resident A's account reads it.
    resident = client_for(life.resident_user_a)
    listed = resident.get("/api/v1/community/notices").json()["items"]
    assert [i["id"] for i in listed] == [n.pk]
    assert resident.post(f"/api/v1/community/notices/{n.pk}/read").json() == {"recorded": True}
    assert resident.post(f"/api/v1/community/notices/{n.pk}/read").json() == {"recorded": False}
    # The SMS link: the dispatcher's duty sends one text per household with a mobile number
    # (A2 has no resident), each with its own link; opening B's records B.
    assert send_due_notice_sms() == 3
    assert send_due_notice_sms() == 0  # handed to the outbox once
    assert outbox.send_due() == 2  # the dispatcher's outbox duty sends them
    assert {m.phone for m in media_and_sms} == {"13800000000"} and len(media_and_sms) == 2
    states = dict(NoticeAddressee.objects.filter(notice=n).values_list("household_id", "sms_state"))
    assert states[life.household_a2.pk] == "no_phone"
    row_b = NoticeAddressee.objects.get(notice=n, household=life.household_b)
    text = next(m.text for m in media_and_sms if row_b.link_token in m.text)
    path = re.search(r"/n/\w+", text).group(0)  # type: ignore[union-attr]
    page = Client().get(path)
    assert page.status_code == 200 and "小区整治方案公示" in page.content.decode()
    assert Client().get("/n/" + "0" * 32).status_code == 404
    # In person: worker A ticks it on the visit to A2.
    visit = VisitRecord(
        client_uuid=uuid.uuid4(),
        household_id=life.household_a2.pk,
        visited_at=timezone.now(),
        present=True,
    )
    do_sync_visits(worker=life.worker_a, records=[visit])
    worker = client_for(life.worker_a)
    told = worker.post(
        f"/api/v1/community/notices/{n.pk}/told",
        {"household_id": life.household_a2.pk, "visit_uuid": str(visit.client_uuid)},
    )
    assert told.json() == {"recorded": True}
    # Not on another worker's visit, nor a household outside the worker's grids.
    other = worker.post(
        f"/api/v1/community/notices/{n.pk}/told", {"household_id": life.household_b.pk}
    )
    assert other.status_code == 404
    receipts = client_for(life.supervisor_1).get(f"/api/v1/community/notices/{n.pk}/receipts")
    assert receipts.json() == {
        "total": 3,
        "app": 1,
        "sms": 1,
        "in_person": 1,
        "unreached": 0,
        "sms_sent": 2,
    }
    rows = {r.household_id: r for r in NoticeAddressee.objects.filter(notice=n)}
    assert rows[life.household_a.pk].read_channel == "app"
    assert rows[life.household_b.pk].read_channel == "sms"
    assert rows[life.household_a2.pk].read_by == life.worker_a
    assert rows[life.household_a2.pk].read_visit_uuid == visit.client_uuid


def test_workers_see_the_unreached_of_their_grid_and_get_them_on_their_list(
    life: Life, client_for: Any
) -> None:
    n = notice(life.supervisor_1, grids(life.grid_a.pk, life.grid_b.pk), door_after_hours=24)
    worker = client_for(life.worker_a)
    client_for(life.resident_user_a).post(f"/api/v1/community/notices/{n.pk}/read")
    unreached = worker.get(f"/api/v1/community/notices/{n.pk}/unreached").json()
    assert [u["household_id"] for u in unreached["items"]] == [life.household_a2.pk]
    # Before the door time nothing is raised; at it, one task per unreached household.
    clock.fire_due()
    assert not VisitTask.objects.filter(kind=TaskKind.NOTICE).exists()
    clock.fire_due(now=timezone.now() + timedelta(hours=25))
    tasks = VisitTask.objects.filter(kind=TaskKind.NOTICE, state="open")
    assert {t.household_id for t in tasks} == {life.household_a2.pk, life.household_b.pk}
    n.refresh_from_db()
    assert {t.due_at for t in tasks} == {n.ends_at}
    today = worker.get("/api/v1/visits/today").json()
    assert life.household_a2.pk in {s["household"]["id"] for s in today["stops"]}
    # Reached by another channel, the household leaves the list.
    worker.post(f"/api/v1/community/notices/{n.pk}/told", {"household_id": life.household_a2.pk})
    assert VisitTask.objects.get(household=life.household_a2, kind="notice").state == "cancelled"
    assert VisitTask.objects.get(household=life.household_b, kind="notice").state == "open"


def test_an_objection_in_the_window_is_a_routed_case_and_after_it_is_refused(
    life: Life, client_for: Any
) -> None:
    n = notice(life.supervisor_1, grids(life.grid_a.pk))
    resident = client_for(life.resident_user_a)
    made = resident.post(f"/api/v1/community/notices/{n.pk}/objections", {"text": "补偿标准过低"})
    assert made.status_code == 201, made.content
    case = Case.objects.get(pk=made.json()["case_id"])
    assert case.item.code == "community-objection" and case.state == "submitted"
    assert case.queue_key.endswith("civil_affairs") and case.resident == life.resident_a
    assert case.channel == "resident_app" and "补偿标准过低" in case.description
    # A worker records one at the door for a resident of their grid.
    door = client_for(life.worker_a).post(
        f"/api/v1/community/notices/{n.pk}/objections",
        {"text": "希望保留绿地", "resident_id": life.resident_a.pk},
    )
    assert door.status_code == 201 and Case.objects.get(pk=door.json()["case_id"]).channel == (
        "doorstep"
    )
    # Resident B is not addressed: 404, nothing filed.
    cases = Case.objects.count()
    worker_b = client_for(life.worker_b).post(
        f"/api/v1/community/notices/{n.pk}/objections",
        {"text": "x", "resident_id": life.resident_b.pk},
    )
    assert worker_b.status_code == 404
    with time_machine.travel(n.ends_at + timedelta(seconds=1), tick=False):  # type: ignore[operator]
        resident = client_for(life.resident_user_a)  # a week later: a fresh log-in
        late = resident.post(
            f"/api/v1/community/notices/{n.pk}/objections",
            {"text": "太晚了"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "objection_window_closed"
        assert "window" in late.json()["error"]["message"]
        # The notice is in the archive now.
        archive = resident.get("/api/v1/community/notices", {"archive": "true"}).json()
        assert [i["id"] for i in archive["items"]] == [n.pk]
        assert resident.get("/api/v1/community/notices").json()["items"] == []
    assert Case.objects.count() == cases
    assert NoticeObjection.objects.filter(notice=n).count() == 2


def test_residents_see_only_notices_addressed_to_them(life: Life, client_for: Any) -> None:
    to_b = notice(life.supervisor_1, grids(life.grid_b.pk))
    draft = notice(life.supervisor_1, grids(life.grid_a.pk), publish=False)
    resident = client_for(life.resident_user_a)
    assert resident.get("/api/v1/community/notices").json()["items"] == []
    for n in (to_b, draft):
        assert resident.get(f"/api/v1/community/notices/{n.pk}").status_code == 404
    assert resident.post(f"/api/v1/community/notices/{to_b.pk}/read").status_code == 404
    # The worker of grid A does not see grid B's notice either; the supervisor sees both.
    assert client_for(life.worker_a).get(f"/api/v1/community/notices/{to_b.pk}").status_code == 404
    supervisor = client_for(life.supervisor_1).get("/api/v1/community/notices").json()["items"]
    assert {i["id"] for i in supervisor} == {to_b.pk, draft.pk}


def test_attachments_photo_and_pdf_on_a_draft_only(life: Life, client_for: Any) -> None:
    n = notice(life.supervisor_1, grids(life.grid_a.pk), publish=False)
    client = client_for(life.supervisor_1)
    url = f"/api/v1/community/notices/{n.pk}/attachments"
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    for name, data in (("plan.pdf", pdf), ("site.jpg", jpeg())):
        upload = SimpleUploadedFile(name, data)
        response = client.post(url, {"file": upload, "label": name}, content_type=MULTIPART_CONTENT)
        assert response.status_code == 201, response.content
    junk = client.post(
        url,
        {"file": SimpleUploadedFile("x.jpg", b"not a photo")},
        content_type=MULTIPART_CONTENT,
    )
    assert junk.status_code == 415 and junk.json()["error"]["fields"] == {
        "file": "无法识别的图片文件。"
    }
    kinds = [
        a["kind"] for a in client.get(f"/api/v1/community/notices/{n.pk}").json()["attachments"]
    ]
    assert kinds == ["pdf", "photo"]
    first = n.attachments.order_by("pk").first()
    assert first is not None
    got = client.get(f"/api/v1/community/notices/{n.pk}/attachments/{first.pk}")
    assert got.status_code == 200 and b"".join(got.streaming_content).startswith(b"%PDF-")
    client.post(f"/api/v1/community/notices/{n.pk}/publish")
    late = client.post(
        url, {"file": SimpleUploadedFile("late.pdf", pdf)}, content_type=MULTIPART_CONTENT
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "notice_wrong_state"


def test_the_printable_page_is_a4_with_the_chinese_font_embedded(
    life: Life, client_for: Any
) -> None:
    n = notice(life.supervisor_1, grids(life.grid_a.pk))
    response = client_for(life.worker_a).get(f"/api/v1/community/notices/{n.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert b"/FontFile2" in pdf  # the TrueType font program is in the file
    assert b"WenQuanYiMicroHei" in pdf or b"WenQuanYi" in pdf
    assert re.search(rb"/MediaBox \[ 0 0 595\.27\d* 841\.88\d* \]", pdf)
    # The addressed resident may print it; grid B's worker may not (404, as if missing).
    assert (
        client_for(life.resident_user_a).get(f"/api/v1/community/notices/{n.pk}/pdf").status_code
        == 200
    )
    assert client_for(life.worker_b).get(f"/api/v1/community/notices/{n.pk}/pdf").status_code == (
        404
    )
