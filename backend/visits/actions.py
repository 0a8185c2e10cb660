"""Writes for visits: tasks (one-off and the daily derivation), check-in, the batch sync of
visit records, and visit photos.

Every write runs in one transaction with its stream events: a new or changed task reaches the
grid's B-post workers on the stream (urgent ones are pushed to phones without a live socket).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.accounts.models import GridAssignment, User
from backend.accounts.selectors import Scope, scope_for
from backend.alerts.actions import Fix
from backend.core.errors import ApiError, NotFound
from backend.core.stream import record_events
from backend.people.selectors import household_filter
from backend.photos.actions import do_store_photo
from backend.photos.models import Photo
from backend.territory.models import Community, Household

from . import geo, seams
from .models import TaskKind, Visit, VisitFinding, VisitSettings, VisitTask
from .schedule import schedules

ONE_OFF_WITHIN = timedelta(hours=24)
FUTURE_TOLERANCE = timedelta(hours=24)
MAX_PHOTOS_PER_VISIT = 20
PHOTO_SUBJECT = "visit"


# -- who is told ---------------------------------------------------------------------------


def grid_workers(grid_ids: Iterable[int]) -> dict[int, list[int]]:
    """The active B-post workers of each grid."""
    out: dict[int, list[int]] = defaultdict(list)
    for grid_id, user_id in GridAssignment.objects.filter(
        grid_id__in=set(grid_ids), user__is_active=True
    ).values_list("grid_id", "user_id"):
        out[grid_id].append(user_id)
    return out


def task_summary(task: VisitTask) -> dict[str, Any]:
    household = task.household
    return {
        "task_id": task.pk,
        "kind": task.kind,
        "state": task.state,
        "reason": task.reason,
        "due_at": task.due_at.isoformat(),
        "grid_id": task.grid_id,
        "household": {
            "id": household.pk,
            "address": household.address,
            "lat": household.location.y,
            "lon": household.location.x,
        },
    }


def _tell_lists_changed(
    grid_ids: Iterable[int],
    *,
    reason: str,
    urgent: bool = False,
    exclude: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    by_user: dict[int, set[int]] = defaultdict(set)
    for grid_id, users in grid_workers(grid_ids).items():
        for user_id in users:
            if user_id != exclude:
                by_user[user_id].add(grid_id)
    for user_id, grids in sorted(by_user.items()):
        record_events(
            user_ids=[user_id],
            type="visit.tasks_changed",
            data={
                "kind": "tasks_changed",
                "reason": reason,
                "grid_ids": sorted(grids),
                **(data or {}),
            },
            urgent=urgent,
        )


# -- one-off tasks -------------------------------------------------------------------------


def do_raise_visit_task(
    *,
    household: Household,
    kind: str,
    reason: str,
    due_at: datetime,
    source_kind: str = "",
    source_ref: str = "",
    data: dict[str, Any] | None = None,
) -> tuple[VisitTask, bool]:
    """A one-off visit (follow-up, device check, delivery, ...) for the household's grid.

    Once per (kind, source): a retried caller gets the first task back. The grid's B-post
    workers get `visit.task` on their stream, pushed when their phone has no live socket.
    Call inside `transaction.atomic()`.
    """
    if source_ref:
        existing = VisitTask.objects.filter(
            kind=kind, source_kind=source_kind, source_ref=source_ref
        ).first()
        if existing is not None:
            return existing, False
    grid = household.grid
    try:
        with transaction.atomic():
            task = VisitTask.objects.create(
                kind=kind,
                household=household,
                grid_id=household.grid_id,
                community_id=grid.community_id,
                reason=reason[:300],
                data=data or {},
                source_kind=source_kind,
                source_ref=source_ref,
                due_at=due_at,
            )
    except IntegrityError:
        return VisitTask.objects.get(
            kind=kind, source_kind=source_kind, source_ref=source_ref
        ), False
    record_events(
        user_ids=grid_workers([grid.pk]).get(grid.pk, []),
        type="visit.task",
        data=task_summary(task),
        urgent=True,
    )
    return task, True


def do_follow_up_after_alert(*, alert: Any) -> VisitTask:
    """An emergency alert was resolved: visit the resident within 24 h. Call in its transaction."""
    at = alert.resolved_at or timezone.now()
    task, _ = do_raise_visit_task(
        household=alert.household,
        kind=TaskKind.ALERT_FOLLOW_UP,
        reason=f"紧急求助回访（24 小时内）follow-up after emergency alert #{alert.pk}",
        due_at=at + ONE_OFF_WITHIN,
        source_kind="alert",
        source_ref=str(alert.pk),
        data={"alert_id": alert.pk, "resident_id": alert.resident_id},
    )
    return task


def do_device_check_after_alarm(*, alert: Any) -> VisitTask:
    """A button device went silent: check it at the door within 24 h. Call in its transaction."""
    task, _ = do_raise_visit_task(
        household=alert.household,
        kind=TaskKind.DEVICE_CHECK,
        reason=f"设备离线，上门检查 device {alert.device.device_id} went offline",
        due_at=alert.created_at + ONE_OFF_WITHIN,
        source_kind="alert",
        source_ref=str(alert.pk),
        data={"alert_id": alert.pk, "device_id": alert.device.device_id},
    )
    return task


# -- the daily job -------------------------------------------------------------------------


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def derive_due_visits(
    *, today: date | None = None, community_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Bring the open routine tasks in line with the rules: one per household that is due or
    overdue today, none for the others. Running it again changes nothing (and two runs at once
    cannot duplicate a task: one open routine task per household is a database constraint)."""
    today = today or timezone.localdate()
    ids = (
        list(community_ids)
        if community_ids is not None
        else list(Community.objects.order_by("pk").values_list("pk", flat=True))
    )
    totals = {"created": 0, "updated": 0, "cancelled": 0, "open": 0}
    for community_id in ids:
        with transaction.atomic():
            _derive_community(community_id, today, totals)
    return totals


def _derive_community(community_id: int, today: date, totals: dict[str, int]) -> None:
    open_tasks = {
        t.household_id: t
        for t in VisitTask.objects.filter(
            community_id=community_id, kind=TaskKind.ROUTINE, state=VisitTask.State.OPEN
        )
    }
    new: list[VisitTask] = []
    changed: list[VisitTask] = []
    touched: set[int] = set()
    for s in schedules(Household.objects.filter(grid__community_id=community_id)):
        due = s.due_on(today)
        task = open_tasks.pop(s.household_id, None)
        if due is None or due > today or s.rule is None:
            if task is not None:
                open_tasks[s.household_id] = task  # cancelled below
            continue
        due_at = start_of(due)
        reason = f"{s.rule.name}（每 {s.rule.interval_days} 天）"[:300]
        data = {
            "interval_days": s.rule.interval_days,
            "last_visit_at": s.last_visit_at.isoformat() if s.last_visit_at else None,
            "vulnerable": s.vulnerable,
        }
        if task is None:
            new.append(
                VisitTask(
                    kind=TaskKind.ROUTINE,
                    household_id=s.household_id,
                    grid_id=s.grid_id,
                    community_id=community_id,
                    reason=reason,
                    data=data,
                    due_at=due_at,
                )
            )
            touched.add(s.grid_id)
        elif (task.due_at, task.reason, task.data) != (due_at, reason, data):
            task.due_at, task.reason, task.data = due_at, reason, data
            changed.append(task)
            touched.add(s.grid_id)
        totals["open"] += 1
    created = VisitTask.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    VisitTask.objects.bulk_update(changed, ["due_at", "reason", "data"], batch_size=1000)
    stale = list(open_tasks.values())
    VisitTask.objects.filter(pk__in=[t.pk for t in stale]).update(
        state=VisitTask.State.CANCELLED, done_at=timezone.now()
    )
    touched |= {t.grid_id for t in stale}
    totals["created"] += len(created)
    totals["updated"] += len(changed)
    totals["cancelled"] += len(stale)
    if touched:
        _tell_lists_changed(touched, reason="daily")


# -- check-in ------------------------------------------------------------------------------


def fence_for(community_id: int) -> tuple[int, int]:
    """(radius, accuracy cap) in metres for the community (own, district default, 50/100)."""
    rows = list(
        VisitSettings.objects.filter(Q(community_id=community_id) | Q(community__isnull=True))
    )
    rows.sort(key=lambda s: s.community_id is None)
    if rows:
        return rows[0].checkin_radius_m, rows[0].max_accuracy_m
    return 50, 100


@dataclass
class Checked:
    distance_m: float | None
    fence_m: float | None
    flag: str


def _judge(fix: Fix | None, result: geo.FenceResult | None, fence_m: float, cap: int) -> Checked:
    if fix is None or result is None:
        return Checked(None, None, Visit.Flag.NO_FIX)
    if not result.within:
        return Checked(result.distance_m, fence_m, Visit.Flag.OUTSIDE)
    if fix.accuracy_m is None or fix.accuracy_m > cap:
        return Checked(result.distance_m, fence_m, Visit.Flag.INACCURATE)
    return Checked(result.distance_m, fence_m, Visit.Flag.NONE)


def _check_fixes(items: Sequence[tuple[Household, Fix | None]]) -> list[Checked]:
    """The geofence for many fixes in one query: radius + min(accuracy, cap) around each home."""
    checks: list[geo.FenceCheck] = []
    fences: list[tuple[float, int]] = []
    settings: dict[int, tuple[int, int]] = {}
    for household, fix in items:
        community_id = household.grid.community_id
        if community_id not in settings:
            settings[community_id] = fence_for(community_id)
        radius, cap = settings[community_id]
        accuracy = fix.accuracy_m if fix and fix.accuracy_m is not None else cap
        fence_m = float(radius) + min(float(accuracy), float(cap))
        fences.append((fence_m, cap))
        if fix is not None:
            checks.append(geo.FenceCheck(household.pk, fix.lon, fix.lat, fence_m))
    results = iter(geo.fence(checks))
    return [
        _judge(fix, next(results) if fix is not None else None, fence_m, cap)
        for (_, fix), (fence_m, cap) in zip(items, fences, strict=True)
    ]


def _post(scope: Scope, household: Household) -> str:
    return Visit.Post.B if household.grid_id in scope.grid_ids else Visit.Post.A


def check_may_visit(user: User) -> Scope:
    if user.role == "resident":
        raise ApiError("permission_denied", status=403)
    return scope_for(user)


def get_visitable_household(scope: Scope, household_id: int) -> Household:
    household = (
        Household.objects.filter(household_filter(scope), pk=household_id)
        .select_related("grid")
        .first()
    )
    if household is None:
        raise NotFound()
    return household


def do_check_in(
    *,
    worker: User,
    household: Household,
    client_uuid: uuid.UUID,
    fix: Fix,
    visited_at: datetime,
    task_id: int | None = None,
) -> tuple[Visit, bool]:
    """Record arrival at the door. Outside the fence or too inaccurate is accepted but flagged,
    with the distance. Once per client_uuid: a retry gets the same visit (created False)."""
    scope = check_may_visit(worker)
    existing = Visit.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if existing.worker_id != worker.pk or existing.household_id != household.pk:
            raise ApiError(
                "client_uuid_conflict", status=409, fields={"client_uuid": "field_invalid"}
            )
        return existing, False
    task = _task_of(task_id, household)
    now = timezone.now()
    (checked,) = _check_fixes([(household, fix)])
    try:
        with transaction.atomic():
            visit = Visit.objects.create(
                client_uuid=client_uuid,
                worker=worker,
                household=household,
                grid_id=household.grid_id,
                community_id=household.grid.community_id,
                task=task,
                post=_post(scope, household),
                visited_at=visited_at,
                received_at=now,
                counted_at=min(visited_at, now),
                location=fix.point(),
                accuracy_m=fix.accuracy_m,
                distance_m=checked.distance_m,
                fence_m=checked.fence_m,
                flag=checked.flag,
            )
    except IntegrityError:
        # A retry of the same check-in committed first: answer as the retry would.
        raced = Visit.objects.filter(client_uuid=client_uuid).first()
        if raced is None or raced.worker_id != worker.pk or raced.household_id != household.pk:
            raise ApiError(
                "client_uuid_conflict", status=409, fields={"client_uuid": "field_invalid"}
            ) from None
        return raced, False
    return visit, True


def _task_of(task_id: int | None, household: Household) -> VisitTask | None:
    if task_id is None:
        return None
    task = VisitTask.objects.filter(pk=task_id, household=household).first()
    if task is None:
        raise ApiError("not_found", status=404, fields={"task_id": "not_found"})
    return task


# -- the batch sync ------------------------------------------------------------------------


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


def _sync(
    worker: User, scope: Scope, records: Sequence[VisitRecord], now: datetime
) -> list[SyncResult]:
    results: list[SyncResult | None] = [None] * len(records)
    seen: set[uuid.UUID] = set()
    for i, r in enumerate(records):
        if r.client_uuid in seen:
            results[i] = SyncResult(r.client_uuid, "duplicate")
        elif r.visited_at > now + FUTURE_TOLERANCE:
            results[i] = _rejected(r, "visited_at_in_future", visited_at="field_out_of_range")
        seen.add(r.client_uuid)
    households = {
        h.pk: h
        for h in Household.objects.filter(
            household_filter(scope), pk__in={r.household_id for r in records}
        ).select_related("grid")
    }
    with transaction.atomic():
        # One sync per worker at a time: two retries of one batch cannot both create.
        User.objects.select_for_update().filter(pk=worker.pk).first()
        existing = {
            v.client_uuid: v
            for v in Visit.objects.filter(client_uuid__in=[r.client_uuid for r in records])
        }
        tasks = {
            t.pk: t
            for t in VisitTask.objects.filter(pk__in={r.task_id for r in records if r.task_id})
        }
        todo: list[tuple[int, VisitRecord, Household, Visit | None]] = []
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
        # The geofence of records without an online check-in, in one query.
        fresh = [(h, r.fix) for _, r, h, v in todo if v is None]
        checked = iter(_check_fixes(fresh))
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
                    post=_post(scope, household),
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
        by_uuid = {v.client_uuid: v for v in [*new, *completed]}
        _record_findings([(by_uuid[r.client_uuid], r) for _, r, _, _ in todo])
        _close_tasks([(by_uuid[r.client_uuid], r) for _, r, _, _ in todo], worker, now)
        for i, r, _, _ in todo:
            v = by_uuid[r.client_uuid]
            results[i] = SyncResult(
                r.client_uuid,
                "created",
                visit_id=v.pk,
                flag=v.flag or None,
                distance_m=v.distance_m,
            )
    return [r for r in results if r is not None]


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
        _tell_lists_changed(
            {t.grid_id for t in tasks},
            reason="finding_follow_up",
            data={"task_ids": [t.pk for t in tasks]},
        )


FOLLOW_UP = VisitFinding.Action.FOLLOW_UP


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
        _tell_lists_changed(
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


# -- photos --------------------------------------------------------------------------------


def do_add_visit_photo(
    *,
    worker: User,
    household: Household,
    visit_uuid: uuid.UUID,
    client_photo_id: uuid.UUID,
    data: bytes,
) -> tuple[Photo, bool]:
    """A photo of a visit, before or after its record arrives (offline). The household has
    been checked against the worker's scope; a visit of someone else or elsewhere is 404."""
    check_may_visit(worker)
    visit = Visit.objects.filter(client_uuid=visit_uuid).first()
    if visit is not None and (visit.household_id != household.pk or visit.worker_id != worker.pk):
        raise NotFound()
    already = Photo.objects.filter(uploaded_by=worker, client_photo_id=client_photo_id).first()
    if already is not None:
        if already.subject_uuid != visit_uuid:
            raise ApiError(
                "client_uuid_conflict", status=409, fields={"client_photo_id": "field_invalid"}
            )
        return already, False
    count = Photo.objects.filter(subject_kind=PHOTO_SUBJECT, subject_uuid=visit_uuid).count()
    if count >= MAX_PHOTOS_PER_VISIT:
        raise ApiError("visit_photo_limit", status=409)
    return do_store_photo(
        data=data,
        household=household,
        subject_kind=PHOTO_SUBJECT,
        subject_uuid=visit_uuid,
        uploaded_by=worker,
        client_photo_id=client_photo_id,
    )
