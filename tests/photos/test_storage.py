"""Stored photos: idempotent uploads, short-lived signed links, nosniff, no metadata served."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from backend.photos import actions
from backend.photos.models import Photo
from tests.conftest import World
from tests.photos.test_pipeline import jpeg_with_exif

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def store(world: World, client_photo_id: uuid.UUID | None = None) -> tuple[Photo, bool]:
    return actions.do_store_photo(
        data=jpeg_with_exif((1200, 900)),
        household=world.household_a,
        subject_kind="visit",
        subject_uuid=uuid.uuid4(),
        uploaded_by=world.worker_a,
        client_photo_id=client_photo_id or uuid.uuid4(),
    )


def test_the_same_upload_twice_is_stored_once(world: World, media_root: Path) -> None:
    key = uuid.uuid4()
    first, created = store(world, key)
    again, created_again = store(world, key)
    assert created and not created_again and first.pk == again.pk
    assert Photo.objects.count() == 1
    assert len([p for p in media_root.rglob("*.jpg")]) == 2  # display + thumbnail
    assert first.captured_location is not None
    assert round(first.captured_location.y, 2) == 30.93


def test_signed_link_serves_the_stripped_copy_with_nosniff(world: World) -> None:
    photo, _ = store(world)
    response = Client().get(actions.signed_url(photo))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    body = response.getvalue()
    assert body[:2] == b"\xff\xd8" and b"TestPhone" not in body and b"Exif" not in body
    thumb = Client().get(actions.signed_url(photo, "thumbnail"))
    assert thumb.status_code == 200


def test_tampered_and_expired_links_are_404(world: World) -> None:
    photo, _ = store(world)
    url = actions.signed_url(photo)
    assert Client().get(url[:-3] + "xyz").status_code == 404
    other = signing.TimestampSigner(salt="gridline.photos.link").sign(f"{uuid.uuid4()}:display")
    assert Client().get(f"/photos/{other}").status_code == 404
    # A link signed six minutes ago (the lifetime is five).
    old = signing.b62_encode(int(time.time()) - 360)
    stale = signing.Signer(salt="gridline.photos.link").sign(f"{photo.pk}:display:{old}")
    assert (
        Client()
        .get(
            f"/photos/{signing.Signer(salt='gridline.photos.link').sign(f'{photo.pk}:display:{signing.b62_encode(int(time.time()))}')}"
        )
        .status_code
        == 200
    )
    expired = Client().get(f"/photos/{stale}")
    assert expired.status_code == 404
    assert expired.json()["error"]["code"] == "not_found"
