"""A year of plausible synthetic work for the district (for `seed_demo` and the assessment
benchmark): visits (a few outside the fence, a few without a photo), routine tasks of the
vulnerable households, emergencies with tier-1 calls, acceptances and follow-up visits, cases
with material requests, reassignments and late decisions, ratings, follow-ups (回访) and the
yearly resident panel. Deterministic for a seed; bulk inserts, one community at a time.
"""

from __future__ import annotations

import io
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from PIL import Image

from backend.accounts.models import BusinessLineAssignment, GridAssignment, Role, User
from backend.alerts.models import Alert, AlertRecipient
from backend.assessment.follow_ups import sampled, visit_sample_rate
from backend.assessment.models import FollowUp
from backend.people.models import Resident, ResidentTag
from backend.photos.actions import do_store_photo
from backend.photos.models import Photo
from backend.servicedesk.models import Case, CaseRating, CaseStep, ServiceItem
from backend.territory.models import Community, District, Household
from backend.visits.models import TaskKind, Visit, VisitTask

from .synthetic import LOCAL_TZ

BATCH = 2000
SCORES = (1, 2, 3, 4, 5)
SCORE_WEIGHTS = (2, 4, 12, 37, 45)


@dataclass
class Activity:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class _Place:
    household: int
    grid: int
    x: float
    y: float
    tagged: bool


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in working hours (08-20 local) between start and end."""
    day = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
    local = day.astimezone(LOCAL_TZ).replace(hour=rng.randint(8, 19), minute=rng.randint(0, 59))
    return min(max(local, start), end - timedelta(minutes=1))


def _demo_photo(uploader: User, household_id: int) -> Photo:
    """One real photo through the pipeline; the year's visit photos share its files."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (60, 140, 90)).save(out, "JPEG")
    photo, _ = do_store_photo(
        data=out.getvalue(), household=Household.objects.get(pk=household_id),
        subject_kind="demo", subject_uuid=uuid.UUID(int=0), uploaded_by=uploader,
        client_photo_id=uuid.UUID(int=1),
    )  # fmt: skip
    return photo


def generate_year(
    *, district: District, year: int, seed: int = 20100801, until: datetime | None = None
) -> Activity:
    """Load `year`'s work (up to `until`, default now) for every community of the district."""
    start = datetime(year, 1, 1, tzinfo=LOCAL_TZ)
    end = min(datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ), until or timezone.now())
    activity = Activity()
    for community in Community.objects.filter(district=district).order_by("pk"):
        rng = random.Random(f"gridline-activity:{seed}:{year}:{community.code}")
        with transaction.atomic():
            _Community(community, rng, start, end, activity).load()
    return activity


class _Community:
    def __init__(
        self, community: Community, rng: random.Random, start: datetime, end: datetime,
        activity: Activity,
    ) -> None:  # fmt: skip
        self.c, self.rng, self.start, self.end = community, rng, start, end
        self.counts = activity.counts
        tagged = Exists(ResidentTag.objects.filter(resident__household=OuterRef("pk")))
        self.places = [
            _Place(h, g, p.x, p.y, t)
            for h, g, p, t in Household.objects.filter(grid__community=community)
            .annotate(tagged=tagged)
            .order_by("pk")
            .values_list("pk", "grid_id", "location", "tagged")
        ]
        self.workers: dict[int, list[int]] = defaultdict(list)
        for grid_id, user_id in GridAssignment.objects.filter(
            grid__community=community
        ).values_list("grid_id", "user_id"):
            self.workers[grid_id].append(user_id)
        self.phones = dict(User.objects.filter(community=community).values_list("pk", "phone"))
        self.residents: dict[int, list[int]] = defaultdict(list)
        for rid, hid in Resident.objects.filter(household__grid__community=community).values_list(
            "pk", "household_id"
        ):
            self.residents[hid].append(rid)
        self.supervisor = (
            User.objects.filter(community=community, role=Role.SUPERVISOR)
            .values_list("pk", flat=True)
            .first()
        )
        self.follow_ups: list[tuple[FollowUp, list[int]]] = []

    def load(self) -> None:
        if not self.places or not self.workers:
            return
        self.visits()
        self.alerts()
        self.cases()
        self.save_follow_ups()

    # -- visits and their photos and routine tasks ------------------------------------------

    def _visit(self, place: _Place, worker: int, at: datetime, flag: str = "") -> Visit:
        return Visit(
            client_uuid=_uuid(self.rng), worker_id=worker, household_id=place.household,
            grid_id=place.grid, community_id=self.c.pk, state=Visit.State.COMPLETED,
            visited_at=at, received_at=at, counted_at=at, recorded_at=at,
            location=Point(place.x, place.y, srid=4326), accuracy_m=8.0, flag=flag,
            present=self.rng.random() < 0.85,
        )  # fmt: skip

    def visits(self) -> None:
        rng = self.rng
        visits: list[Visit] = []
        for place in self.places:
            workers = self.workers.get(place.grid)
            if not workers:
                continue
            for _ in range(rng.randint(3, 6) if place.tagged else rng.randint(0, 3)):
                roll = rng.random()
                flag = "outside" if roll < 0.04 else ("no_fix" if roll < 0.05 else "")
                visits.append(self._visit(place, rng.choice(workers), self._at(), flag))
        Visit.objects.bulk_create(visits, batch_size=BATCH)
        self.counts["visits"] += len(visits)
        self._photos([v for v in visits if rng.random() < 0.96])
        by_place = {p.household: p for p in self.places}
        tasks = [
            VisitTask(
                kind=TaskKind.ROUTINE, household_id=v.household_id, grid_id=v.grid_id,
                community_id=self.c.pk, reason="例行走访", state=VisitTask.State.DONE,
                due_at=v.counted_at - timedelta(days=rng.choice((0, 1, 2, 5, 9))),
                created_at=v.counted_at - timedelta(days=10), done_at=v.counted_at,
                done_by_visit=v,
            )
            for v in visits
            if by_place[v.household_id].tagged
        ]  # fmt: skip
        VisitTask.objects.bulk_create(tasks, batch_size=BATCH)
        self.counts["routine_tasks"] += len(tasks)
        rate = visit_sample_rate(self.c.district_id)  # the rule ask_due applies
        for v in visits:
            if v.present and sampled(v.pk, rate):
                self._follow_up("visit", v.pk, v.household_id, [v.worker_id], "B", v.counted_at)

    def _at(self) -> datetime:
        return _moment(self.rng, self.start, self.end)

    def _photos(self, visits: list[Visit]) -> None:
        if not visits:
            return
        model = _demo_photo(User.objects.get(pk=visits[0].worker_id), visits[0].household_id)
        Photo.objects.bulk_create(
            [
                Photo(
                    client_photo_id=_uuid(self.rng), household_id=v.household_id,
                    subject_kind="visit", subject_uuid=v.client_uuid, uploaded_by_id=v.worker_id,
                    uploaded_at=v.counted_at, display=model.display.name,
                    thumbnail=model.thumbnail.name, width=model.width, height=model.height,
                    source_format="JPEG", source_bytes=model.source_bytes,
                )
                for v in visits
            ],
            batch_size=BATCH,
        )  # fmt: skip
        self.counts["photos"] += len(visits)

    # -- emergencies ------------------------------------------------------------------------

    def alerts(self) -> None:
        rng = self.rng
        elders = [p for p in self.places if p.tagged and self.workers.get(p.grid)]
        alerts: list[tuple[Alert, int, float | None]] = []
        for _ in range(max(1, len(self.places) // 60)):
            place = rng.choice(elders or self.places)
            if not self.workers.get(place.grid) or not self.residents.get(place.household):
                continue
            created = self._at()
            worker = rng.choice(self.workers[place.grid])
            accepted = rng.random() < 0.95
            after = rng.lognormvariate(3.6, 0.7)  # median ~37 s, a tail past a minute
            alert = Alert(
                kind="emergency", source="device",
                resident_id=rng.choice(self.residents[place.household]),
                household_id=place.household, grid_id=place.grid, community_id=self.c.pk,
                created_at=created, tier=1,
                state=Alert.State.RESOLVED if accepted else Alert.State.CANCELLED,
                accepted_by_id=worker if accepted else None,
                accepted_at=created + timedelta(seconds=after) if accepted else None,
                resolved_at=created + timedelta(minutes=rng.randint(15, 90)) if accepted else None,
                disposition="assisted_on_site" if accepted else "",
            )  # fmt: skip
            ack = rng.lognormvariate(2.8, 0.8) if rng.random() < 0.93 else None
            alerts.append((alert, worker, ack))
        Alert.objects.bulk_create([a for a, _, _ in alerts], batch_size=BATCH)
        self.counts["alerts"] += len(alerts)
        AlertRecipient.objects.bulk_create(
            [
                AlertRecipient(
                    alert=a, user_id=w, tier=1, notified_at=a.created_at,
                    acknowledged_at=a.created_at + timedelta(seconds=ack) if ack else None,
                )
                for a, w, ack in alerts
            ],
            batch_size=BATCH,
        )  # fmt: skip
        by_place = {p.household: p for p in self.places}
        follow: list[tuple[Alert, datetime, datetime, Visit]] = []
        visits: list[Visit] = []
        for alert, worker, _ in alerts:
            resolved = alert.resolved_at
            if resolved is None:
                continue
            due = resolved + timedelta(hours=24)
            done = resolved + timedelta(hours=rng.uniform(2, 30))
            visit = self._visit(by_place[alert.household_id], worker, min(done, self.end))
            visits.append(visit)
            follow.append((alert, resolved, due, visit))
            self._follow_up("alert", alert.pk, alert.household_id, [worker], "B", resolved,
                            resident=alert.resident_id)  # fmt: skip
        Visit.objects.bulk_create(visits, batch_size=BATCH)
        self._photos(visits)
        VisitTask.objects.bulk_create(
            [
                VisitTask(
                    kind=TaskKind.ALERT_FOLLOW_UP, household_id=a.household_id,
                    grid_id=a.grid_id, community_id=self.c.pk, reason="紧急求助回访",
                    source_kind="alert", source_ref=str(a.pk), due_at=due,
                    created_at=resolved, state=VisitTask.State.DONE,
                    done_at=v.counted_at, done_by_visit=v, data={"alert_id": a.pk},
                )
                for a, resolved, due, v in follow
            ],
            batch_size=BATCH,
        )  # fmt: skip

    # -- cases ------------------------------------------------------------------------------

    def cases(self) -> None:
        rng = self.rng
        lines: dict[str, list[int]] = defaultdict(list)
        for line, user_id in BusinessLineAssignment.objects.filter(community=self.c).values_list(
            "line", "user_id"
        ):
            lines[line].append(user_id)
        items = [i for i in ServiceItem.objects.exclude(line="") if lines.get(i.line)]
        if not items or not self.supervisor:
            return
        cases: list[tuple[Case, datetime, datetime, int]] = []
        for n in range(len(self.places) // 25):
            place = rng.choice(self.places)
            if not self.residents.get(place.household) or not self.workers.get(place.grid):
                continue
            item = rng.choice(items)
            created = self._at() - timedelta(days=20)
            took = rng.uniform(1, item.time_limit_days * 1.6)
            decided = min(created + timedelta(days=took), self.end - timedelta(minutes=2))
            due = created + timedelta(days=item.time_limit_days * 1.4)  # working days ~ x1.4
            assignee = rng.choice(lines[item.line])
            cases.append((Case(
                number=f"D{created:%Y}{self.c.pk % 100:02d}{n:06d}", item=item,
                state="closed", district_id=self.c.district_id, community_id=self.c.pk,
                grid_id=place.grid, household_id=place.household,
                resident_id=rng.choice(self.residents[place.household]), channel="doorstep",
                filed_by_id=rng.choice(self.workers[place.grid]),
                assignee_id=assignee, queue_line=item.line,
                queue_key=f"line:{self.c.pk}:{item.line}", created_at=created,
                submitted_at=created, decided_at=decided, due_at=due,
                overdue_at=due if decided > due else None,
                closed_at=decided + timedelta(minutes=1), updated_at=decided,
            ), created, decided, assignee))  # fmt: skip
        Case.objects.bulk_create([c for c, _, _, _ in cases], batch_size=BATCH)
        self.counts["cases"] += len(cases)
        steps: list[CaseStep] = []
        ratings: list[CaseRating] = []
        for case, created, decided, assignee in cases:
            for _ in range(rng.choices((0, 1, 2), (80, 15, 5))[0]):
                steps.append(CaseStep(case=case, kind="request_material", actor_id=assignee,
                                      at=created + timedelta(days=1), duty="A"))  # fmt: skip
            if rng.random() < 0.05:
                steps.append(CaseStep(case=case, kind="reassign", actor_id=assignee,
                                      at=created + timedelta(hours=3), duty="A"))  # fmt: skip
            steps.append(CaseStep(case=case, kind="approve", actor_id=assignee, at=decided,
                                  duty="A"))  # fmt: skip
            if rng.random() < 0.6:
                ratings.append(CaseRating(
                    case=case, score=rng.choices(SCORES, SCORE_WEIGHTS)[0], via="visit",
                    recorded_by_id=self.supervisor, at=decided,
                ))  # fmt: skip
            self._follow_up("case", case.pk, case.household_id or 0, [assignee], "A", decided,
                            resident=case.resident_id)  # fmt: skip
        CaseStep.objects.bulk_create(steps, batch_size=BATCH)
        CaseRating.objects.bulk_create(ratings, batch_size=BATCH)

    # -- follow-ups (回访) ------------------------------------------------------------------

    def _follow_up(
        self, source: str, ref: Any, household: int, workers: list[int], post: str,
        at: datetime, resident: int | None = None,
    ) -> None:  # fmt: skip
        rng = self.rng
        if resident is None:
            found = self.residents.get(household)
            if not found:
                return
            resident = found[0]
        answered = at + timedelta(hours=rng.uniform(2, 72))
        roll = rng.random()
        state = "rated" if roll < 0.7 else ("declined" if roll < 0.8 else "asked")
        if answered >= self.end:
            state = "asked"
        own = rng.random() < 0.01  # a worker "rating" themselves from their own phone
        fu = FollowUp(
            source=source, source_ref=str(ref), resident_id=resident, household_id=household,
            community_id=self.c.pk, post=post, channel=rng.choice(("app", "sms", "visit")),
            code=f"{rng.randrange(1_000_000):06d}", state=state, asked_at=at,
            score=rng.choices(SCORES, SCORE_WEIGHTS)[0] if state == "rated" else None,
            answered_at=answered if state != "asked" else None,
            answer_phone=self.phones.get(workers[0], "") if own else "",
        )  # fmt: skip
        self.follow_ups.append((fu, workers))

    def save_follow_ups(self) -> None:
        FollowUp.objects.bulk_create([fu for fu, _ in self.follow_ups], batch_size=BATCH)
        through = FollowUp.workers.through
        through.objects.bulk_create(
            [through(followup_id=fu.pk, user_id=w) for fu, ws in self.follow_ups for w in ws],
            batch_size=BATCH,
        )
        self.counts["follow_ups"] += len(self.follow_ups)


def answer_panel(*, district: District, year: int, seed: int = 20100801) -> int:
    """Draw the yearly panel of every community and let most of it answer (demo only)."""
    from backend.assessment.follow_ups import do_draw_panel

    rng = random.Random(f"gridline-panel:{seed}:{year}")
    answered_at = min(datetime(year, 12, 1, 10, tzinfo=LOCAL_TZ), timezone.now())
    drawn = 0
    for community_id in Community.objects.filter(district=district).values_list("pk", flat=True):
        drawn += do_draw_panel(community_id=community_id, year=year, seed=str(seed))
    panel = list(FollowUp.objects.filter(source="panel", community__district=district))
    for fu in panel:
        if rng.random() < 0.85:
            fu.state, fu.score = "rated", rng.choices(SCORES, SCORE_WEIGHTS)[0]
            fu.answered_at = answered_at
    FollowUp.objects.bulk_update(panel, ["state", "score", "answered_at"], batch_size=BATCH)
    return drawn
