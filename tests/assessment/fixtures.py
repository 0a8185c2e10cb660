"""A hand-built quarter (2026 Q3) on the shared small world, with known answers for every
indicator, including the records the anti-gaming rules exclude. The numbers the tests expect
are worked out in the comments next to the records."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.gis.geos import Point
from PIL import Image

from backend.accounts.models import User
from backend.alerts.models import Alert, AlertRecipient
from backend.assessment.models import FollowUp, Indicator, IndicatorGroup, Scheme
from backend.photos.actions import do_store_photo
from backend.servicedesk.models import Case, CaseRating, CaseStep, ServiceItem
from backend.territory.models import Building, Household
from backend.visits.models import TaskKind, Visit, VisitFinding, VisitTask

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 8, 3, 9, 0, tzinfo=TZ)  # inside 2026 Q3


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def square(x: float, y: float = 30.92, size: float = 0.005) -> Any:
    from django.contrib.gis.geos import MultiPolygon, Polygon

    ring = ((x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y))
    return MultiPolygon(Polygon(ring), srid=4326)


def household(grid: Any, address: str, x: float) -> Household:
    point = Point(x, 30.925, srid=4326)
    building = Building.objects.create(grid=grid, name=address, location=point)
    return Household.objects.create(grid=grid, building=building, address=address, location=point)


def visit(
    worker: User, hh: Household, at: datetime, *, flag: str = "", photo: bool = True
) -> Visit:
    v = Visit.objects.create(
        client_uuid=uuid.uuid4(), worker=worker, household=hh, grid=hh.grid,
        community=hh.grid.community, state=Visit.State.COMPLETED, visited_at=at,
        received_at=at, counted_at=at, recorded_at=at, flag=flag, present=True,
    )  # fmt: skip
    if photo:
        do_store_photo(
            data=jpeg(), household=hh, subject_kind="visit", subject_uuid=v.client_uuid,
            uploaded_by=worker, client_photo_id=uuid.uuid4(),
        )  # fmt: skip
    return v


def task(hh: Household, kind: str, due: datetime, *, done: Visit | None = None,
         done_at: datetime | None = None, ref: str = "") -> VisitTask:  # fmt: skip
    return VisitTask.objects.create(
        kind=kind, household=hh, grid=hh.grid, community=hh.grid.community, reason="t",
        due_at=due, created_at=due - timedelta(hours=24), source_kind="alert" if ref else "",
        source_ref=ref, state=VisitTask.State.DONE if done else VisitTask.State.OPEN,
        done_at=done_at, done_by_visit=done,
    )  # fmt: skip


def alert(w: Any, created: datetime, *, accepted_by: User | None = None,
          accept_after: float = 0) -> Alert:  # fmt: skip
    return Alert.objects.create(
        kind="emergency", source="device", resident=w.resident_a, household=w.household_a,
        grid=w.grid_a, community=w.c1, created_at=created,
        state="accepted" if accepted_by else "open",
        accepted_by=accepted_by,
        accepted_at=created + timedelta(seconds=accept_after) if accepted_by else None,
    )  # fmt: skip


_numbers = iter(range(1, 100_000))


def case(w: Any, item: ServiceItem, *, filed_by: User, created: datetime, decided: datetime,
         overdue: bool = False) -> Case:  # fmt: skip
    return Case.objects.create(
        number=f"T{next(_numbers):08d}", item=item, state="closed", district=w.district,
        community=w.c1, grid=w.grid_a, household=w.household_a, resident=w.resident_a,
        channel="doorstep", filed_by=filed_by, assignee=w.officer_elderly_1,
        queue_line="elderly_care", queue_key="line:elderly_care", created_at=created,
        submitted_at=created, decided_at=decided, closed_at=decided,
        due_at=decided + timedelta(days=1), overdue_at=decided if overdue else None,
    )  # fmt: skip


def follow_up(w: Any, worker: User, *, state: str, score: int | None, phone: str = "",
              source: str = "case", ref: str = "") -> FollowUp:  # fmt: skip
    fu = FollowUp.objects.create(
        source=source, source_ref=ref or str(uuid.uuid4())[:12], resident=w.resident_a,
        household=w.household_a, community=w.c1, post="B", channel="app", code="123456",
        state=state, score=score, asked_at=T0, answered_at=T0 + timedelta(hours=1),
        answer_phone=phone,
    )  # fmt: skip
    fu.workers.add(worker)
    return fu


def build(w: Any) -> SimpleNamespace:
    """The records of 2026 Q3 in community 1 (worker_a: grid A, worker_b: grid B)."""
    a2 = household(w.grid_a, "幸福路1号2栋", 117.806)
    a3 = household(w.grid_a, "幸福路1号3栋", 117.807)
    # Visits. worker_a: v1 valid, v2 outside the fence, v3 without a photo; worker_b: v4 valid.
    # coverage: worker_a 1/3 (household_a only), worker_b 1/1; community 1: 2/4.
    # fence pass: worker_a 1 of 2 counted (v3 excluded: no photo; v2 listed as flagged).
    v1 = visit(w.worker_a, w.household_a, T0)
    v2 = visit(w.worker_a, a2, T0 + timedelta(hours=1), flag="outside")
    v3 = visit(w.worker_a, a3, T0 + timedelta(hours=2), photo=False)
    v4 = visit(w.worker_b, w.household_b, T0)
    visit(w.worker_a, w.household_a, T0 - timedelta(days=60))  # Q2: not counted in Q3
    # Vulnerable on schedule: household_a's routine task done by v1 (1/1); household_b's left
    # open (worker_b 0/1). a2 has no tagged resident: not counted.
    task(w.household_a, TaskKind.ROUTINE, T0 - timedelta(days=1), done=v1, done_at=T0)
    task(w.household_b, TaskKind.ROUTINE, T0 - timedelta(days=1))
    task(a2, TaskKind.ROUTINE, T0 - timedelta(days=1), done=v2, done_at=T0)
    # Alert follow-ups within 24 h, grid A: one done in time by v1, one done late: 1/2.
    task(w.household_a, TaskKind.ALERT_FOLLOW_UP, T0 + timedelta(hours=1), done=v1,
         done_at=T0, ref="9001")  # fmt: skip
    task(a2, TaskKind.ALERT_FOLLOW_UP, T0 - timedelta(hours=1), done=v2,
         done_at=T0 + timedelta(hours=1), ref="9002")  # fmt: skip
    # Findings of worker_a: one follow-up done, one case still awaiting: 1/2.
    fine = task(a3, TaskKind.FINDING_FOLLOW_UP, T0, done=v1, done_at=T0)
    VisitFinding.objects.create(visit=v1, category="health", description="x",
                                action="follow_up", follow_up_task=fine)  # fmt: skip
    VisitFinding.objects.create(
        visit=v1,
        category="needs",
        description="y",
        action="service_case",
        case_state="awaiting_service_desk",
    )
    VisitFinding.objects.create(visit=v1, category="other", description="z")  # record only
    # Emergencies of grid A: tier-1 acks of worker_a 30 s, 90 s, never (3600 s):
    # p50 90, p90 90 + 0.8 * 3510 = 2898. Accepted by worker_a after 40 s and 100 s:
    # p50 70, p90 94. Community 1 answered within the 60 s policy: 1 of 3.
    e1 = alert(w, T0, accepted_by=w.worker_a, accept_after=40)
    e2 = alert(w, T0 + timedelta(days=1), accepted_by=w.worker_a, accept_after=100)
    e3 = alert(w, T0 + timedelta(days=2))
    for e, ack in ((e1, 30), (e2, 90), (e3, None)):
        AlertRecipient.objects.create(
            alert=e, user=w.worker_a, tier=1, notified_at=e.created_at,
            acknowledged_at=e.created_at + timedelta(seconds=ack) if ack else None,
        )  # fmt: skip
    # Cases of the elderly-care officer: c1 on time; c2 overdue with two material requests;
    # c3 filed and decided by the officer himself (excluded: self-approved); c4 the same item
    # for the same resident two days after c1 (excluded: duplicate). Handled 2, on time 1/2,
    # material requests 1/2, rework 1/2. One reassignment by the officer: 1 bounce.
    item = ServiceItem.objects.create(
        code="t-allowance", name_zh="高龄津贴", name_en="allowance", category="elderly",
        line="elderly_care", time_limit_days=20,
    )  # fmt: skip
    other = ServiceItem.objects.create(
        code="t-care", name_zh="居家养老", name_en="home care", category="elderly",
        line="elderly_care", time_limit_days=20,
    )  # fmt: skip
    c1 = case(w, item, filed_by=w.worker_a, created=T0 - timedelta(days=20), decided=T0)
    c2 = case(w, other, filed_by=w.worker_a, created=T0 - timedelta(days=30), decided=T0,
              overdue=True)  # fmt: skip
    c3 = case(w, other, filed_by=w.officer_elderly_1, created=T0 - timedelta(days=5), decided=T0)
    c4 = case(w, item, filed_by=w.worker_b, created=T0 - timedelta(days=18), decided=T0)
    for _ in range(2):
        CaseStep.objects.create(case=c2, kind="request_material", actor=w.officer_elderly_1, at=T0)
    CaseStep.objects.create(case=c3, kind="reassign", actor=w.officer_elderly_1, at=T0)
    # Ratings: c1 5 from the resident (100); c2 1 recorded by the officer himself (excluded).
    CaseRating.objects.create(case=c1, score=5, via="app", recorded_by=w.resident_user_a, at=T0)
    CaseRating.objects.create(case=c2, score=1, via="visit", recorded_by=w.officer_elderly_1,
                              at=T0)  # fmt: skip
    # Follow-ups of worker_a: 4 (80 points); a refusal; a 1 sent from worker_a's own phone.
    # Mean 80, two excluded. Panel: a 5 (100), counted only by the year.
    follow_up(w, w.worker_a, state="rated", score=4)
    follow_up(w, w.worker_a, state="declined", score=None)
    follow_up(w, w.worker_a, state="rated", score=1, phone=w.worker_a.phone)
    follow_up(w, w.worker_a, state="rated", score=5, source="panel", ref="2026:1")
    return SimpleNamespace(visits=[v1, v2, v3, v4], alerts=[e1, e2, e3], cases=[c1, c2, c3, c4])


def worker_scheme(w: Any) -> Scheme:
    """B post 60 (coverage, fence pass), satisfaction 40 (follow-ups; the panel year-only)."""
    scheme = Scheme.objects.create(
        district=w.district, name="网格员考核", applies_to="worker",
        grade_bands={"优秀": 90, "良好": 80, "合格": 60},
    )  # fmt: skip
    b = IndicatorGroup.objects.create(scheme=scheme, name="网格岗位", weight=60)
    s = IndicatorGroup.objects.create(scheme=scheme, name="满意度", weight=40)
    Indicator.objects.create(group=b, code="b_coverage", target=1, floor=0)
    Indicator.objects.create(group=b, code="b_fence_pass", target=1, floor=0)
    Indicator.objects.create(group=s, code="s_follow_up", target=100, floor=0)
    Indicator.objects.create(group=s, code="s_panel", target=100, floor=0, year_only=True)
    return scheme


def bola(w: Any) -> dict[str, Any]:
    """For the BOLA matrix: worker cards for worker_a and worker_b (community 1), community
    cards for both communities, a period of another district, appeals and follow-ups."""
    from backend.assessment.actions import do_open_period
    from backend.assessment.models import Appeal, Period, Scorecard
    from backend.territory.models import Community, District

    period = do_open_period(scheme=worker_scheme(w), year=2026, quarter=3, by=w.admin)
    communities = Scheme.objects.create(
        district=w.district, name="社区考核", applies_to="community"
    )
    group = IndicatorGroup.objects.create(scheme=communities, name="网格岗位", weight=100)
    Indicator.objects.create(group=group, code="b_coverage", target=1)
    by_community = do_open_period(scheme=communities, year=2026, quarter=3, by=w.admin)
    elsewhere = District.objects.create(code="340711", name="郊区")
    far = Community.objects.create(district=elsewhere, code="J01", name="远方社区")
    far_scheme = Scheme.objects.create(district=elsewhere, name="社区考核", applies_to="community")
    far_period = Period.objects.create(
        scheme=far_scheme, year=2026, quarter=3, starts_at=T0, ends_at=T0 + timedelta(days=1)
    )
    Scorecard.objects.create(period=far_period, community=far)
    card_a = Scorecard.objects.get(period=period, user=w.worker_a)
    card_c2 = Scorecard.objects.get(period=by_community, community=w.c2)
    fu = {}
    for name, resident, channel, rated in (
        ("follow_up_a", w.resident_a, "app", w.worker_a),
        ("follow_up_b", w.resident_b, "app", w.worker_b),
        ("door_a", w.resident_a, "visit", w.officer_elderly_1),
        ("door_b", w.resident_b, "visit", w.officer_elderly_1),
    ):
        fu[name] = FollowUp.objects.create(
            source="alert", source_ref=name, resident=resident, household=resident.household,
            community=w.c1, post="B", channel=channel, code="654321",
        )  # fmt: skip
        fu[name].workers.add(rated)
    return {
        "period": period,
        "far_period": far_period,
        "card_a": card_a,
        "card_b": Scorecard.objects.get(period=period, user=w.worker_b),
        "appeal_a": Appeal.objects.create(scorecard=card_a, by=w.worker_a, text="申诉"),
        "appeal_c2": Appeal.objects.create(scorecard=card_c2, by=w.admin, text="申诉"),
        **fu,
    }
