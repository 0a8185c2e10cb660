"""SLA clocks in working days on the durable clock: holidays and make-up days, the 75 %
warning, overdue to the supervisor's stream, pause and resume on "more material needed"."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.core import clock
from backend.core.models import Timer
from backend.servicedesk import actions, workdays
from backend.servicedesk.models import CalendarDay, Case, CaseStep
from tests.conftest import CaptureEvents

from .conftest import Desk, Frozen, file_case

pytestmark = pytest.mark.django_db

CST = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


@pytest.fixture
def national_day() -> None:
    """2026: 1-7 October off; Sunday 20 September and Saturday 10 October are worked (and
    nothing else: the rows the migration loaded for these months are replaced)."""
    CalendarDay.objects.filter(date__range=(date(2026, 9, 1), date(2026, 10, 31))).delete()
    for d in range(1, 8):
        CalendarDay.objects.update_or_create(
            date=date(2026, 10, d), defaults={"is_workday": False, "name": "国庆节"}
        )
    for make_up in (date(2026, 9, 20), date(2026, 10, 10)):
        CalendarDay.objects.update_or_create(
            date=make_up, defaults={"is_workday": True, "name": "国庆节 调休上班"}
        )


def test_working_time_skips_weekends_and_holidays_and_counts_make_up_days(
    national_day: None,
) -> None:
    day = workdays.DAY
    # Friday 25 Sep 10:00 + 1 working day: the weekend does not count → Monday 10:00.
    assert workdays.add_working_seconds(at(9, 25), day) == at(9, 28)
    # Wed 30 Sep 10:00 + 1 day: 14 h on the 30th, the holiday week skipped, Thursday 8 Oct.
    assert workdays.add_working_seconds(at(9, 30), day) == at(10, 8)
    # Friday 9 Oct 10:00 + 1 day: Saturday 10 Oct is a make-up working day.
    assert workdays.add_working_seconds(at(10, 9), day) == at(10, 10)
    assert workdays.working_seconds(at(9, 30), at(10, 8)) == (14 + 10) * 3600
    assert workdays.working_seconds(at(10, 8), at(9, 30)) == 0


def test_sla_paused_and_resumed_across_a_holiday(
    desk: Desk, frozen: Frozen, national_day: None, capture_events: CaptureEvents
) -> None:
    w = desk.world
    # Monday 28 September 10:00: a 5-working-day item is filed at the front desk.
    frozen.set(at(9, 28))
    case = file_case(desk, item=desk.five_days)
    # 14 h + 24 + 24 (Mon-Wed), holiday, 24 + 24 (Thu 8, Fri 9), 10 h of make-up Saturday.
    assert case.due_at == at(10, 10)
    assert Timer.objects.get(kind=actions.SLA_OVERDUE, key=str(case.pk)).due_at == at(10, 10)
    assert Timer.objects.get(kind=actions.SLA_WARNING, key=str(case.pk)).due_at == at(10, 9, 4)

    actions.do_transition(user=w.officer_elderly_1, case_id=case.pk, action="accept")
    # Wednesday 30 September 10:00: more material needed; two working days used.
    frozen.set(at(9, 30))
    actions.do_transition(
        user=w.officer_elderly_1,
        case_id=case.pk,
        action="request_material",
        materials=["户口簿复印件"],
    )
    case.refresh_from_db()
    assert case.sla_used_s == 48 * 3600 and case.due_at is None
    assert not Timer.objects.filter(
        key=str(case.pk), fired_at__isnull=True, cancelled_at__isnull=True
    ).exists()

    # Past the original deadline, with the case still paused: nothing fires.
    frozen.set(at(10, 10, 12))
    clock.fire_due()
    case.refresh_from_db()
    assert case.overdue_at is None and case.warned_at is None

    # Thursday 8 October 10:00 (after the holiday): the worker brings the material.
    frozen.set(at(10, 8))
    actions.do_transition(user=w.worker_a, case_id=case.pk, action="supply_material")
    case.refresh_from_db()
    # 72 h left: 14 h on Thu 8, 24 on Fri 9, 24 on make-up Sat 10, Sunday off, 10 h on Mon 12.
    assert case.state == "accepted" and case.due_at == at(10, 12)
    # The warning at 75 % (90 h): 48 used + 14 + 24 + 4 → Saturday 10 October 04:00.
    assert Timer.objects.get(kind=actions.SLA_WARNING, key=str(case.pk)).due_at == at(10, 10, 4)

    frozen.set(at(10, 10, 4, 1))
    with capture_events() as events:
        assert clock.fire_due() == 1
    warning = events.of(w.officer_elderly_1, "case.sla_warning")
    assert len(warning) == 1 and warning[0].urgent
    assert w.resident_user_a.pk not in events.recipients()  # an internal matter
    assert not events.of(w.supervisor_1, "case.overdue")

    frozen.set(at(10, 12, 10, 1))
    with capture_events() as events:
        assert clock.fire_due() == 1
    case.refresh_from_db()
    assert case.overdue_at == at(10, 12, 10, 1)
    overdue = events.of(w.supervisor_1, "case.overdue")
    assert len(overdue) == 1 and overdue[0].urgent and overdue[0].data["overdue"] is True
    assert CaseStep.objects.filter(case=case, kind="overdue").count() == 1
    # Fired once: a second dispatcher round finds nothing.
    assert clock.fire_due() == 0

    # The decision stops the clock; the case is on record as late.
    actions.do_transition(user=w.officer_elderly_1, case_id=case.pk, action="start")
    actions.do_transition(user=w.officer_elderly_1, case_id=case.pk, action="approve")
    case.refresh_from_db()
    assert case.on_time is False and case.sla_running_since is None


def test_a_timer_that_fires_early_re_arms(desk: Desk, frozen: Frozen, national_day: None) -> None:
    """If the calendar gained a holiday after the timer was set, the handler waits."""
    frozen.set(at(9, 28))
    case = file_case(desk, item=desk.five_days)
    CalendarDay.objects.update_or_create(
        date=date(2026, 9, 29), defaults={"is_workday": False, "name": "test"}
    )
    frozen.set(at(10, 10, 10, 30))
    clock.fire_due()
    assert Case.objects.get(pk=case.pk).overdue_at is None
    timer = Timer.objects.get(kind=actions.SLA_OVERDUE, key=str(case.pk))
    assert timer.fired_at is None and timer.due_at == at(10, 12)
