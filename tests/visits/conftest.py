"""Visit fixtures: media in a tmp dir, phone-made records and photos."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test.client import MULTIPART_CONTENT
from django.utils import timezone

from tests.conftest import ApiClient


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def record(
    household_id: int,
    *,
    client_uuid: uuid.UUID | None = None,
    at: datetime | None = None,
    lat: float | None = 30.925,
    lon: float | None = 117.805,
    accuracy_m: float = 10,
    present: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_uuid": str(client_uuid or uuid.uuid4()),
        "household_id": household_id,
        "visited_at": (at or timezone.now()).isoformat(),
        "present": present,
        **extra,
    }
    if lat is not None and lon is not None:
        body["location"] = {"lat": lat, "lon": lon, "accuracy_m": accuracy_m}
    return body


def upload(
    client: ApiClient,
    household_id: int,
    visit_uuid: Any,
    data: bytes,
    *,
    name: str = "photo.jpg",
    client_photo_id: uuid.UUID | None = None,
) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/households/{household_id}/visits/{visit_uuid}/photos",
        {
            "file": SimpleUploadedFile(name, data, "image/jpeg"),
            "client_photo_id": str(client_photo_id or uuid.uuid4()),
        },
        content_type=MULTIPART_CONTENT,
    )
