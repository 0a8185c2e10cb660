"""Volunteers: a need is offered only to consenting volunteers with the skill within both the
task's radius and their own distance (PostGIS); the volunteer sees the minimum about the
person; the hours are confirmed once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.audit.models import AuditEvent
from backend.community.actions import VolunteerIn, do_register_volunteer
from backend.community.models import VolunteerOffer, VolunteerTask
from backend.people.actions import do_create_resident
from backend.people.models import LegalBasis, Resident
from tests.conftest import PASSWORD, make_id_number

from .conftest import Life

pytestmark = pytest.mark.django_db


def neighbour(life: Life, name: str, serial: int) -> Resident:
    return do_create_resident(
        household=life.household_a2,
        name=name,
        gender="M",
        birth_date=date(1980, 1, 1),
        id_number=make_id_number(serial, date(1980, 1, 1)),
        legal_basis=LegalBasis.CONSENT,
        phone="13700000000",
    )


def need(client: Any, household_id: int, **extra: Any) -> Any:
    body = {
        "household_id": household_id,
        "skill": "accompany",
        "description": "周四上午陪同去市立医院复诊",
        "due_at": (timezone.now() + timedelta(days=2)).isoformat(),
        "radius_m": 1000,
        **extra,
    }
    return client.post("/api/v1/community/volunteer-tasks", body)


def test_a_need_goes_only_to_consenting_volunteers_within_the_distance_and_hours_confirm_once(
    life: Life, client_for: Any
) -> None:
    # B lives ~950 m from A and registers in the app, with consent.
    user_b = User.objects.create_user(
        "13100000009", PASSWORD, name="李秀兰", role=Role.RESIDENT, resident=life.resident_b
    )
    volunteer_b = client_for(user_b)
    registered = volunteer_b.post(
        "/api/v1/community/volunteers", {"skills": ["accompany", "call"], "consent": True}
    )
    assert registered.status_code == 200 and registered.json()["consent"] is True
    # A2 (~570 m away): one without consent, one who goes only 500 m, one with another skill.
    for serial, (name, skills, consent, distance) in enumerate(
        [
            ("赵一", ("accompany",), False, 1000),
            ("钱二", ("accompany",), True, 500),
            ("孙三", ("call",), True, 1000),
        ],
        start=801,
    ):
        do_register_volunteer(
            user=life.worker_a,
            data=VolunteerIn(
                skills=skills,
                consent=consent,
                max_distance_m=distance,
                resident_id=neighbour(life, name, serial).pk,
            ),
        )
    # C (~1.9 km away, community 2) consents and has the skill.
    do_register_volunteer(
        user=life.admin,
        data=VolunteerIn(skills=("accompany",), consent=True, resident_id=life.resident_c.pk),
    )
    worker = client_for(life.worker_a)
    made = need(worker, life.household_a.pk)
    assert made.status_code == 201, made.content
    task = VolunteerTask.objects.get(pk=made.json()["id"])
    offers = VolunteerOffer.objects.filter(task=task)
    assert [o.volunteer.resident_id for o in offers] == [life.resident_b.pk]
    assert 900 < offers[0].distance_m < 1000
    # The volunteer sees the task with the minimum about the person: address and masked name.
    listed = volunteer_b.get("/api/v1/community/volunteer-tasks").json()["items"]
    assert [t["id"] for t in listed] == [task.pk]
    before = AuditEvent.objects.count()
    detail = volunteer_b.get(f"/api/v1/community/volunteer-tasks/{task.pk}")
    assert detail.json()["person"] == "张**" and detail.json()["address"] == "幸福路1号1栋101室"
    text = detail.content.decode()
    assert life.resident_a.phone not in text and life.resident_a.id_number_masked not in text
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.latest("pk").action == "view_volunteer_match"
    # Not offered (a skill B does not have): invisible to the volunteer (404, as if missing).
    other = need(worker, life.household_a.pk, skill="repair").json()["id"]
    assert volunteer_b.get(f"/api/v1/community/volunteer-tasks/{other}").status_code == 404
    # Accept, record the hours, the person helped confirms once.
    url = f"/api/v1/community/volunteer-tasks/{task.pk}"
    assert volunteer_b.post(f"{url}/accept").json()["state"] == "accepted"
    assert volunteer_b.post(f"{url}/accept").status_code == 409
    too_many = volunteer_b.post(f"{url}/hours", {"hours": "30"})
    assert too_many.status_code == 422
    assert volunteer_b.post(f"{url}/hours", {"hours": "2.5"}).json()["hours"] == 2.5
    assert volunteer_b.post(f"{url}/confirm").status_code == 403  # not the person helped
    helped = client_for(life.resident_user_a)
    confirmed = helped.post(f"{url}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    again = worker.post(f"{url}/confirm")
    assert again.status_code == 409 and again.json()["error"]["code"] == "volunteer_hours_confirmed"
    task.refresh_from_db()
    assert task.confirmed_by == life.resident_user_a and str(task.hours) == "2.5"
    assert task.grid == life.grid_a  # the task stays the grid's


def test_withdrawn_consent_stops_the_offers(life: Life, client_for: Any) -> None:
    user_b = User.objects.create_user(
        "13100000009", PASSWORD, name="李秀兰", role=Role.RESIDENT, resident=life.resident_b
    )
    volunteer_b = client_for(user_b)
    volunteer_b.post("/api/v1/community/volunteers", {"skills": ["accompany"], "consent": True})
    volunteer_b.post("/api/v1/community/volunteers", {"skills": ["accompany"], "consent": False})
    made = need(client_for(life.worker_a), life.household_a.pk).json()["id"]
    assert not VolunteerOffer.objects.filter(task_id=made).exists()
    assert volunteer_b.get("/api/v1/community/volunteer-tasks").json()["items"] == []
    # A worker cannot raise a need for a household outside their grids.
    assert need(client_for(life.worker_a), life.household_b.pk).status_code == 404


def test_reads_of_the_registry_and_of_a_match_are_audited(life: Life, client_for: Any) -> None:
    """Every read of volunteers' data writes an audit row naming whom it showed (like a
    resident's record): the registry's pages, the task lists, a task, and its match."""
    far = neighbour(life, "钱二", 811)
    near = do_register_volunteer(
        user=life.worker_a,
        data=VolunteerIn(skills=("accompany",), consent=True, resident_id=far.pk),
    )
    worker = client_for(life.worker_a)
    before = AuditEvent.objects.count()
    registry = worker.get("/api/v1/community/volunteers", HTTP_X_CLIENT="gridline-android/2.1")
    assert [v["id"] for v in registry.json()["items"]] == [near.pk]
    event = AuditEvent.objects.latest("pk")
    assert (event.action, event.actor, event.target_type, event.target_ids) == (
        "list_volunteers",
        life.worker_a,
        "volunteer",
        [near.pk],
    )
    assert event.client == "127.0.0.1 claims: gridline-android/2.1"
    task = need(worker, life.household_a.pk).json()["id"]
    # The match: who the task went to, nearest first, masked; the read names them.
    offers = worker.get(f"/api/v1/community/volunteer-tasks/{task}/offers")
    assert offers.status_code == 200, offers.content
    [offer] = offers.json()
    assert (offer["volunteer_id"], offer["volunteer"], offer["accepted"]) == (near.pk, "钱*", False)
    assert 500 < offer["distance_m"] < 700
    event = AuditEvent.objects.latest("pk")
    assert (event.action, event.target_type, event.target_id, event.target_ids) == (
        "view_volunteer_match",
        "volunteer_task",
        task,
        [near.pk],
    )
    # A task list page and a task read by staff are audited too.
    worker.get("/api/v1/community/volunteer-tasks")
    listed = AuditEvent.objects.latest("pk")
    assert (listed.action, listed.target_ids) == ("list_volunteer_tasks", [task])
    worker.get(f"/api/v1/community/volunteer-tasks/{task}")
    assert AuditEvent.objects.latest("pk").action == "view_volunteer_match"
    reads = AuditEvent.objects.filter(pk__gt=before).exclude(action__in=["write", "login"])
    assert list(reads.order_by("pk").values_list("action", flat=True)) == [
        "list_volunteers",
        "view_volunteer_match",
        "list_volunteer_tasks",
        "view_volunteer_match",
    ]
    # Out of scope is 404 and audits nothing; the match is not for residents (403).
    worker_b, helped = client_for(life.worker_b), client_for(life.resident_user_a)
    count = AuditEvent.objects.count()
    assert worker_b.get(f"/api/v1/community/volunteer-tasks/{task}/offers").status_code == 404
    assert helped.get(f"/api/v1/community/volunteer-tasks/{task}/offers").status_code == 403
    assert AuditEvent.objects.count() == count
