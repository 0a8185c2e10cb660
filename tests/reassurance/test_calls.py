"""Reassurance calls (关爱电话), end to end on the durable clock and through the real Aliyun voice
SDK against the stand-in: the weekly job calls each resident the care rule names (80+ living
alone by default, another rule per community) and nobody else, once per week however often it
runs; keypress 1 records "fine"; two missed calls in a row raise one visit task for the grid's
worker, and the resident's timeline says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from backend.accounts.selectors import scope_for
from backend.audit.models import AuditEvent
from backend.core import clock
from backend.core.dispatcher import run_once
from backend.core.errors import NotFound
from backend.core.models import StreamEvent, Timer
from backend.core.personal import age_on
from backend.notify.models import OutboxMessage
from backend.people.actions import do_create_resident
from backend.people.models import LegalBasis, Resident
from backend.reassurance.actions import call_time, do_place_weekly_calls
from backend.reassurance.models import ReassuranceCall, ReassuranceEntry, ReassuranceRule
from backend.reassurance.selectors import (
    BUILT_IN,
    born_on_or_before,
    rule_for,
    tally,
    timeline_for,
)
from backend.reassurance.timers import WEEKLY, next_weekly_run
from backend.visits.models import TaskKind, VisitTask
from tests.conftest import World, make_id_number
from tests.notify.aliyun_standin import AliyunStandIn
from tests.notify.conftest import CALLBACK_TOKENS

from .conftest import REASSURANCE_CODES

pytestmark = pytest.mark.django_db

MONDAY = date(2027, 3, 1)
NO_ANSWER = "200005"
ANSWERED = "200000"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def traveller(world: World) -> Iterator[time_machine.Traveller]:
    with time_machine.travel(local(MONDAY, 0, 5), tick=False) as coordinates:
        yield coordinates


def weekly_job(traveller: time_machine.Traveller, monday: date) -> None:
    """The recurring timer due on `monday` 00:10, fired by a dispatcher round; the per
    community timers it fans out fire in the next round."""
    traveller.move_to(local(monday, 0, 11))
    clock.schedule(kind=WEEKLY, key="recurring", due_at=local(monday, 0, 10))
    clock.fire_due()
    clock.fire_due()


_serial = iter(range(500, 600))


def resident(world: World, born: date, tags: list[str], phone: str = "13700000000") -> Resident:
    return do_create_resident(
        household=world.household_a,
        name="赵大妈",
        gender="F",
        birth_date=born,
        id_number=make_id_number(next(_serial), born),
        legal_basis=LegalBasis.STATUTORY_DUTY,
        tags=tags,
        contacts=[],
        phone=phone,
    )


def voice_report(client: Any, item: dict[str, Any]) -> None:
    token = CALLBACK_TOKENS["aliyun-voice"]
    answer = client.post(
        f"/api/v1/notify/callbacks/aliyun/voice?token={token}",
        [item],
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content


def call_of(r: Resident, monday: date) -> ReassuranceCall:
    return ReassuranceCall.objects.select_related("message").get(resident=r, week=monday)


def msg(call: ReassuranceCall) -> OutboxMessage:
    assert call.message is not None
    return call.message


def entries(r: Resident) -> list[str]:
    return list(
        ReassuranceEntry.objects.filter(resident=r)
        .order_by("at", "pk")
        .values_list("kind", flat=True)
    )


def test_the_weekly_job_calls_each_resident_the_rule_names_once_a_week(
    world: World, aliyun: AliyunStandIn, traveller: time_machine.Traveller
) -> None:
    # c1 follows the built-in rule (80+ and living alone): resident_a, 86, lives alone.
    too_young = resident(world, date(1948, 3, 2), ["living_alone"])  # 78 on the Monday
    no_phone = resident(world, date(1935, 1, 1), ["living_alone"], phone="")
    landline = resident(world, date(1936, 1, 1), ["living_alone"], phone="05625550100")
    # c2 has a rule of its own: 70+ and disabled, on Wednesday at 09:30 (resident_c, 77).
    ReassuranceRule.objects.create(
        community=world.c2, min_age=70, tags=["disabled"], weekday=2, call_at=time(9, 30)
    )
    assert rule_for(world.c1.pk) == BUILT_IN
    weekly_job(traveller, MONDAY)

    calls = ReassuranceCall.objects.filter(week=MONDAY)
    assert {c.resident_id for c in calls} == {world.resident_a.pk, world.resident_c.pk}
    for nobody in (world.resident_b, too_young, no_phone, landline):
        assert not ReassuranceCall.objects.filter(resident=nobody).exists()
    a, c = call_of(world.resident_a, MONDAY), call_of(world.resident_c, MONDAY)
    assert a.planned_at == local(MONDAY, 10) and msg(a).not_before == local(MONDAY, 10)
    assert c.planned_at == local(MONDAY + timedelta(days=2), 9, 30)
    assert (a.grid_id, c.grid_id) == (world.grid_a.pk, world.grid_c.pk)
    assert msg(a).to == world.resident_a.phone and msg(a).template == "reassurance_call"

    # The same week again (a second dispatcher, a re-armed timer): nothing more.
    weekly_job(traveller, MONDAY)
    assert do_place_weekly_calls(community_id=world.c1.pk, week=MONDAY)["placed"] == 0
    assert ReassuranceCall.objects.count() == 2
    assert OutboxMessage.objects.filter(subject__startswith="reassure:").count() == 2

    # The weekly timer re-armed itself for next Monday.
    weekly = Timer.objects.get(kind=WEEKLY, key="recurring")
    assert weekly.fired_at is None and weekly.due_at == local(MONDAY + timedelta(days=7), 0, 10)

    # At 10:00 the dispatcher places resident_a's call (resident_c's waits for Wednesday).
    traveller.move_to(local(MONDAY, 10))
    run_once()
    [ivr] = aliyun.calls("IvrCall")
    assert ivr.params["CalledNumber"] == world.resident_a.phone
    assert ivr.params["StartCode"] == REASSURANCE_CODES["reassurance_call"]
    assert ivr.params["StartTtsParams"] == '{"community": "幸福社区"}'
    assert ivr.params["MenuKeyMap.1.Key"] == "1"
    assert ivr.params["MenuKeyMap.1.Code"] == REASSURANCE_CODES["reassurance_call.key_1"]
    assert "MenuKeyMap.2.Key" not in ivr.params  # one key: 1 = I am fine
    assert ivr.params["OutId"] == str(msg(a).public_id)
    assert entries(world.resident_a) == ["called"]
    traveller.move_to(local(MONDAY + timedelta(days=2), 9, 30))
    run_once()
    assert [r.params["CalledNumber"] for r in aliyun.calls("IvrCall")][1] == "13800000000"
    assert len(aliyun.calls("IvrCall")) == 2

    # The next week: one more call each.
    weekly_job(traveller, MONDAY + timedelta(days=7))
    assert ReassuranceCall.objects.filter(week=MONDAY + timedelta(days=7)).count() == 2


def _placed(world: World, traveller: time_machine.Traveller, monday: date) -> ReassuranceCall:
    weekly_job(traveller, monday)
    traveller.move_to(local(monday, 10))
    run_once()
    call = call_of(world.resident_a, monday)
    assert msg(call).status == "sent" and msg(call).provider == "aliyun-voice"
    return call


def test_keypress_1_records_fine(
    world: World,
    aliyun: AliyunStandIn,
    traveller: time_machine.Traveller,
    client: Any,
    client_for: Any,
) -> None:
    call = _placed(world, traveller, MONDAY)
    row = msg(call)
    voice_report(
        client,
        {
            "call_id": row.provider_message_id,
            "out_id": str(row.public_id),
            "status_code": ANSWERED,
            "dtmf": "1",
        },
    )
    call.refresh_from_db()
    assert (call.state, call.outcome) == ("fine", "key_1")
    # The answer window closes at 12:00: a call answered with 1 stays fine.
    traveller.move_to(local(MONDAY, 12, 1))
    run_once()
    call.refresh_from_db()
    assert call.state == "fine"
    assert entries(world.resident_a) == ["called", "fine"]
    # On the resident's record: GET /api/v1/residents/{id}/reassurance, audited, in scope.
    url = f"/api/v1/residents/{world.resident_a.pk}/reassurance"
    shown = client_for(world.worker_a).get(url)
    assert shown.status_code == 200
    assert [(e["kind"], e["week"], e["call_state"]) for e in shown.json()] == [
        ("called", MONDAY.isoformat(), "fine"),
        ("fine", MONDAY.isoformat(), "fine"),
    ]
    assert AuditEvent.objects.filter(
        actor=world.worker_a, target_type="reassurance", target_id=world.resident_a.pk
    ).exists()
    elsewhere = client_for(world.worker_b).get(url)
    missing = client_for(world.worker_b).get("/api/v1/residents/987654321/reassurance")
    assert elsewhere.status_code == missing.status_code == 404
    assert elsewhere.json() == missing.json()
    week = (local(MONDAY, 0), local(MONDAY + timedelta(days=7), 0))
    assert tally(since=week[0], until=week[1], community_ids=[world.c1.pk]) == {
        "calls": 1,
        "fine": 1,
        "missed": 0,
        "pending": 0,
        "visits_raised": 0,
    }


def _tasks() -> list[VisitTask]:
    return list(VisitTask.objects.filter(kind=TaskKind.REASSURANCE))


def test_two_missed_calls_in_a_row_raise_exactly_one_visit_task(
    world: World, aliyun: AliyunStandIn, traveller: time_machine.Traveller, client: Any
) -> None:
    # Week 1: nobody answers.
    first = _placed(world, traveller, MONDAY)
    voice_report(client, {"call_id": msg(first).provider_message_id, "status_code": NO_ANSWER})
    first.refresh_from_db()
    assert (first.state, first.outcome) == ("missed", "no_answer")
    assert _tasks() == []

    # Week 2: the call is answered but 1 is never pressed; the window closes at 12:00.
    monday = MONDAY + timedelta(days=7)
    second = _placed(world, traveller, monday)
    answered = {"call_id": msg(second).provider_message_id, "status_code": ANSWERED}
    voice_report(client, answered)
    traveller.move_to(local(monday, 11, 59))
    run_once()
    assert call_of(world.resident_a, monday).state == "pending"
    traveller.move_to(local(monday, 12, 0))
    run_once()
    second.refresh_from_db()
    assert (second.state, second.outcome) == ("missed", "no_keypress")
    [task] = _tasks()
    assert task.household == world.household_a and task.grid == world.grid_a
    assert task.due_at == local(monday + timedelta(days=1), 0)  # today
    assert task.data == {"resident_id": world.resident_a.pk, "calls": [first.pk, second.pk]}
    assert second.visit_task == task
    # The grid's worker is told on the stream.
    told = StreamEvent.objects.filter(user=world.worker_a, type="visit.task")
    assert [e.data["task_id"] for e in told] == [task.pk]
    assert entries(world.resident_a) == [
        "called",
        "missed",
        "called",
        "missed",
        "visit_raised",
    ]

    # A repeated report, a second firing of the window and a second weekly run: still one.
    voice_report(client, answered)
    voice_report(client, {**answered, "status_code": NO_ANSWER})
    clock.schedule(kind="reassurance.settle", key=str(world.c1.pk), due_at=timezone.now())
    run_once()
    weekly_job(traveller, monday)
    assert len(_tasks()) == 1
    assert entries(world.resident_a).count("visit_raised") == 1

    # Week 3, missed again: the pair is counted, no second task. Week 4 makes the next pair.
    for week, tasks in ((2, 1), (3, 2)):
        call = _placed(world, traveller, MONDAY + timedelta(days=7 * week))
        voice_report(client, {"call_id": msg(call).provider_message_id, "status_code": "1"})
        assert len(_tasks()) == tasks

    # A fine call ends the run of misses.
    fine = _placed(world, traveller, MONDAY + timedelta(days=28))
    voice_report(client, {"call_id": msg(fine).provider_message_id, "dtmf": "1"})
    missed = _placed(world, traveller, MONDAY + timedelta(days=35))
    voice_report(client, {"call_id": msg(missed).provider_message_id, "status_code": "1"})
    assert len(_tasks()) == 2
    assert tally(since=local(MONDAY, 0), until=local(MONDAY + timedelta(days=42), 0)) == {
        "calls": 6,
        "fine": 1,
        "missed": 5,
        "pending": 0,
        "visits_raised": 2,
    }

    # The timeline in the reader's scope: the grid's worker sees it, another grid's is 404.
    shown = timeline_for(scope_for(world.worker_a), world.resident_a.pk)
    assert [e.kind for e in shown][:5] == ["called", "missed", "called", "missed", "visit_raised"]
    with pytest.raises(NotFound):
        timeline_for(scope_for(world.worker_b), world.resident_a.pk)


def test_a_call_the_provider_refuses_is_a_miss(
    world: World, aliyun: AliyunStandIn, traveller: time_machine.Traveller
) -> None:
    aliyun.reply("IvrCall", 400, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "bad number"})
    weekly_job(traveller, MONDAY)
    traveller.move_to(local(MONDAY, 10))
    run_once()
    call = call_of(world.resident_a, MONDAY)
    assert msg(call).status == "dead"
    assert (call.state, call.outcome) == ("missed", "dead")


def test_an_inactive_rule_calls_nobody_and_the_district_default_applies_elsewhere(
    world: World, traveller: time_machine.Traveller
) -> None:
    ReassuranceRule.objects.create(community=world.c1, active=False)
    ReassuranceRule.objects.create(community=None, min_age=60, tags=[])
    assert rule_for(world.c2.pk).min_age == 60
    weekly_job(traveller, MONDAY)
    assert {c.resident_id for c in ReassuranceCall.objects.all()} == {world.resident_c.pk}


def test_the_calendar() -> None:
    leap_day = date(2028, 2, 29)
    assert born_on_or_before(leap_day, 81) == date(1947, 2, 28)  # 1947 had no 29 February
    assert age_on(date(1947, 2, 28), leap_day) == 81 and age_on(date(1947, 3, 1), leap_day) == 80
    assert born_on_or_before(leap_day, 80) == date(1948, 2, 29)
    assert born_on_or_before(date(2027, 3, 1), 80) == date(1947, 3, 1)
    sunday_night = local(MONDAY - timedelta(days=1), 23)
    assert next_weekly_run(sunday_night) == local(MONDAY, 0, 10)
    assert next_weekly_run(local(MONDAY, 0, 10)) == local(MONDAY + timedelta(days=7), 0, 10)
    # A job that runs late calls at the rule's time of day, never at night.
    late = local(MONDAY + timedelta(days=3), 22)
    assert call_time(MONDAY, BUILT_IN, late) == local(MONDAY + timedelta(days=4), 10)
    assert call_time(MONDAY, BUILT_IN, local(MONDAY, 9)) == local(MONDAY, 10)


def test_the_command_places_this_weeks_calls_once(
    world: World, traveller: time_machine.Traveller
) -> None:
    out = StringIO()
    call_command("reassurance_calls", stdout=out)
    call_command("reassurance_calls", "--community", str(world.c1.pk), stdout=out)
    assert out.getvalue().splitlines() == ["placed=1 bad_phone=0", "placed=0 bad_phone=0"]
    assert ReassuranceCall.objects.get().resident == world.resident_a
