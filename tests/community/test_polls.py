"""Consultative polls: one vote per household or adult (a second refused), at the door with a
confirmation photo, a secret poll whose tally cannot be joined to its voters, and closing on
the durable clock exactly once with two dispatchers."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.client import MULTIPART_CONTENT
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.community.actions import do_vote
from backend.community.models import Notice, NoticeAddressee, Poll, PollOption, PollVoter
from backend.core import clock
from backend.core.errors import ApiError
from backend.core.models import Timer
from backend.people.actions import do_create_resident
from backend.people.models import LegalBasis
from tests.conftest import make_id_number

from .conftest import Life, grids, jpeg, objection_item, poll

pytestmark = pytest.mark.django_db


def vote(client: Any, p: Poll, position: int) -> Any:
    option = p.options.get(position=position)
    return client.post(f"/api/v1/community/polls/{p.pk}/votes", {"option_id": option.pk})


def door_vote(client: Any, p: Poll, position: int, resident_id: int) -> Any:
    body = {
        "file": SimpleUploadedFile("confirm.jpg", jpeg()),
        "option_id": str(p.options.get(position=position).pk),
        "resident_id": str(resident_id),
        "client_photo_id": str(uuid.uuid4()),
    }
    return client.post(
        f"/api/v1/community/polls/{p.pk}/door-votes", body, content_type=MULTIPART_CONTENT
    )


def test_one_vote_per_household_a_second_is_refused(life: Life, client_for: Any) -> None:
    p = poll(life.supervisor_1, grids(life.grid_a.pk, life.grid_b.pk))
    resident = client_for(life.resident_user_a)
    assert [i["id"] for i in resident.get("/api/v1/community/polls").json()["items"]] == [p.pk]
    first = vote(resident, p, 0)
    assert first.status_code == 201, first.content
    again = vote(resident, p, 1)
    assert again.status_code == 409 and again.json()["error"]["code"] == "poll_already_voted"
    # Nor at the door for the same household.
    worker = client_for(life.worker_a)
    door = door_vote(worker, p, 1, life.resident_a.pk)
    assert door.status_code == 409
    # Household B votes at the door, through its own worker, with the confirmation photo.
    door_b = door_vote(client_for(life.worker_b), p, 1, life.resident_b.pk)
    assert door_b.status_code == 201, door_b.content
    voter_b = PollVoter.objects.get(poll=p, household=life.household_b)
    assert voter_b.channel == "door" and voter_b.confirmation_photo is not None
    assert voter_b.recorded_by == life.worker_b
    counts = dict(PollOption.objects.filter(poll=p).values_list("position", "votes"))
    assert counts == {0: 1, 1: 1, 2: 0}
    # Grid A's worker cannot record a vote for grid B's resident.
    assert door_vote(worker, p, 0, life.resident_b.pk).status_code == 404


def test_one_vote_per_adult_resident(life: Life, client_for: Any) -> None:
    spouse = do_create_resident(
        household=life.household_a,
        name="张建华",
        gender="M",
        birth_date=date(1942, 1, 1),
        id_number=make_id_number(901, date(1942, 1, 1)),
        legal_basis=LegalBasis.STATUTORY_DUTY,
    )
    child = do_create_resident(
        household=life.household_a,
        name="张小明",
        gender="M",
        birth_date=timezone.localdate() - timedelta(days=365 * 10),
        id_number=make_id_number(902, date(2016, 1, 1)),
        legal_basis=LegalBasis.STATUTORY_DUTY,
    )
    p = poll(life.supervisor_1, grids(life.grid_a.pk), unit="adult")
    worker = client_for(life.worker_a)
    assert vote(client_for(life.resident_user_a), p, 0).status_code == 201
    assert door_vote(worker, p, 1, spouse.pk).status_code == 201  # same household, another adult
    assert door_vote(worker, p, 1, spouse.pk).status_code == 409
    minor = door_vote(worker, p, 1, child.pk)
    assert minor.status_code == 403 and minor.json()["error"]["code"] == "poll_not_eligible"
    assert PollVoter.objects.filter(poll=p).count() == 2


def test_a_resident_outside_the_roll_sees_and_votes_nothing(life: Life, client_for: Any) -> None:
    p = poll(life.supervisor_1, grids(life.grid_b.pk))
    resident = client_for(life.resident_user_a)
    assert resident.get("/api/v1/community/polls").json()["items"] == []
    assert vote(resident, p, 0).status_code == 404
    draft = poll(life.supervisor_1, grids(life.grid_a.pk), open=False)
    assert resident.get(f"/api/v1/community/polls/{draft.pk}").status_code == 404


def test_a_secret_polls_tally_cannot_be_joined_to_its_voters(life: Life, client_for: Any) -> None:
    p = poll(life.supervisor_1, grids(life.grid_a.pk, life.grid_b.pk), secret=True)
    assert vote(client_for(life.resident_user_a), p, 2).status_code == 201
    assert door_vote(client_for(life.worker_b), p, 0, life.resident_b.pk).status_code == 201
    # Who voted is recorded ...
    voters = PollVoter.objects.filter(poll=p)
    assert {v.household_id for v in voters} == {life.household_a.pk, life.household_b.pk}
    # ... how, only as counts. Try every way to join a voter to a choice:
    # 1. the voter rows name no option;
    assert list(voters.values_list("option_id", flat=True)) == [None, None]
    # 2. the tally rows hold no voter, household, person, photo or time to match on;
    tally_columns = {
        c.name
        for c in connection.introspection.get_table_description(
            connection.cursor(), PollOption._meta.db_table
        )
    }
    assert tally_columns == {"id", "poll_id", "position", "label", "votes"}
    # 3. no column of the voter table refers to the tally table;
    relations = connection.introspection.get_relations(
        connection.cursor(), PollVoter._meta.db_table
    )
    pointing = {col for col, (_, table) in relations.items() if table == PollOption._meta.db_table}
    assert all(v is None for v in voters.values_list(*pointing, flat=True)) if pointing else True
    # 4. the confirmation photo is filed under the poll, not under the vote.
    photo = voters.get(household=life.household_b).confirmation_photo
    assert photo is not None and photo.subject_kind == "poll_vote"
    assert photo.subject_uuid == uuid.uuid5(uuid.NAMESPACE_URL, f"gridline:poll:{p.pk}")
    # The counts are right all the same.
    assert dict(p.options.values_list("position", "votes")) == {0: 1, 1: 0, 2: 1}
    # An open (not secret) poll keeps the choice with the voter.
    open_poll = poll(life.supervisor_1, grids(life.grid_a.pk))
    vote(client_for(life.resident_user_a), open_poll, 1)
    assert PollVoter.objects.get(poll=open_poll).option == open_poll.options.get(position=1)


def test_who_voted_is_listed_for_staff_and_the_read_is_audited(life: Life, client_for: Any) -> None:
    p = poll(life.supervisor_1, grids(life.grid_a.pk, life.grid_b.pk), secret=True)
    vote(client_for(life.resident_user_a), p, 0)
    door_vote(client_for(life.worker_b), p, 1, life.resident_b.pk)
    worker = client_for(life.worker_a)  # its log-in is audited too
    before = AuditEvent.objects.count()
    listed = worker.get(f"/api/v1/community/polls/{p.pk}/voters").json()["items"]
    assert [v["household_id"] for v in listed] == [life.household_a.pk]  # grid A only
    assert listed[0]["resident"] == "张**" and "option" not in listed[0]
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.latest("pk").action == "view_voter_roll"
    resident = client_for(life.resident_user_a)
    assert resident.get(f"/api/v1/community/polls/{p.pk}/voters").status_code == 403
    # The counts stay hidden until the poll closes; turnout does not.
    results = resident.get(f"/api/v1/community/polls/{p.pk}/results").json()
    assert results["options"] is None and results["voters"] == 2
    assert results["roll_households"] == 3


@pytest.mark.django_db(transaction=True)
def test_closing_on_the_clock_exactly_once_with_two_dispatchers(world: Any) -> None:
    objection_item()  # the shipped item is flushed by transactional tests
    with transaction.atomic():
        p = poll(world.supervisor_1, grids(world.grid_a.pk, world.grid_b.pk))
    later = p.closes_at + timedelta(seconds=1)
    start = threading.Barrier(2, timeout=10)
    fired: list[int] = []

    def dispatcher() -> None:
        try:
            start.wait()
            fired.append(clock.fire_due(now=later))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fired) == [0, 1]
    p.refresh_from_db()
    assert p.state == "closed" and p.result_notice is not None
    result = p.result_notice
    assert result.kind == "poll_result" and result.state == "published"
    assert Notice.objects.filter(kind="poll_result").count() == 1
    assert NoticeAddressee.objects.filter(notice=result).count() == 2
    assert "同意：0 票" in result.body
    timer = Timer.objects.get(kind="community.poll_close", key=str(p.pk))
    assert timer.fired_at is not None and timer.attempts == 0
    # A vote after closing is refused.
    with pytest.raises(ApiError) as refused:
        do_vote(user=world.resident_user_a, poll_id=p.pk, option_id=p.options.all()[0].pk)
    assert refused.value.code == "poll_closed"
