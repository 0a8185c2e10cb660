"""Visit photos: stored through the shared pipeline before or after the visit's record."""

from __future__ import annotations

import uuid

from backend.accounts.models import User
from backend.core.errors import ApiError, NotFound
from backend.photos.actions import do_store_photo
from backend.photos.models import Photo
from backend.territory.models import Household
from backend.visits.models import Visit

from .checkin import check_may_visit

MAX_PHOTOS_PER_VISIT = 20
PHOTO_SUBJECT = "visit"


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
