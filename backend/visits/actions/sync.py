"""The batch sync: visit records a phone kept offline, stored in one transaction, one result
per record; with them their findings (a follow-up task, a service-desk referral) and the
tasks the visits complete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.selectors import Scope
from backend.alerts.actions import Fix
from backend.people.selectors import household_filter
from backend.territory.models import Household
from backend.visits import seams
from backend.visits.events import tell_lists_changed
from backend.visits.models import TaskKind, Visit, VisitFinding, VisitTask

from .checkin import check_fixes, check_may_visit, post_of

FUTURE_TOLERANCE = timedelta(hours=24)
FOLLOW_UP = VisitFinding.Action.FOLLOW_UP


@dataclass(frozen=True)
class FindingRecord:
    category: str
    description: str
    action: str = VisitFinding.Action.NONE
    follow_up_days: int = 7


@dataclass(frozen=True)
class VisitRecord:
    """One visit as the phone recorded it (already parsed by the API layer)."""

    client_uuid: uuid.UUID
    household_id: int
    visited_at: datetime
    present: bool
    fix: Fix | None = None
    task_id: int | None = None
    checklist: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    findings: tuple[FindingRecord, ...] = ()
    photo_ids: tuple[uuid.UUID, ...] = ()


@dataclass
class SyncResult:
    client_uuid: uuid.UUID
    status: str  # created / duplicate / rejected
    reason: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    visit_id: int | None = None
    flag: str | None = None
    distance_m: float | None = None


def _rejected(record: VisitRecord, code: str, **fields: str) -> SyncResult:
    return SyncResult(record.client_uuid, "rejected", reason=code, fields=fields)


def do_sync_visits(
    *, worker: User, records: Sequence[VisitRecord], now: datetime | None = None
) -> list[SyncResult]:
    """Store a batch of visit records; one result per record, in order.

    A record whose client_uuid is already stored is a duplicate and changes nothing; a bad
    record is rejected with a reason and does not stop the others. The batch commits at once.
    """
    scope = check_may_visit(worker)
    for attempt in range(2):
        try:
            return _sync(worker, scope, records, now or timezone.now())
        except IntegrityError:
            # Another device of the same uuid committed between our read and write: read again.
            if attempt:
                raise
    raise AssertionError("unreachable")


# A record to store: (its index in the batch, the record, its household, its online check-in).
Todo = tuple[int, VisitRecord, Household, Visit | None]


def _sync(
    worker: User, scope: Scope, records: Sequence[VisitRecord], now: datetime
) -> list[SyncResult]:
    results = _screen(records, now)
    households = {
        h.pk: h
        for h in Household.objects.filter(
            household_filter(scope), pk__in={r.household_id for r in records}
        ).select_related("grid")
    }
    with transaction.atomic():
        # One sync per worker at a time: two retries of one batch cannot both create.
        User.objects.select_for_update().filter(pk=worker.pk).first()
        todo = _sort_out(worker, records, results, households)
        visits = _store_visits(worker, scope, todo, now)
        pairs = [(visits[r.client_uuid], r) for _, r, _, _ in todo]
        _record_findings(pairs)
        _close_tasks(pairs, worker, now)
        for i, r, _, _ in todo:
            v = visits[r.client_uuid]
            results[i] = SyncResult(
                r.client_uuid,
                "created",
                visit_id=v.pk,
                flag=v.flag or None,
                distance_m=v.distance_m,
            )
    return [r for r in results if r is not None]


def _screen(records: Sequence[VisitRecord], now: datetime) -> list[SyncResult | None]:
    """What can be answered without the database: repeats within the batch, future dates."""
    results: list[SyncResult | None] = [None] * len(records)
    seen: set[uuid.UUID] = set()
    for i, r in enumerate(records):
        if r.client_uuid in seen:
            results[i] = SyncResult(r.client_uuid, "duplicate")
        elif r.visited_at > now + FUTURE_TOLERANCE:
            results[i] = _rejected(r, "visited_at_in_future", visited_at="field_out_of_range")
        seen.add(r.client_uuid)
    return results


def _sort_out(
    worker: User,
    records: Sequence[VisitRecord],
    results: list[SyncResult | None],
    households: dict[int, Household],
) -> list[Todo]:
    """Answer duplicates and bad references in `results`; return the records to store."""
    existing = {
        v.client_uuid: v
        for v in Visit.objects.filter(client_uuid__in=[r.client_uuid for r in records])
    }
    tasks = {
        t.pk: t for t in VisitTask.objects.filter(pk__in={r.task_id for r in records if r.task_id})
    }
    todo: list[Todo] = []
    for i, r in enumerate(records):
        if results[i] is not None:
            continue
        household = households.get(r.household_id)
        visit = existing.get(r.client_uuid)
        task = tasks.get(r.task_id) if r.task_id else None
        if household is None:
            results[i] = _rejected(r, "not_found", household_id="not_found")
        elif visit is not None and (
            visit.worker_id != worker.pk or visit.household_id != household.pk
        ):
            results[i] = _rejected(r, "client_uuid_conflict", client_uuid="field_invalid")
        elif visit is not None and visit.state == Visit.State.COMPLETED:
            results[i] = SyncResult(
                r.client_uuid, "duplicate", visit_id=visit.pk, flag=visit.flag or None
            )
        elif r.task_id and (task is None or task.household_id != household.pk):
            results[i] = _rejected(r, "not_found", task_id="not_found")
        else:
            todo.append((i, r, household, visit))
    return todo


def _store_visits(
    worker: User, scope: Scope, todo: list[Todo], now: datetime
) -> dict[uuid.UUID, Visit]:
    """Create the visits that had no online check-in (their geofence in one query) and
    complete the checked-in ones, in bulk."""
    checked = iter(check_fixes([(h, r.fix) for _, r, h, v in todo if v is None]))
    new: list[Visit] = []
    completed: list[Visit] = []
    for _, r, household, visit in todo:
        if visit is None:
            c = next(checked)
            visit = Visit(
                client_uuid=r.client_uuid,
                worker=worker,
                household=household,
                grid_id=household.grid_id,
                community_id=household.grid.community_id,
                task_id=r.task_id,
                post=post_of(scope, household),
                visited_at=r.visited_at,
                received_at=now,
                counted_at=min(r.visited_at, now),
                location=r.fix.point() if r.fix else None,
                accuracy_m=r.fix.accuracy_m if r.fix else None,
                distance_m=c.distance_m,
                fence_m=c.fence_m,
                flag=c.flag,
            )
            new.append(visit)
        else:
            completed.append(visit)
            if r.task_id:
                visit.task_id = r.task_id
        visit.state = Visit.State.COMPLETED
        visit.recorded_at = now
        visit.present = r.present
        visit.checklist = r.checklist
        visit.note = r.note
        visit.expected_photos = [str(p) for p in r.photo_ids]
    Visit.objects.bulk_create(new)
    Visit.objects.bulk_update(
        completed,
        ["state", "recorded_at", "present", "checklist", "note", "expected_photos", "task"],
    )
    return {v.client_uuid: v for v in [*new, *completed]}


def _record_findings(pairs: list[tuple[Visit, VisitRecord]]) -> None:
    """Store the findings; a follow-up finding opens its task in the same step (in bulk: one
    insert for the batch, and one `visit.tasks_changed` per worker of the grids concerned)."""
    findings = [
        (
            visit,
            f,
            VisitFinding(
                visit=visit, category=f.category, description=f.description, action=f.action
            ),
        )
        for visit, r in pairs
        for f in r.findings
    ]
    if not findings:
        return
    VisitFinding.objects.bulk_create([row for _, _, row in findings])
    follow_ups = [(v, f, row) for v, f, row in findings if f.action == FOLLOW_UP]
    tasks = VisitTask.objects.bulk_create(
        [
            VisitTask(
                kind=TaskKind.FINDING_FOLLOW_UP,
                household=visit.household,
                grid_id=visit.grid_id,
                community_id=visit.community_id,
                reason=f"走访发现跟进 follow-up: {f.description}"[:300],
                due_at=visit.counted_at + timedelta(days=f.follow_up_days),
                source_kind="finding",
                source_ref=str(row.pk),
                data={"visit_id": visit.pk, "category": f.category},
            )
            for visit, f, row in follow_ups
        ]
    )
    for (_, _, row), task in zip(follow_ups, tasks, strict=True):
        row.follow_up_task = task
    for _, f, row in findings:
        if f.action == VisitFinding.Action.SERVICE_CASE:
            seams.open_case(row)
    VisitFinding.objects.bulk_update(
        [row for _, f, row in findings if f.action != VisitFinding.Action.NONE],
        ["follow_up_task", "case_state", "case_ref"],
    )
    if tasks:
        tell_lists_changed(
            {t.grid_id for t in tasks},
            reason="finding_follow_up",
            data={"task_ids": [t.pk for t in tasks]},
        )


def _close_tasks(pairs: list[tuple[Visit, VisitRecord]], worker: User, now: datetime) -> None:
    """A visit with the resident at home completes the task it names and the household's open
    routine task; with nobody home it counts an attempt and the tasks stay open."""
    present = [v for v, _ in pairs if v.present]
    absent_tasks = [v.task_id for v, _ in pairs if not v.present and v.task_id]
    if absent_tasks:
        VisitTask.objects.filter(pk__in=absent_tasks, state=VisitTask.State.OPEN).update(
            attempts=F("attempts") + 1
        )
    if not present:
        return
    named = {v.task_id: v for v in present if v.task_id}
    routine = {v.household_id: v for v in present}
    to_close = list(
        VisitTask.objects.filter(
            Q(pk__in=list(named)) | Q(kind=TaskKind.ROUTINE, household_id__in=list(routine)),
            state=VisitTask.State.OPEN,
        )
    )
    for task in to_close:
        visit = named.get(task.pk) or routine[task.household_id]
        task.state = VisitTask.State.DONE
        task.done_at = now
        task.done_by_visit = visit
    _mark_done(to_close, now)
    if to_close:
        tell_lists_changed(
            {t.grid_id for t in to_close}, reason="visited", exclude=worker.pk, urgent=False
        )


def _mark_done(tasks: list[VisitTask], now: datetime) -> None:
    """One UPDATE ... FROM unnest on PostgreSQL (bulk_update's CASE per row costs ~1 s for a
    full batch); bulk_update elsewhere."""
    if not tasks:
        return
    if connection.vendor != "postgresql":
        VisitTask.objects.bulk_update(tasks, ["state", "done_at", "done_by_visit"])
        return
    table = VisitTask._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} t SET state = %s, done_at = %s, done_by_visit_id = v.visit_id "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(task_id, visit_id) "
            "WHERE t.id = v.task_id",
            [
                VisitTask.State.DONE,
                now,
                [t.pk for t in tasks],
                [t.done_by_visit_id for t in tasks],
            ],
        )
