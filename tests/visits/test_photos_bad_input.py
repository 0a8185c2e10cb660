"""Bad photos get a 4xx with a clear code within 2 s, and nothing is stored."""

from __future__ import annotations

import io
import struct
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

from backend.photos.models import Photo
from tests.conftest import World
from tests.photos.test_pipeline import jpeg_with_exif
from tests.visits.conftest import upload

pytestmark = pytest.mark.django_db


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(side: int = 40_000) -> bytes:
    """A valid PNG header claiming side × side pixels (1.6 gigapixels), a few bytes long."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("truncated.jpg", lambda: jpeg_with_exif((1600, 1200))[:4000], 415, "photo_unreadable"),
        ("bomb.png", huge_png, 422, "photo_decompression_bomb"),
        ("drawing.svg", lambda: SVG, 415, "photo_unreadable"),
        ("page.jpg", lambda: HTML, 415, "photo_unreadable"),
        (
            "big.jpg",
            lambda: b"\xff\xd8\xff\xe0" + b"\0" * (50 * 1024 * 1024),
            413,
            "photo_too_large",
        ),
    ],
)
def test_bad_photos_are_refused_quickly_and_store_nothing(
    world: World, client_for: Any, media_root: Path, name: str, make: Any, status: int, code: str
) -> None:
    client = client_for(world.worker_a)
    data = make()
    started = time.monotonic()
    response = upload(client, world.household_a.pk, uuid.uuid4(), data, name=name)
    elapsed = time.monotonic() - started
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code and body["message"]
    assert elapsed < 2.0, elapsed
    assert Photo.objects.count() == 0
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_english_messages_and_missing_file(world: World, client_for: Any) -> None:
    client = client_for(world.worker_a)
    response = client.post(
        f"/api/v1/households/{world.household_a.pk}/visits/{uuid.uuid4()}/photos",
        {},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "photo_missing"
    svg = upload(client, world.household_a.pk, uuid.uuid4(), SVG, name="x.svg")
    assert svg.json()["error"]["message"]


def test_photos_are_scoped_and_belong_to_their_visit(world: World, client_for: Any) -> None:
    a, b = client_for(world.worker_a), client_for(world.worker_b)
    photo = jpeg_with_exif((640, 480))
    visit_uuid = uuid.uuid4()
    # Out-of-scope household: 404 before the body is read.
    assert upload(a, world.household_b.pk, visit_uuid, photo).status_code == 404
    assert upload(a, world.household_a.pk, visit_uuid, photo).status_code == 201
    # Worker B cannot attach photos to worker A's visit uuid in B's own household either.
    resident_account = client_for(world.resident_user_a)
    assert upload(resident_account, world.household_a.pk, visit_uuid, photo).status_code == 403
    same_id = uuid.uuid4()
    assert (
        upload(a, world.household_a.pk, visit_uuid, photo, client_photo_id=same_id).status_code
        == 201
    )
    retry = upload(a, world.household_a.pk, visit_uuid, photo, client_photo_id=same_id)
    assert retry.status_code == 200
    assert Photo.objects.count() == 2
    assert (
        upload(b, world.household_b.pk, uuid.uuid4(), io.BytesIO(photo).getvalue()).status_code
        == 201
    )
