"""Topics proposed by residents and groups (民主议事): supported by residents of the grid up to
the community's threshold, then on the grid's agenda and taken up as a poll or a hearing
through their own actions; rejected with a reason by the grid's worker; out of scope 404."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.community.actions import do_add_member, do_create_group
from backend.community.models import (
    GroupActivity,
    Hearing,
    Poll,
    Topic,
    TopicSettings,
    TopicSupport,
)
from backend.core.models import StreamEvent
from tests.conftest import _resident, _user

from .conftest import Life

pytestmark = pytest.mark.django_db

URL = "/api/v1/community/topics"


_phones = iter(range(1, 10_000))


def neighbours(life: Life, n: int) -> list[Any]:
    """`n` more residents of grid A (the household outside the polygon), with app accounts."""
    made = []
    for _ in range(n):
        i = next(_phones)
        resident = _resident(life.household_a2, f"赵邻居{i}", date(1960, 1, 1 + i % 28), [])
        made.append(_user(f"1320000{i:04d}", "resident", resident=resident))
    return made


def test_a_resident_topic_from_proposal_to_the_agenda_and_a_poll(
    life: Life, client_for: Any
) -> None:
    TopicSettings.objects.create(community=life.c1, support_threshold=3)
    TopicSettings.objects.create(community=None, support_threshold=50)  # the district default
    resident = client_for(life.resident_user_a)
    made = resident.post(
        URL, {"title": "东门加装充电桩", "text": "电动车充电难，建议在东门车棚加装。"}
    )
    assert made.status_code == 201, made.content
    topic = made.json()
    assert (topic["state"], topic["supporters"], topic["threshold"]) == ("open", 1, 3)
    assert topic["proposed_by"] == "resident" and "张" not in made.content.decode()
    url = f"{URL}/{topic['id']}"
    # The proposer counts once: a second support is refused and changes nothing.
    again = resident.post(f"{url}/supports", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "topic_already_supported"
    one, two = neighbours(life, 2)
    assert client_for(one).post(f"{url}/supports", {}).json()["supporters"] == 2
    # A worker records a neighbour's support at the door; then the threshold (3) is reached.
    group = do_create_group(user=life.worker_a, grid_id=life.grid_a.pk, name="一网格自治小组")
    door = client_for(life.worker_a).post(f"{url}/supports", {"resident_id": two.resident_id})
    assert door.status_code == 200 and door.json()["state"] == "agenda"
    assert door.json()["agenda_at"] is not None
    assert [s.via for s in TopicSupport.objects.filter(topic_id=topic["id"]).order_by("pk")] == [
        "proposer",
        "app",
        "door",
    ]
    # The grid's worker is told (an id, no names); the grid's group logs it for its meeting.
    event = StreamEvent.objects.get(type="community.topic_agenda")
    assert event.user_id == life.worker_a.pk
    assert event.data == {"topic_id": topic["id"], "grid_id": life.grid_a.pk}
    assert GroupActivity.objects.filter(group=group, kind="agenda").count() == 1
    # Supports after the threshold still count; the agenda is not entered twice.
    three = neighbours(life, 1)[0]
    assert client_for(three).post(f"{url}/supports", {}).json()["supporters"] == 4
    assert StreamEvent.objects.filter(type="community.topic_agenda").count() == 1
    agenda = client_for(life.worker_a).get(URL, {"state": "agenda"}).json()["items"]
    assert [t["id"] for t in agenda] == [topic["id"]]
    # The worker may not turn it into a poll; the supervisor does, through do_create_poll.
    body = {
        "options": ["同意", "不同意"],
        "closes_at": (timezone.now() + timedelta(days=3)).isoformat(),
    }
    assert client_for(life.worker_a).post(f"{url}/poll", body).status_code == 403
    supervisor = client_for(life.supervisor_1)
    poll = supervisor.post(f"{url}/poll", body)
    assert poll.status_code == 201, poll.content
    made_poll = Poll.objects.get(pk=poll.json()["id"])
    assert (made_poll.state, made_poll.title, made_poll.area_ids) == (
        "draft",
        "东门加装充电桩",
        [life.grid_a.pk],
    )
    shown = supervisor.get(url).json()
    assert (shown["state"], shown["poll_id"]) == ("taken_up", made_poll.pk)
    # Once taken up: no second poll, no hearing, no more supports, no rejection.
    assert supervisor.post(f"{url}/poll", body).status_code == 409
    hearing = {"place": "居委会", "meeting_at": (timezone.now() + timedelta(days=5)).isoformat()}
    assert supervisor.post(f"{url}/hearing", hearing).status_code == 409
    assert client_for(neighbours(life, 1)[0]).post(f"{url}/supports", {}).status_code == 409
    assert supervisor.post(f"{url}/reject", {"reason": "x"}).status_code == 409
    # The poll opens through its own action.
    opened = supervisor.post(f"/api/v1/community/polls/{made_poll.pk}/open")
    assert opened.status_code == 200 and opened.json()["state"] == "open"


def test_a_group_topic_becomes_a_hearing(life: Life, client_for: Any) -> None:
    TopicSettings.objects.create(community=life.c1, support_threshold=1)
    group = do_create_group(user=life.worker_a, grid_id=life.grid_a.pk, name="一网格自治小组")
    do_add_member(
        user=life.worker_a, group_id=group.pk, resident_id=life.resident_a.pk, role="leader"
    )
    # The group's leader proposes it from the app; a group topic has no first supporter.
    made = client_for(life.resident_user_a).post(
        URL, {"title": "棚改补偿协商", "text": "请就补偿标准召开协商会。", "group_id": group.pk}
    )
    assert made.status_code == 201, made.content
    topic = made.json()
    assert (topic["proposed_by"], topic["group_id"], topic["supporters"]) == ("group", group.pk, 0)
    assert topic["state"] == "open"
    # A member who is not the leader cannot speak for the group (the group is not theirs to see).
    other = neighbours(life, 1)[0]
    do_add_member(
        user=life.worker_a, group_id=group.pk, resident_id=other.resident_id, role="member"
    )
    not_leader = client_for(other).post(URL, {"title": "x", "text": "y", "group_id": group.pk})
    assert not_leader.status_code == 404
    # One support reaches a threshold of 1.
    url = f"{URL}/{topic['id']}"
    assert client_for(other).post(f"{url}/supports", {}).json()["state"] == "agenda"
    hearing = {
        "place": "居委会二楼",
        "meeting_at": (timezone.now() + timedelta(days=5)).isoformat(),
    }
    made_hearing = client_for(life.supervisor_1).post(f"{url}/hearing", hearing)
    assert made_hearing.status_code == 201, made_hearing.content
    row = Hearing.objects.get(pk=made_hearing.json()["id"])
    assert (row.kind, row.state, row.topic) == (
        "consultation",
        "planned",
        "请就补偿标准召开协商会。",
    )
    kinds = list(GroupActivity.objects.filter(group=group).values_list("kind", flat=True))
    assert kinds == ["formed", "member", "topic", "member", "agenda", "topic_taken_up"]
    # Staff record a group's topic (group_id) or a resident's at the door (resident_id): one.
    worker = client_for(life.worker_a)
    both = worker.post(URL, {"title": "x", "text": "y"})
    assert both.status_code == 422 and list(both.json()["error"]["fields"]) == ["group_id"]
    door = worker.post(
        URL, {"title": "楼道灯", "text": "3栋楼道灯坏了", "resident_id": life.resident_a.pk}
    )
    assert door.status_code == 201 and door.json()["proposed_by"] == "resident"


def test_rejection_with_a_reason_and_who_sees_what(life: Life, client_for: Any) -> None:
    resident = client_for(life.resident_user_a)
    topic = resident.post(URL, {"title": "广告", "text": "某公司产品推广"}).json()
    assert topic["threshold"] == 10  # no settings: the built-in default
    url = f"{URL}/{topic['id']}"
    neighbour = neighbours(life, 1)[0]
    assert client_for(neighbour).get(url).status_code == 200
    # Grid B's worker, a resident of grid B (no account: via an account of community 2) and
    # community 2's residents do not see grid A's topic: 404 as for a missing id.
    missing = client_for(life.worker_b).get(f"{URL}/987654321")
    out = client_for(life.worker_b).get(url)
    assert out.status_code == missing.status_code == 404 and out.content == missing.content
    resident_b = _user("13100000077", "resident", resident=life.resident_b)
    assert client_for(resident_b).get(url).status_code == 404
    assert client_for(resident_b).post(f"{url}/supports", {}).status_code == 404
    assert client_for(life.worker_b).post(f"{url}/reject", {"reason": "x"}).status_code == 404
    # A worker may not record the support of a resident of another grid.
    far = client_for(life.supervisor_1).post(f"{url}/supports", {"resident_id": life.resident_b.pk})
    assert far.status_code == 403 and far.json()["error"]["code"] == "topic_not_eligible"
    # Residents do not moderate; a reason is required.
    assert client_for(neighbour).post(f"{url}/reject", {"reason": "x"}).status_code == 403
    worker = client_for(life.worker_a)
    blank = worker.post(f"{url}/reject", {"reason": "  "}, HTTP_ACCEPT_LANGUAGE="en")
    assert blank.status_code == 422 and list(blank.json()["error"]["fields"]) == ["reason"]
    rejected = worker.post(f"{url}/reject", {"reason": "商业广告，不属于居民议事范围"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert worker.post(f"{url}/reject", {"reason": "再次"}).status_code == 409
    assert client_for(neighbour).post(f"{url}/supports", {}).status_code == 404
    # It leaves the grid's list; its proposer still sees it, with the reason, and was told.
    assert client_for(neighbour).get(url).status_code == 404
    assert client_for(neighbour).get(URL).json()["items"] == []
    mine = resident.get(url).json()
    assert mine["reject_reason"] == "商业广告，不属于居民议事范围"
    told = StreamEvent.objects.get(type="community.topic_rejected")
    assert (told.user_id, told.data) == (life.resident_user_a.pk, {"topic_id": topic["id"]})
    # Staff still see it; a rejected topic cannot be taken up.
    assert worker.get(url).json()["state"] == "rejected"
    body = {"options": ["是", "否"], "closes_at": (timezone.now() + timedelta(days=3)).isoformat()}
    assert client_for(life.supervisor_1).post(f"{url}/poll", body).status_code == 409
    assert Topic.objects.get(pk=topic["id"]).decided_by == life.worker_a
