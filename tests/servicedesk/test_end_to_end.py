"""A proxy application travels doorstep → back office → approval → delivery at the door →
rating, through the API, with the timeline, the streams and the clock checked on the way."""

from __future__ import annotations

from typing import Any

import pytest
from django.test.client import MULTIPART_CONTENT

from backend.core.models import Timer
from backend.notify import sms
from backend.notify.outbox import send_due
from backend.servicedesk.models import Case, CaseRating
from backend.visits.models import VisitTask
from tests.conftest import CaptureEvents
from tests.photos.test_pipeline import jpeg_with_exif

from .conftest import Desk, new_id

pytestmark = pytest.mark.django_db

DOOR = {"lat": 30.925, "lon": 117.805, "accuracy_m": 8}  # household A
ACROSS_TOWN = {"lat": 30.935, "lon": 117.805, "accuracy_m": 8}  # ~1.1 km north


def upload(client: Any, case_id: int, kind: str, label: str = "") -> Any:
    data = {"file": _file(), "client_photo_id": new_id(), "kind": kind, "label": label}
    return client.post(f"/api/v1/cases/{case_id}/documents", data, content_type=MULTIPART_CONTENT)


def _file() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("form.jpg", jpeg_with_exif((1200, 900)), content_type="image/jpeg")


def test_proxy_application_doorstep_to_rating(
    desk: Desk, client_for: Any, capture_events: CaptureEvents
) -> None:
    w = desk.world
    worker, officer = client_for(w.worker_a), client_for(w.officer_elderly_1)
    resident = client_for(w.resident_user_a)

    # 1. On the doorstep: the worker files for the resident; a proxy case starts as a draft.
    body = {
        "client_case_id": new_id(),
        "item_code": desk.modification.code,
        "resident_id": w.resident_a.pk,
        "channel": "doorstep",
        "proxy": True,
        "description": "老人行动不便，代为申请适老化改造",
        "location": DOOR,
    }
    with capture_events() as events:
        filed = worker.post("/api/v1/cases", body)
    assert filed.status_code == 201, filed.content
    case_id, number = filed.json()["id"], filed.json()["number"]
    assert filed.json()["state"] == "draft" and len(number) == 12
    assert worker.post("/api/v1/cases", body).json() == filed.json()  # a retry files nothing
    assert Case.objects.count() == 1
    # A draft concerns the worker and the resident (who could confirm in the app), not yet
    # the back office.
    assert events.recipients() == {w.worker_a.pk, w.resident_user_a.pk}

    # No consent yet: submit is refused and nothing changes.
    refused = worker.post(f"/api/v1/cases/{case_id}/submit", {})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "case_consent_missing"
    assert Case.objects.get(pk=case_id).state == "draft"

    # The signed consent form and a document, as photos through the shared pipeline.
    consent = upload(worker, case_id, "consent", "委托书")
    assert consent.status_code == 201, consent.content
    assert upload(worker, case_id, "material", "身份证").status_code == 201
    docs = worker.get(f"/api/v1/cases/{case_id}/documents").json()
    assert [d["kind"] for d in docs] == ["consent", "material"]
    assert docs[0]["url"].startswith("/photos/")

    with capture_events() as events:
        submitted = worker.post(f"/api/v1/cases/{case_id}/submit", {"location": DOOR})
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["state"] == "submitted" and submitted.json()["due_at"]
    assert submitted.json()["queue"] == f"line:{w.c1.pk}:elderly_care"
    # The queue hears of it at once, with push when the phone has no socket.
    (arrived,) = events.of(w.officer_elderly_1, "case.updated")
    assert arrived.urgent and arrived.data["number"] == number

    # 2. Back office: in the officer's queue; accept; ask for more material (clock pauses).
    queue = officer.get("/api/v1/cases", {"view": "queue"}).json()
    assert [c["id"] for c in queue["items"]] == [case_id]
    assert officer.post(f"/api/v1/cases/{case_id}/accept", {}).status_code == 200
    with capture_events() as events:
        asked = officer.post(
            f"/api/v1/cases/{case_id}/request-material",
            {"materials": ["房屋产权证明"], "note": "缺产权证明"},
        )
    assert asked.status_code == 200 and asked.json()["paused"] is True
    assert asked.json()["due_at"] is None
    assert not Timer.objects.filter(
        key=str(case_id), fired_at__isnull=True, cancelled_at__isnull=True
    ).exists()
    (back,) = events.of(w.worker_a, "case.updated")
    assert back.urgent and back.data["paused"]  # back to the worker with the list

    # The worker brings it; the clock resumes.
    assert upload(worker, case_id, "material", "房屋产权证明").status_code == 201
    supplied = worker.post(f"/api/v1/cases/{case_id}/supply-material", {"location": DOOR})
    assert supplied.json()["state"] == "accepted" and supplied.json()["due_at"]
    assert officer.post(f"/api/v1/cases/{case_id}/start", {}).status_code == 200
    approved = officer.post(f"/api/v1/cases/{case_id}/approve", {"reason": "符合条件"})
    assert approved.json()["state"] == "approved" and approved.json()["on_time"] is True
    # The result must be handed over: it is now on the grid worker's visit list.
    delivery = VisitTask.objects.get(kind="delivery", source_kind="case", source_ref=str(case_id))
    assert delivery.household == w.household_a and number in delivery.reason

    # 3. Delivery by hand at the door: a check-in across town is refused.
    far = worker.post(f"/api/v1/cases/{case_id}/deliver", {"location": ACROSS_TOWN})
    assert far.status_code == 422 and far.json()["error"]["code"] == "checkin_too_far"
    no_fix = worker.post(f"/api/v1/cases/{case_id}/deliver", {"method": "app"})
    assert no_fix.status_code == 422
    delivered = worker.post(f"/api/v1/cases/{case_id}/deliver", {"location": DOOR})
    assert delivered.status_code == 200 and delivered.json()["state"] == "delivered"
    with capture_events() as events:
        closed = worker.post(f"/api/v1/cases/{case_id}/close", {"location": DOOR})
    assert closed.json()["state"] == "closed"

    # 4. The resident is asked to rate it in the app, and does; once.
    assert events.of(w.resident_user_a, "case.rating_requested")
    rated = resident.post(f"/api/v1/cases/{case_id}/rating", {"score": 5, "comment": "很满意"})
    assert rated.status_code == 201 and rated.json()["via"] == "app"
    again = worker.post(f"/api/v1/cases/{case_id}/rating", {"score": 4})
    assert again.status_code == 409
    assert CaseRating.objects.get(case_id=case_id).score == 5
    assert not sms.outbox  # the resident has the app: no SMS

    # Staff notes stay with the staff.
    note = worker.post(f"/api/v1/cases/{case_id}/comments", {"text": "家属说下午在家"})
    assert note.status_code == 201
    assert [c["text"] for c in worker.get(f"/api/v1/cases/{case_id}/comments").json()] == [
        "家属说下午在家"
    ]
    assert resident.get(f"/api/v1/cases/{case_id}/comments").status_code == 403
    seen_by_resident = resident.get(f"/api/v1/cases/{case_id}").json()["timeline"]
    assert "comment" not in {s["kind"] for s in seen_by_resident}

    # The timeline: who, when and from where, in order.
    detail = worker.get(f"/api/v1/cases/{case_id}").json()
    kinds = [s["kind"] for s in detail["timeline"]]
    assert kinds == [
        "filed",
        "document",
        "document",
        "submit",
        "accept",
        "request_material",
        "document",
        "supply_material",
        "start",
        "approve",
        "deliver",
        "close",
        "rated",
        "comment",
    ]
    steps = {s["kind"]: s for s in detail["timeline"]}
    assert steps["deliver"]["actor_id"] == w.worker_a.pk
    assert steps["deliver"]["location"] == {"lat": 30.925, "lon": 117.805}
    assert steps["deliver"]["data"] == {"method": "in_person", "checked_in": True}
    assert steps["deliver"]["duty"] == "B"
    assert steps["accept"]["actor_id"] == w.officer_elderly_1.pk
    assert steps["accept"]["duty"] == "A"
    assert steps["request_material"]["data"] == {"materials": ["房屋产权证明"]}
    assert detail["rating"]["score"] == 5


def test_a_resident_without_the_app_hears_by_sms(
    desk: Desk, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    w = desk.world
    worker_b, officer = client_for(w.worker_b), client_for(w.officer_elderly_1)
    filed = worker_b.post(
        "/api/v1/cases",
        {
            "client_case_id": new_id(),
            "item_code": desk.allowance.code,
            "resident_id": w.resident_b.pk,
            "channel": "phone",
        },
    ).json()
    assert filed["state"] == "submitted"
    for step in ("accept", "start"):
        assert officer.post(f"/api/v1/cases/{filed['id']}/{step}", {}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        officer.post(f"/api/v1/cases/{filed['id']}/reject", {"reason": "年龄未满80周岁"})
    assert sms.outbox == []  # an outbox row: the dispatcher sends it
    send_due()
    assert len(sms.outbox) == 1
    assert filed["number"] in sms.outbox[0].text and sms.outbox[0].phone == "13800000000"


def test_intake_scope_and_the_resident_app(desk: Desk, client_for: Any) -> None:
    w = desk.world
    body = {"client_case_id": new_id(), "item_code": desk.allowance.code, "channel": "front_desk"}
    worker = client_for(w.worker_a)
    out_of_scope = worker.post("/api/v1/cases", {**body, "resident_id": w.resident_c.pk})
    assert out_of_scope.status_code == 404
    resident = client_for(w.resident_user_a)
    own = resident.post(
        "/api/v1/cases", {**body, "client_case_id": new_id(), "channel": "resident_app"}
    )
    assert own.status_code == 201 and own.json()["state"] == "submitted"
    listed = resident.get("/api/v1/cases").json()
    assert [c["id"] for c in listed["items"]] == [own.json()["id"]]
    by_number = client_for(w.officer_elderly_1).get("/api/v1/cases", {"q": own.json()["number"]})
    assert by_number.json()["count"] == 1
    catalog = worker.get("/api/v1/service-items").json()
    assert desk.allowance.code in {i["code"] for i in catalog}


def test_a_nul_in_the_search_is_422_not_500(desk: Desk, client_for: Any) -> None:
    response = client_for(desk.world.worker_a).get("/api/v1/cases", {"q": "12\x003"})
    assert response.status_code == 422
