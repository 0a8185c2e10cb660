"""Door-to-door visits: today's route, check-in, the offline batch sync, photos, coverage.

Out of scope is 404 like a missing id; inside a sync batch, an out-of-scope household is a
rejected item (reason not_found), so one bad record does not fail the others.
"""

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.pagination import paginate
from pydantic import TypeAdapter, ValidationError

from backend.audit.models import AuditEvent
from backend.core.api_errors import field_name, reason_code, responses
from backend.core.errors import ApiError, error_body, message
from backend.core.personal import age_on
from backend.photos.actions import signed_url
from backend.photos.models import Photo
from backend.photos.pipeline import MAX_BYTES
from backend.servicedesk import referrals
from backend.visits import actions, selectors
from backend.visits.models import Visit
from mobile_api.pagination import AuditedPage
from mobile_api.security import caller

from .schemas import (
    CheckInIn,
    CheckInOut,
    CoverageOut,
    CoverageQuery,
    PhotoOut,
    SyncIn,
    SyncOut,
    TodayOut,
    TodayQuery,
    VisitDetail,
    VisitFilters,
    VisitOut,
    VisitRecordIn,
)

router = Router(tags=["visits"])

_record = TypeAdapter(VisitRecordIn)
MULTIPART_SLACK = 64 * 1024  # form boundaries and the other fields


@router.get("/visits/today", response=responses({200: TodayOut}, 401, 422))
def today(request: HttpRequest, query: Query[TodayQuery]) -> dict[str, Any]:
    """My due and overdue visits in my B-post grids, as a walking route (nearest neighbour on
    PostGIS from `lat`/`lon`, else my last reported position, else the most urgent stop)."""
    if (query.lat is None) != (query.lon is None):
        raise ApiError("validation_error", status=422, fields={"lat": "field_required"})
    origin = query.origin()
    plan = selectors.read_today(
        caller(request), origin=(origin.lon, origin.lat) if origin else None, request=request
    )
    now = timezone.now()
    day_start = actions.start_of(timezone.localdate())
    return {
        "date": timezone.localdate(),
        "origin": plan.origin,
        "total_m": plan.total_m,
        "stops": [
            {
                "step": s.step,
                "leg_m": s.leg_m,
                "household": {
                    "id": s.household.pk,
                    "address": s.household.address,
                    "grid_id": s.household.grid_id,
                    "location": {"lat": s.household.location.y, "lon": s.household.location.x},
                },
                "residents": [
                    {
                        "id": r.pk,
                        "name": r.name,
                        "age": age_on(r.birth_date),
                        "care_tags": sorted(t.tag for t in r.tags.all()),
                    }
                    for r in s.residents
                ],
                "reasons": [
                    {
                        "task_id": t.pk,
                        "kind": t.kind,
                        "reason": t.reason,
                        "due_at": t.due_at,
                        "overdue": t.due_at < (day_start if t.kind == "routine" else now),
                        "attempts": t.attempts,
                    }
                    for t in s.tasks
                ],
                "last_visit": (
                    {
                        "client_uuid": s.last_visit.client_uuid,
                        "visited_at": s.last_visit.visited_at,
                        "worker": {"id": s.last_visit.worker_id, "name": s.last_visit.worker.name},
                        "present": s.last_visit.present,
                        "flag": s.last_visit.flag or None,
                        "note": s.last_visit.note[:200],
                    }
                    if s.last_visit
                    else None
                ),
            }
            for s in plan.stops
        ],
    }


@router.post(
    "/visits/checkin",
    response=responses({201: CheckInOut, 200: CheckInOut}, 400, 401, 403, 404, 409, 422),
)
def check_in(request: HttpRequest, payload: CheckInIn) -> Status[Visit]:
    """Arrive at the door: the fix is checked against the household (radius + accuracy, capped).
    Outside or too inaccurate is accepted and flagged with the distance. 201 once, then 200."""
    user = caller(request)
    scope = actions.check_may_visit(user)
    household = actions.get_visitable_household(scope, payload.household_id)
    visit, created = actions.do_check_in(
        worker=user,
        household=household,
        client_uuid=payload.client_uuid,
        fix=payload.location.fix(),
        visited_at=payload.at or timezone.now(),
        task_id=payload.task_id,
    )
    return Status(201 if created else 200, visit)


@router.post("/visits/sync", response=responses({200: SyncOut}, 400, 401, 403, 422))
def sync(request: HttpRequest, payload: SyncIn) -> dict[str, Any]:
    """Up to 200 visit records, each with its own result: created, duplicate (already stored:
    nothing changes) or rejected with a reason. The same batch twice changes nothing."""
    user = caller(request)
    actions.check_may_visit(user)
    parsed: list[tuple[int, VisitRecordIn]] = []
    results: dict[int, dict[str, Any]] = {}
    for i, item in enumerate(payload.records):
        if isinstance(item, VisitRecordIn):
            parsed.append((i, item))
            continue
        try:
            parsed.append((i, _record.validate_python(item)))
        except ValidationError as exc:
            fields: dict[str, str] = {}
            for error in exc.errors():
                fields.setdefault(field_name(error["loc"]), message(reason_code(dict(error))))
            results[i] = {
                "index": i,
                "client_uuid": _uuid_of(item),
                "status": "rejected",
                "reason": error_body("validation_error", fields)["error"],
            }
    received_at = timezone.now()
    done = referrals.do_sync_visits(
        worker=user, records=[r.record() for _, r in parsed], now=received_at
    )
    for (i, _), result in zip(parsed, done, strict=True):
        results[i] = {
            "index": i,
            "client_uuid": str(result.client_uuid),
            "status": result.status,
            "reason": (
                error_body(result.reason, {k: message(v) for k, v in result.fields.items()})[
                    "error"
                ]
                if result.reason
                else None
            ),
            "visit_id": result.visit_id,
            "flag": result.flag,
            "distance_m": result.distance_m,
        }
    ordered = [results[i] for i in range(len(payload.records))]
    return {
        "received_at": received_at,
        "created": sum(1 for r in ordered if r["status"] == "created"),
        "duplicate": sum(1 for r in ordered if r["status"] == "duplicate"),
        "rejected": sum(1 for r in ordered if r["status"] == "rejected"),
        "results": ordered,
    }


def _uuid_of(item: Any) -> str | None:
    value = item.get("client_uuid") if isinstance(item, dict) else None
    try:
        return str(uuid.UUID(str(value))) if value is not None else None
    except ValueError:
        return None


@router.get("/visits", response=responses({200: list[VisitOut]}, 401, 404, 422))
@paginate(AuditedPage, action=AuditEvent.Action.LIST_VISITS, target_type="visit")
def list_visits(request: HttpRequest, filters: Query[VisitFilters]) -> QuerySet[Visit]:
    """Visits in scope, newest first; supervisors use `flagged=true` to review check-ins
    outside the fence or with too inaccurate a fix."""
    return selectors.visits_for(
        caller(request),
        flagged=filters.flagged,
        grid_id=filters.grid,
        household_id=filters.household,
        worker_id=filters.worker,
        since=filters.since,
        until=filters.until,
    )


@router.get("/visits/coverage", response=responses({200: CoverageOut}, 401, 404, 422))
def coverage(request: HttpRequest, query: Query[CoverageQuery]) -> dict[str, Any]:
    """Per grid and per B-post worker: households visited in the current cycle, vulnerable
    households visited on schedule, and the geofence pass rate."""
    return selectors.coverage_for(caller(request), grid_id=query.grid)


@router.get("/visits/{visit_uuid}", response=responses({200: VisitDetail}, 401, 404, 422))
def visit_detail(request: HttpRequest, visit_uuid: uuid.UUID) -> Visit:
    """A visit with its findings and photos (links valid for 5 minutes)."""
    visit = selectors.read_visit(caller(request), visit_uuid, request=request)
    visit.photo_rows = [_photo(p) for p in selectors.photos_of(visit)]  # type: ignore[attr-defined]
    return visit


def _photo(photo: Photo) -> dict[str, Any]:
    where = photo.captured_location
    return {
        "photo_id": photo.pk,
        "client_photo_id": photo.client_photo_id,
        "visit_uuid": photo.subject_uuid,
        "width": photo.width,
        "height": photo.height,
        "source_format": photo.source_format,
        "captured_at": photo.captured_at,
        "gps": {"lat": where.y, "lon": where.x} if where else None,
        "url": signed_url(photo),
        "thumbnail_url": signed_url(photo, "thumbnail"),
    }


PHOTO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "client_photo_id"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "client_photo_id": {"type": "string", "format": "uuid"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/households/{household_id}/visits/{visit_uuid}/photos",
    response=responses({201: PhotoOut, 200: PhotoOut}, 400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=PHOTO_BODY,
)
def upload_photo(request: HttpRequest, household_id: int, visit_uuid: uuid.UUID) -> Status[Any]:
    """A photo of a visit, multipart `file` + `client_photo_id`; before or after the visit's
    record. JPEG, PNG, WebP or HEIC (pillow-heif), at most 15 MB; stored re-encoded without
    metadata. The same client_photo_id again is 200 with the stored photo."""
    user = caller(request)
    scope = actions.check_may_visit(user)
    household = actions.get_visitable_household(scope, household_id)  # 404 before the body
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BYTES + MULTIPART_SLACK:
        raise ApiError("photo_too_large", status=413, fields={"file": "photo_too_large"})
    upload = request.FILES.get("file") if request.content_type == "multipart/form-data" else None
    raw_id = request.POST.get("client_photo_id", "") if upload is not None else ""
    if upload is None:
        raise ApiError("photo_missing", status=422, fields={"file": "field_required"})
    try:
        client_photo_id = uuid.UUID(raw_id)
    except ValueError:
        raise ApiError(
            "validation_error", status=422, fields={"client_photo_id": "field_invalid"}
        ) from None
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ApiError("photo_too_large", status=413, fields={"file": "photo_too_large"})
    photo, created = actions.do_add_visit_photo(
        worker=user,
        household=household,
        visit_uuid=visit_uuid,
        client_photo_id=client_photo_id,
        data=upload.read(),
    )
    return Status(201 if created else 200, _photo(photo))
