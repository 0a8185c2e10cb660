"""Additions to a case that leave its state alone: documents (photos through the shared
pipeline), staff comments, the resident's rating."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.alerts.actions import Fix
from backend.core.errors import ApiError
from backend.servicedesk import events, selectors
from backend.servicedesk.models import CaseDocument, CaseRating, CaseState, CaseStep

from .common import locked, record_step, roles

S = CaseState


def do_add_document(
    *,
    user: User,
    case_id: int,
    data: bytes,
    client_photo_id: uuid.UUID,
    kind: str,
    label: str = "",
) -> tuple[CaseDocument, bool]:
    """Attach a photo through the shared pipeline; idempotent per (uploader, client id)."""
    from backend.photos.actions import do_store_photo
    from backend.photos.models import Photo

    case = selectors.get_case(user, case_id)
    if kind not in CaseDocument.Kind.values:
        raise ApiError("validation_error", status=422, fields={"kind": "field_invalid"})
    if not roles(user, case) & {"field", "queue", "resident"}:
        raise ApiError("permission_denied", status=403)
    existing = Photo.objects.filter(uploaded_by=user, client_photo_id=client_photo_id).first()
    if existing is not None:
        document = CaseDocument.objects.filter(photo=existing, case=case).first()
        if document is None:
            raise ApiError(
                "idempotency_mismatch", status=422, fields={"client_photo_id": "field_invalid"}
            )
        return document, False
    if case.state == S.CLOSED or case.household is None:
        raise ApiError("case_wrong_state", status=409)
    photo, _ = do_store_photo(
        data=data,
        household=case.household,
        subject_kind="case",
        subject_uuid=case.uuid,
        uploaded_by=user,
        client_photo_id=client_photo_id,
    )
    with transaction.atomic():
        case = locked(user, case_id)
        document, created = CaseDocument.objects.get_or_create(
            photo=photo, defaults={"case": case, "kind": kind, "label": label, "added_by": user}
        )
        if created:
            now = timezone.now()
            case.updated_at = now
            fields = ["updated_at"]
            if kind == CaseDocument.Kind.CONSENT and not case.consent_kind:
                case.consent_kind, case.consent_at = "photo", now
                fields += ["consent_kind", "consent_at"]
            case.save(update_fields=fields)
            record_step(case, "document", actor=user, data={"kind": kind, "label": label})
    return document, created


def do_comment(*, user: User, case_id: int, text: str, fix: Fix | None = None) -> CaseStep:
    with transaction.atomic():
        case = locked(user, case_id)
        if user.role == Role.RESIDENT:
            raise ApiError("permission_denied", status=403)
        step = record_step(case, "comment", actor=user, fix=fix, note=text)
        events.tell(case, type="case.comment", audience=events.staff(case))
    return step


def do_rate(*, user: User, case_id: int, score: int, comment: str = "") -> CaseRating:
    """The resident rates a closed case in the app, or a worker records it on a visit. Once."""
    if not 1 <= score <= 5:
        raise ApiError("validation_error", status=422, fields={"score": "field_out_of_range"})
    with transaction.atomic():
        case = locked(user, case_id)
        if case.state != S.CLOSED:
            raise ApiError("case_wrong_state", status=409)
        acting = roles(user, case)
        if "resident" in acting:
            via = CaseRating.Via.APP
        elif "field" in acting:
            via = CaseRating.Via.VISIT
        else:
            raise ApiError("permission_denied", status=403)
        if CaseRating.objects.filter(case=case).exists():
            raise ApiError("case_already_rated", status=409)
        rating = CaseRating.objects.create(
            case=case, score=score, comment=comment, via=via, recorded_by=user, at=timezone.now()
        )
        record_step(case, "rated", actor=user, data={"score": score, "via": via})
        events.tell(case)
    return rating
