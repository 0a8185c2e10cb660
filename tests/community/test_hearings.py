"""A hearing from invitation to published outcome: the invited households by area, SMS
invitations, registration, check-in, opinions at the door, minutes, outcome notice and
follow-ups as a visit task and a service-desk case."""

from __future__ import annotations

from typing import Any

import pytest

from backend.community.models import (
    Hearing,
    HearingFollowUp,
    HearingOpinion,
    HearingParticipant,
    NoticeAddressee,
)
from backend.community.sms import send_due_notice_sms
from backend.notify import outbox, sms
from backend.servicedesk.models import Case
from backend.visits.models import VisitTask

from .conftest import Life, grids, hearing

pytestmark = pytest.mark.django_db


def test_a_hearing_from_invitation_to_published_outcome(
    life: Life, client_for: Any, media_and_sms: list[sms.SmsMessage]
) -> None:
    supervisor = client_for(life.supervisor_1)
    made = supervisor.post(
        "/api/v1/community/hearings",
        {
            "title": "棚户区改造方案听证会",
            "topic": "幸福路棚户区改造补偿方案",
            "place": "幸福社区居委会二楼会议室",
            "meeting_at": "2099-01-01T09:00:00+08:00",
            "area": {"kind": "grids", "ids": [life.grid_a.pk, life.grid_b.pk]},
        },
    )
    assert made.status_code == 201, made.content
    hid = made.json()["id"]
    # Before the invitations go out, residents see nothing of it.
    resident = client_for(life.resident_user_a)
    assert resident.get(f"/api/v1/community/hearings/{hid}").status_code == 404
    invited = supervisor.post(f"/api/v1/community/hearings/{hid}/invite")
    assert invited.status_code == 200 and invited.json()["state"] == "invited"
    invitation = invited.json()["invitation_notice_id"]
    assert NoticeAddressee.objects.filter(notice_id=invitation).count() == 3
    send_due_notice_sms()
    outbox.send_due()
    assert len(media_and_sms) == 2 and all("听证" in m.text for m in media_and_sms)
    assert [n["id"] for n in resident.get("/api/v1/community/notices").json()["items"]] == [
        invitation
    ]
    # Registration in the app; attendance at the meeting place; opinions three ways.
    assert resident.post(f"/api/v1/community/hearings/{hid}/registrations", {}).status_code == 200
    worker_b = client_for(life.worker_b)
    checked = supervisor.post(
        f"/api/v1/community/hearings/{hid}/check-ins", {"household_id": life.household_a.pk}
    )
    assert checked.status_code == 200 and checked.json()["attended_at"]
    written = resident.post(
        f"/api/v1/community/hearings/{hid}/opinions", {"text": "希望补偿按市场价"}
    )
    assert written.status_code == 201 and written.json()["via"] == "writing"
    at_door = worker_b.post(
        f"/api/v1/community/hearings/{hid}/opinions",
        {"text": "老人行动不便，希望就近安置", "via": "door", "resident_id": life.resident_b.pk},
    )
    assert at_door.status_code == 201, at_door.content
    door = HearingOpinion.objects.get(pk=at_door.json()["id"])
    assert (door.via, door.household_id, door.resident_id, door.recorded_by_id) == (
        "door",
        life.household_b.pk,
        life.resident_b.pk,
        life.worker_b.pk,
    )
    # Grid B's worker cannot speak for grid A's resident; community 2 is not invited.
    assert (
        worker_b.post(
            f"/api/v1/community/hearings/{hid}/opinions",
            {"text": "x", "via": "door", "resident_id": life.resident_a.pk},
        ).status_code
        == 404
    )
    listed = supervisor.get(f"/api/v1/community/hearings/{hid}/opinions").json()["items"]
    assert [o["resident"] for o in listed] == ["张**", "李**"]
    assert [
        o["household_id"]
        for o in worker_b.get(f"/api/v1/community/hearings/{hid}/opinions").json()["items"]
    ] == [life.household_b.pk]
    # Conclude: minutes, outcome as a notice to the same households, follow-ups.
    concluded = supervisor.post(
        f"/api/v1/community/hearings/{hid}/conclude",
        {
            "minutes": "到会 1 户；书面意见 1 条，上门意见 1 条。",
            "outcome": "补偿方案按市场评估价调整；行动不便老人就近安置。",
            "follow_ups": [
                {"kind": "task", "household_id": life.household_b.pk, "note": "上门说明安置方案"},
                {
                    "kind": "case",
                    "household_id": life.household_a.pk,
                    "note": "补偿评估",
                    "item_code": "community-objection",
                },
            ],
        },
    )
    assert concluded.status_code == 200, concluded.content
    assert concluded.json()["state"] == "concluded"
    outcome = concluded.json()["outcome_notice_id"]
    assert set(
        NoticeAddressee.objects.filter(notice_id=outcome).values_list("household_id", flat=True)
    ) == {life.household_a.pk, life.household_a2.pk, life.household_b.pk}
    body = resident.get(f"/api/v1/community/notices/{outcome}").json()
    assert body["kind"] == "hearing_outcome" and "就近安置" in body["body"]
    task = HearingFollowUp.objects.get(hearing_id=hid, kind="task").task
    assert task is not None and task.kind == "hearing_follow_up" and task.state == "open"
    assert VisitTask.objects.get(pk=task.pk).household == life.household_b
    case = HearingFollowUp.objects.get(hearing_id=hid, kind="case").case
    assert case is not None and Case.objects.get(pk=case.pk).household == life.household_a
    # Concluded: no more opinions or check-ins, and not twice.
    again = supervisor.post(
        f"/api/v1/community/hearings/{hid}/conclude", {"minutes": "x", "outcome": "y"}
    )
    assert again.status_code == 409
    assert (
        resident.post(f"/api/v1/community/hearings/{hid}/opinions", {"text": "晚了"}).status_code
        == 409
    )
    assert HearingParticipant.objects.get(hearing_id=hid).registered_at is not None


def test_only_authors_invite_and_conclude(life: Life, client_for: Any) -> None:
    h = hearing(life.supervisor_1, grids(life.grid_a.pk), invite=False)
    worker = client_for(life.worker_a)
    assert worker.get(f"/api/v1/community/hearings/{h.pk}").status_code == 404  # not yet out
    client_for(life.supervisor_1).post(f"/api/v1/community/hearings/{h.pk}/invite")
    assert worker.post(f"/api/v1/community/hearings/{h.pk}/invite").status_code == 403
    conclude = worker.post(
        f"/api/v1/community/hearings/{h.pk}/conclude", {"minutes": "x", "outcome": "y"}
    )
    assert conclude.status_code == 403
    assert Hearing.objects.get(pk=h.pk).state == "invited"
