"""Grid self-governance groups: formed per grid, one leader, meetings with attendance and
minutes, an activity log, topics proposed and decided once; staff of the grid only."""

from __future__ import annotations

from typing import Any

import pytest

from backend.community.models import GroupActivity, GroupMeeting

from .conftest import Life

pytestmark = pytest.mark.django_db


def test_a_group_from_forming_to_a_proposal_taken_up(life: Life, client_for: Any) -> None:
    worker = client_for(life.worker_a)
    made = worker.post(
        "/api/v1/community/groups", {"grid_id": life.grid_a.pk, "name": "一网格自治小组"}
    )
    assert made.status_code == 201, made.content
    gid = made.json()["id"]
    url = f"/api/v1/community/groups/{gid}"
    leader = worker.post(f"{url}/members", {"resident_id": life.resident_a.pk, "role": "leader"})
    assert leader.status_code == 201 and leader.json()["resident"] == "张**"
    # One membership per resident, one leader per group.
    assert worker.post(f"{url}/members", {"resident_id": life.resident_a.pk}).status_code == 409
    # A resident of another grid is out of the worker's scope.
    assert worker.post(f"{url}/members", {"resident_id": life.resident_b.pk}).status_code == 404
    meeting = worker.post(
        f"{url}/meetings",
        {
            "held_at": "2026-11-30T19:00:00+08:00",
            "place": "3号楼架空层",
            "agenda": "讨论充电桩选址",
            "minutes": "多数意见：东门车棚。",
            "attendee_ids": [leader.json()["id"]],
        },
    )
    assert meeting.status_code == 201 and meeting.json()["attendees"] == 1
    bad = worker.post(
        f"{url}/meetings",
        {
            "held_at": "2026-11-30T19:00:00+08:00",
            "place": "x",
            "agenda": "y",
            "attendee_ids": [987654321],
        },
    )
    assert bad.status_code == 422 and list(bad.json()["error"]["fields"]) == ["attendee_ids"]
    assert GroupMeeting.objects.filter(group_id=gid).count() == 1
    proposal = worker.post(f"{url}/proposals", {"title": "充电桩选址", "text": "建议协商表决"})
    assert proposal.status_code == 201
    pid = proposal.json()["id"]
    # The worker proposes; the supervisor decides, once.
    decision = {"take_up": True, "note": "下周发起表决"}
    assert worker.post(f"{url}/proposals/{pid}/decision", decision).status_code == 403
    supervisor = client_for(life.supervisor_1)
    decided = supervisor.post(f"{url}/proposals/{pid}/decision", decision)
    assert decided.status_code == 200 and decided.json()["state"] == "taken_up"
    assert supervisor.post(f"{url}/proposals/{pid}/decision", decision).status_code == 409
    log = [a["kind"] for a in worker.get(f"{url}/activity").json()["items"]]
    assert log == ["formed", "member", "meeting", "proposal", "decision"]
    assert GroupActivity.objects.filter(group_id=gid).count() == 5
    # Grid B's worker and the residents do not see the group.
    assert client_for(life.worker_b).get(url).status_code == 404
    assert client_for(life.resident_user_a).get(url).status_code == 404
    assert client_for(life.resident_user_a).get("/api/v1/community/groups").json()["items"] == []
    # Nor can a worker form a group in a grid that is not theirs.
    other = worker.post("/api/v1/community/groups", {"grid_id": life.grid_b.pk, "name": "x"})
    assert other.status_code == 404
