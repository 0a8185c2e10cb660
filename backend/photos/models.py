"""Photos taken as evidence (visits) or as documents (service-desk cases).

Stored through Django's storage API (object storage can replace the file system). Only the
re-encoded copies are stored and served; capture time and GPS from EXIF are kept as fields.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone

from backend.territory.models import Household


def _path(instance: Photo, filename: str) -> str:
    return f"photos/{instance.household_id}/{instance.pk}/{filename}"


class Photo(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_photo_id = models.UUIDField(help_text="the phone's id for this upload (idempotency)")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="photos")
    subject_kind = models.CharField(max_length=30, help_text="e.g. visit, case")
    subject_uuid = models.UUIDField(db_index=True, help_text="the record the photo belongs to")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    display = models.FileField(upload_to=_path)
    thumbnail = models.FileField(upload_to=_path)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    source_format = models.CharField(max_length=10)
    source_bytes = models.PositiveIntegerField()
    captured_at = models.DateTimeField(null=True, blank=True)
    captured_location = models.PointField(srid=4326, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["uploaded_by", "client_photo_id"], name="unique_client_photo"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_kind}:{self.subject_uuid} {self.pk}"
