"""Follow-ups (回访): asked once after a resolved emergency, a closed case and a sampled visit;
answered only by the resident asked, once (a second or forged answer is refused); never
recorded by the worker it rates; by SMS through the durable clock and the SMS backend."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.alerts.models import Alert
from backend.assessment import follow_ups
from backend.assessment.models import FollowUp
from backend.core import clock
from backend.core.errors import ApiError
from backend.notify import outbox, sms
from backend.servicedesk.models import Case, ServiceItem
from tests.conftest import PASSWORD, World

from .fixtures import household, visit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms_outbox(settings: Any) -> list[sms.SmsMessage]:
    settings.SMS_BACKEND = "backend.notify.sms.LocmemBackend"
    sms.outbox.clear()
    return sms.outbox


@pytest.fixture
def asked(world: World) -> World:
    now = timezone.now()
    Alert.objects.create(
        kind="emergency", source="device", resident=world.resident_a,
        household=world.household_a, grid=world.grid_a, community=world.c1,
        state="resolved", accepted_by=world.worker_a, accepted_at=now, resolved_at=now,
    )  # fmt: skip
    item = ServiceItem.objects.create(
        code="f-allowance", name_zh="高龄津贴", name_en="allowance", category="elderly",
        line="elderly_care", time_limit_days=20,
    )  # fmt: skip
    Case.objects.create(
        number="F0000001", item=item, state="closed", district=world.district,
        community=world.c1, grid=world.grid_b, household=world.household_b,
        resident=world.resident_b, channel="doorstep", filed_by=world.worker_b,
        assignee=world.officer_elderly_1, closed_at=now,
    )  # fmt: skip
    assert follow_ups.ask_due() == 2
    return world


def test_asked_once_each_with_the_workers_and_post_rated(asked: World) -> None:
    alert = FollowUp.objects.get(source="alert")
    assert (alert.resident, alert.channel, alert.post) == (asked.resident_a, "app", "B")
    assert list(alert.workers.all()) == [asked.worker_a]
    case = FollowUp.objects.get(source="case")
    assert (case.channel, case.post) == ("sms", "A")  # resident_b has no app account
    assert list(case.workers.all()) == [asked.officer_elderly_1]
    assert follow_ups.ask_due() == 0  # asked once, however often the duty runs
    assert FollowUp.objects.count() == 2


def test_only_the_resident_asked_rates_once(asked: World) -> None:
    fu = FollowUp.objects.get(source="alert")
    stranger = User.objects.create_user(
        "13100000099", PASSWORD, name="邻居", role=Role.RESIDENT, resident=asked.resident_b
    )
    with pytest.raises(ApiError) as exc:
        follow_ups.do_answer(user=stranger, follow_up_id=fu.pk, score=1)
    assert exc.value.status == 404
    fu.refresh_from_db()
    assert fu.state == "asked" and fu.score is None
    follow_ups.do_answer(user=asked.resident_user_a, follow_up_id=fu.pk, score=5)
    with pytest.raises(ApiError) as again:
        follow_ups.do_answer(user=asked.resident_user_a, follow_up_id=fu.pk, score=1)
    assert again.value.code == "follow_up_answered"
    fu.refresh_from_db()
    assert (fu.state, fu.score, fu.answered_by) == ("rated", 5, asked.resident_user_a)


def test_a_resident_may_decline(asked: World) -> None:
    fu = FollowUp.objects.get(source="alert")
    follow_ups.do_answer(user=asked.resident_user_a, follow_up_id=fu.pk, score=None)
    fu.refresh_from_db()
    assert (fu.state, fu.score) == ("declined", None)


def test_sms_question_and_reply_only_from_the_phone_asked(
    asked: World, sms_outbox: list[sms.SmsMessage]
) -> None:
    assert clock.fire_due() >= 1
    assert outbox.send_due() == 1  # the dispatcher's outbox duty sends it
    (message,) = sms_outbox
    fu = FollowUp.objects.get(source="case")
    assert message.phone == asked.resident_b.phone and fu.code in message.text
    wrong_code = f"{(int(fu.code) + 1) % 1_000_000:06d}"
    for phone, text in (
        ("13900000042", f"{fu.code} 5"),
        (asked.resident_b.phone, f"{wrong_code} 5"),
    ):
        with pytest.raises(ApiError) as forged:  # another phone, or a guessed code
            follow_ups.do_answer_by_sms(phone=phone, text=text)
        assert forged.value.status == 404
    with pytest.raises(ApiError) as bad:
        follow_ups.do_answer_by_sms(phone=asked.resident_b.phone, text="好评")
    assert bad.value.code == "follow_up_reply_invalid"
    follow_ups.do_answer_by_sms(phone=asked.resident_b.phone, text=f" {fu.code} 4 ")
    with pytest.raises(ApiError) as again:
        follow_ups.do_answer_by_sms(phone=asked.resident_b.phone, text=f"{fu.code} 1")
    assert again.value.code == "follow_up_answered"
    fu.refresh_from_db()
    assert (fu.state, fu.score, fu.answer_phone) == ("rated", 4, asked.resident_b.phone)
    assert re.fullmatch(r"\d{6}", fu.code)


def test_the_next_visiting_worker_records_but_never_the_rated_one(world: World) -> None:
    world.resident_a.phone = ""  # no app account for this one, no mobile: asked at the door
    world.resident_a.save()
    world.resident_user_a.delete()
    v = visit(world.worker_a, world.household_a, timezone.now() - timedelta(hours=1))
    visit_id = v.pk
    while not follow_ups.sampled(visit_id, follow_ups.DEFAULT_VISIT_SAMPLE_RATE):  # no scheme
        visit_id = visit(world.worker_a, world.household_a, timezone.now()).pk
    follow_ups.ask_due()
    fu = FollowUp.objects.get(source="visit", source_ref=str(visit_id))
    assert fu.channel == "visit" and list(fu.workers.all()) == [world.worker_a]
    assert fu not in follow_ups.follow_ups_for(world.worker_a)
    with pytest.raises(ApiError) as exc:
        follow_ups.do_answer(user=world.worker_a, follow_up_id=fu.pk, score=5)
    assert exc.value.code == "follow_up_rated_worker"
    with pytest.raises(ApiError) as out:  # grid B's worker does not see grid A's household
        follow_ups.do_answer(user=world.worker_b, follow_up_id=fu.pk, score=5)
    assert out.value.status == 404
    assert fu in follow_ups.follow_ups_for(world.supervisor_1)
    follow_ups.do_answer(user=world.supervisor_1, follow_up_id=fu.pk, score=3)
    fu.refresh_from_db()
    assert (fu.state, fu.score, fu.answered_by) == ("rated", 3, world.supervisor_1)


def test_the_yearly_panel_is_reproducible_with_its_share_of_ordinary_residents(
    world: World,
) -> None:
    from backend.people.actions import do_create_resident
    from backend.people.models import LegalBasis
    from tests.conftest import make_id_number

    for n in range(12):
        hh = household(world.grid_a, f"幸福路9号{n}", 117.801 + n / 10_000)
        do_create_resident(
            household=hh, name=f"居民{n}", gender="M", birth_date=date(1980, 1, 1),
            id_number=make_id_number(500 + n), legal_basis=LegalBasis.CONSENT,
            tags=[] if n < 9 else ["aged_60"], contacts=[], phone="",
        )  # fmt: skip
    made = follow_ups.do_draw_panel(community_id=world.c1.pk, year=2026, size=6,
                                    ordinary_share=0.5, seed="s1")  # fmt: skip
    assert made == 6
    first = set(FollowUp.objects.filter(source="panel").values_list("resident_id", flat=True))
    ordinary = FollowUp.objects.filter(source="panel", resident__tags__isnull=True).count()
    assert ordinary >= 3
    FollowUp.objects.filter(source="panel").delete()
    follow_ups.do_draw_panel(community_id=world.c1.pk, year=2026, size=6,
                             ordinary_share=0.5, seed="s1")  # fmt: skip
    again = set(FollowUp.objects.filter(source="panel").values_list("resident_id", flat=True))
    assert again == first
    panel = FollowUp.objects.filter(source="panel").first()
    assert panel is not None and panel.panel_year == 2026
