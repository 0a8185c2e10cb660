"""Storing photos and handing out short-lived links to them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib.gis.geos import Point
from django.core import signing
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from backend.accounts.models import User
from backend.core.errors import NotFound
from backend.territory.models import Household

from . import pipeline
from .models import Photo

LINK_LIFETIME = timedelta(minutes=5)
_SALT = "gridline.photos.link"
VARIANTS = ("display", "thumbnail")


def do_store_photo(
    *,
    data: bytes,
    household: Household,
    subject_kind: str,
    subject_uuid: uuid.UUID,
    uploaded_by: User,
    client_photo_id: uuid.UUID,
) -> tuple[Photo, bool]:
    """Process and store a photo once per (uploader, client id); returns (photo, created).

    The caller has already checked that `uploaded_by` may see `household`.
    """
    existing = Photo.objects.filter(
        uploaded_by=uploaded_by, client_photo_id=client_photo_id
    ).first()
    if existing is not None:
        return existing, False
    processed = pipeline.process(data)  # raises ApiError before anything is written
    photo = Photo(
        client_photo_id=client_photo_id,
        household=household,
        subject_kind=subject_kind,
        subject_uuid=subject_uuid,
        uploaded_by=uploaded_by,
        width=processed.width,
        height=processed.height,
        source_format=processed.source_format,
        source_bytes=len(data),
        captured_at=processed.captured_at,
        captured_location=(
            Point(processed.gps[1], processed.gps[0], srid=4326) if processed.gps else None
        ),
    )
    try:
        with transaction.atomic():
            photo.display.save("display.jpg", ContentFile(processed.display), save=False)
            photo.thumbnail.save("thumb.jpg", ContentFile(processed.thumbnail), save=False)
            photo.save()
    except IntegrityError:
        photo.display.delete(save=False)
        photo.thumbnail.delete(save=False)
        return Photo.objects.get(uploaded_by=uploaded_by, client_photo_id=client_photo_id), False
    return photo, True


def signed_url(photo: Photo, variant: str = "display") -> str:
    """A link that works for LINK_LIFETIME; issue it only to someone who may see the household."""
    token = signing.TimestampSigner(salt=_SALT).sign(f"{photo.pk}:{variant}")
    return reverse("photo", kwargs={"token": token})


def photo_for_link(token: str) -> tuple[Photo, str]:
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=LINK_LIFETIME)
        photo_id, variant = value.split(":")
        if variant not in VARIANTS:
            raise ValueError(variant)
        return Photo.objects.get(pk=uuid.UUID(photo_id)), variant
    except (signing.BadSignature, ValueError, Photo.DoesNotExist) as exc:
        raise NotFound() from exc
