"""Service desk: the catalog, intake anywhere, the queues, the workflow, documents, comments,
ratings. Every case operation answers 404 for a case out of the caller's scope."""

from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from backend.accounts.models import Role
from backend.audit.models import AuditEvent
from backend.core.api_errors import responses
from backend.core.errors import ApiError
from backend.core.ratelimit import check_rate
from backend.core.text import Text
from backend.servicedesk import actions, selectors
from backend.servicedesk.models import Case, CaseDocument, CaseState, CaseStep, ServiceItem
from mobile_api.pagination import AuditedKeysFirst
from mobile_api.security import caller

from .schemas import (
    CaseCreatedOut,
    CaseDetail,
    CaseIn,
    CaseRowOut,
    CommentIn,
    CommentOut,
    DecisionIn,
    DeliverIn,
    DocumentForm,
    DocumentOut,
    MaterialIn,
    RatingIn,
    RatingOut,
    ReassignIn,
    RejectIn,
    ServiceItemOut,
    StepIn,
)

router = Router(tags=["service desk"])


@router.get("/service-items", response=responses({200: list[ServiceItemOut]}, 401))
def service_items(request: HttpRequest) -> QuerySet[ServiceItem]:
    """The catalog in force for the caller's district (items without a district apply
    everywhere)."""
    user = caller(request)
    district_id = user.district_id or (user.community.district_id if user.community else None)
    return selectors.catalog(district_id=district_id)


@router.post(
    "/cases",
    response=responses({201: CaseCreatedOut, 200: CaseCreatedOut}, 400, 401, 403, 404, 422, 429),
)
def file_case(request: HttpRequest, payload: CaseIn) -> Status[dict[str, Any]]:
    """Intake anywhere: front desk, service point, doorstep, phone, or the resident app. A
    proxy case starts as a draft (consent + documents, then submit); others are submitted at
    once. A retry with the same client_case_id gets the same answer and files nothing.
    At most RATE_LIMITS["cases"] per account (429 with Retry-After)."""
    check_rate(request, group="cases", key=f"user:{caller(request).pk}")
    filed = actions.do_intake(
        user=caller(request),
        item_code=payload.item_code,
        channel=payload.channel,
        resident_id=payload.resident_id,
        proxy=payload.proxy,
        description=payload.description,
        fix=payload.location.fix() if payload.location else None,
        client_case_id=payload.client_case_id,
        request=payload.model_dump(mode="json"),
    )
    return Status(filed.status, filed.answer)


class CaseFilters(Schema):
    view: Literal["queue", "filed", "grids", "all"] = Field(
        "all",
        description="queue: open cases in my queues, soonest due first; filed: cases I filed; "
        "grids: cases of my B-post grids; all: everything I may see",
    )
    state: CaseState | None = None
    overdue: bool | None = None
    q: Text | None = Field(None, max_length=40, description="a case number or part of an address")


@router.get("/cases", response=responses({200: list[CaseRowOut]}, 401, 422, 429))
@paginate(
    AuditedKeysFirst,
    rows=selectors.case_rows,
    action=AuditEvent.Action.LIST_CASES,
    target_type="case",
)
def list_cases(request: HttpRequest, filters: Query[CaseFilters]) -> QuerySet[Case]:
    if filters.q:
        check_rate(request, group="search", key=f"user:{caller(request).pk}")
    return selectors.cases_for(
        caller(request),
        view=filters.view,
        state=filters.state,
        overdue=filters.overdue,
        q=filters.q,
    )


@router.get("/cases/{case_id}", response=responses({200: CaseDetail}, 401, 404, 422))
def case_detail(request: HttpRequest, case_id: int) -> Case:
    return selectors.read_case(caller(request), case_id, request=request)


def _step(request: HttpRequest, case_id: int, action: str, payload: Any, **extra: Any) -> Case:
    return actions.do_transition(
        user=caller(request),
        case_id=case_id,
        action=action,
        fix=payload.location.fix() if payload and payload.location else None,
        note=payload.note if payload else "",
        **extra,
    )


_STEP = responses({200: CaseDetail}, 400, 401, 403, 404, 409, 422)


@router.post("/cases/{case_id}/submit", response=_STEP)
def submit(request: HttpRequest, case_id: int, payload: StepIn | None = None) -> Case:
    """Send a draft (proxy) case to the back office; needs the resident's consent."""
    return _step(request, case_id, "submit", payload)


@router.post("/cases/{case_id}/accept", response=_STEP)
def accept(request: HttpRequest, case_id: int, payload: StepIn | None = None) -> Case:
    return _step(request, case_id, "accept", payload)


@router.post("/cases/{case_id}/request-material", response=_STEP)
def request_material(request: HttpRequest, case_id: int, payload: MaterialIn) -> Case:
    """Back to the worker with the list of what is missing; the SLA clock pauses."""
    return _step(request, case_id, "request_material", payload, materials=payload.materials)


@router.post("/cases/{case_id}/supply-material", response=_STEP)
def supply_material(request: HttpRequest, case_id: int, payload: StepIn | None = None) -> Case:
    """The material is in (attach it as documents first); the SLA clock resumes."""
    return _step(request, case_id, "supply_material", payload)


@router.post("/cases/{case_id}/start", response=_STEP)
def start(request: HttpRequest, case_id: int, payload: StepIn | None = None) -> Case:
    return _step(request, case_id, "start", payload)


@router.post("/cases/{case_id}/approve", response=_STEP)
def approve(request: HttpRequest, case_id: int, payload: DecisionIn | None = None) -> Case:
    return _step(request, case_id, "approve", payload, reason=payload.reason if payload else "")


@router.post("/cases/{case_id}/reject", response=_STEP)
def reject(request: HttpRequest, case_id: int, payload: RejectIn) -> Case:
    return _step(request, case_id, "reject", payload, reason=payload.reason)


@router.post("/cases/{case_id}/reassign", response=_STEP)
def reassign(request: HttpRequest, case_id: int, payload: ReassignIn) -> Case:
    """ "Not ours" must say whose: a business line of the community or a district department."""
    return _step(
        request,
        case_id,
        "reassign",
        payload,
        reason=payload.reason,
        target_line=payload.target_line or "",
        target_department_id=payload.target_department_id,
    )


@router.post("/cases/{case_id}/deliver", response=_STEP)
def deliver(request: HttpRequest, case_id: int, payload: DeliverIn | None = None) -> Case:
    """The result reached the resident. In person at the door when the item requires it: the
    location must be within 50 m of the household (plus the reported accuracy, up to 100 m)."""
    method = payload.method if payload and payload.method else ""
    return _step(request, case_id, "deliver", payload, delivery_method=method)


@router.post("/cases/{case_id}/close", response=_STEP)
def close(request: HttpRequest, case_id: int, payload: StepIn | None = None) -> Case:
    """Close a delivered case; the resident is asked to rate it."""
    return _step(request, case_id, "close", payload)


@router.post("/cases/{case_id}/consent", response=_STEP)
def consent(request: HttpRequest, case_id: int) -> Case:
    """The resident (their own account) confirms the worker may file this case for them."""
    return actions.do_confirm_consent(user=caller(request), case_id=case_id)


@router.post(
    "/cases/{case_id}/rating", response=responses({201: RatingOut}, 400, 401, 403, 404, 409, 422)
)
def rate(request: HttpRequest, case_id: int, payload: RatingIn) -> Status[Any]:
    """Satisfaction (回访) after close: the resident in the app, or a worker on a visit."""
    rating = actions.do_rate(
        user=caller(request), case_id=case_id, score=payload.score, comment=payload.comment
    )
    return Status(201, rating)


@router.get(
    "/cases/{case_id}/comments", response=responses({200: list[CommentOut]}, 401, 403, 404, 422)
)
def comments(request: HttpRequest, case_id: int) -> QuerySet[CaseStep]:
    """Staff notes (not shown to residents)."""
    case = selectors.get_case(caller(request), case_id)
    if caller(request).role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    selectors.record_case_read(caller(request), case, request=request)
    return case.steps.filter(kind="comment").order_by("at", "id")


@router.post(
    "/cases/{case_id}/comments", response=responses({201: CommentOut}, 400, 401, 403, 404, 422)
)
def add_comment(request: HttpRequest, case_id: int, payload: CommentIn) -> Status[Any]:
    step = actions.do_comment(
        user=caller(request),
        case_id=case_id,
        text=payload.text,
        fix=payload.location.fix() if payload.location else None,
    )
    return Status(201, step)


@router.get(
    "/cases/{case_id}/documents", response=responses({200: list[DocumentOut]}, 401, 404, 422)
)
def documents(request: HttpRequest, case_id: int) -> QuerySet[CaseDocument]:
    """Photos of the case with links valid for 5 minutes."""
    case = selectors.read_case(caller(request), case_id, request=request)
    return case.documents.select_related("photo").order_by("added_at", "id")


_UPLOAD = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "client_photo_id", "kind"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "client_photo_id": {"type": "string", "format": "uuid"},
                        "kind": {
                            "type": "string",
                            "enum": ["consent", "material", "result", "delivery"],
                        },
                        "label": {"type": "string", "maxLength": 100},
                    },
                }
            }
        },
        "required": True,
    }
}


@router.post(
    "/cases/{case_id}/documents",
    response=responses(
        {201: DocumentOut, 200: DocumentOut}, 400, 401, 403, 404, 409, 413, 415, 422
    ),
    openapi_extra=_UPLOAD,
)
def add_document(request: HttpRequest, case_id: int) -> Status[Any]:
    """A photo of a document (multipart: file, client_photo_id, kind, label). kind=consent
    records the resident's signed consent for a proxy case. The same client_photo_id again
    gets the same answer (200)."""
    user = caller(request)
    selectors.get_case(user, case_id)  # scope first: 404 before anything about the body
    upload = request.FILES.get("file")
    try:
        form = DocumentForm.model_validate(request.POST.dict())
    except PydanticValidationError as exc:
        fields = {
            ".".join(str(p) for p in e["loc"]) or "body": "field_invalid" for e in exc.errors()
        }
        raise ApiError("validation_error", status=422, fields=fields) from exc
    if upload is None:
        raise ApiError("validation_error", status=422, fields={"file": "field_required"})
    if upload.size and upload.size > 15 * 1024 * 1024:
        raise ApiError("photo_too_large", status=413, fields={"file": "photo_too_large"})
    document, created = actions.do_add_document(
        user=user,
        case_id=case_id,
        data=upload.read(),
        client_photo_id=form.client_photo_id,
        kind=form.kind,
        label=form.label,
    )
    return Status(201 if created else 200, document)
