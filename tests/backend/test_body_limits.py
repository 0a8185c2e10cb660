"""Too big is 413: every kind of endpoint refuses a body over its limit with the JSON error,
before Django reads more than the limit, and nothing changes.

The requests go through the ASGI application uvicorn serves (backend/config/asgi.py), driven
by a `receive` that counts the body bytes the application took from the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.test import Client

from backend.alerts.devices import do_register_device
from backend.alerts.models import Alert
from backend.alerts.signing import signed_headers
from backend.config.asgi import application
from backend.core.bodylimit import limit_for
from backend.photos import pipeline
from backend.photos.models import Photo
from backend.servicedesk.models import Case
from tests.conftest import World, login
from tests.photos.test_pipeline import jpeg_with_exif

pytestmark = pytest.mark.django_db

KIB = 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    taken: int  # body bytes the application took from the connection
    chunks_taken: int

    def json(self) -> Any:
        return json.loads(self.body)


@contextlib.contextmanager
def _same_connection() -> Iterator[None]:
    """Django's test client does the same: a request must not close the test's connection
    (and its transaction) when it starts or finishes."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def call(
    path: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    chunk: int | None = None,
    declare_length: bool = True,
    send_body: bool = True,
) -> Answer:
    """POST `body` to the ASGI application: with its Content-Length, or (declare_length=False)
    without one, in `chunk`-sized pieces as a chunked upload arrives. send_body=False declares
    the length but never offers the bytes (a client waiting to be refused)."""
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if declare_length:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *raw_headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    taken = chunks_taken = 0
    started: dict[str, Any] = {}
    sent: list[bytes] = []

    async def run() -> None:
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal taken, chunks_taken
            if send_body and chunks_taken < len(pieces):
                piece = pieces[chunks_taken]
                chunks_taken += 1
                taken += len(piece)
                more = chunks_taken < len(pieces)
                return {"type": "http.request", "body": piece, "more_body": more}
            await done.wait()  # the client stays until it has its answer
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await asyncio.wait_for(application(scope, receive, send), timeout=20)

    with _same_connection():
        async_to_sync(run)()
    response_headers = {k.decode(): v.decode() for k, v in started.get("headers", [])}
    return Answer(started["status"], response_headers, b"".join(sent), taken, chunks_taken)


def assert_too_big(answer: Answer, *, english: bool = False) -> None:
    assert answer.status == 413, answer.body[:300]
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == "payload_too_large"
    expected = "larger than this endpoint accepts" if english else "请求体超过"
    assert expected in error["message"], error
    assert error["fields"] == {}


def padded_json(size: int, **fields: Any) -> bytes:
    return json.dumps({**fields, "description": "x" * size}).encode()


# -- the mobile API (JSON) ---------------------------------------------------------------------


def test_a_json_body_over_64_kib_is_413_declared_or_chunked_and_files_no_case(
    world: World,
) -> None:
    token = login(world.worker_a.phone)["access_token"]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = padded_json(
        80 * KIB,
        client_case_id=str(uuid.uuid4()),
        item_code="t-allowance",
        resident_id=world.resident_a.pk,
        channel="front_desk",
    )
    declared = call("/api/v1/cases", body, headers=headers)
    assert_too_big(declared)
    assert declared.taken == 0  # refused on its Content-Length, before a byte of the body
    chunked = call(
        "/api/v1/cases",
        body,
        headers={**headers, "accept-language": "en"},
        chunk=4 * KIB,
        declare_length=False,
    )
    assert_too_big(chunked, english=True)
    assert Case.objects.count() == 0


def test_no_more_than_the_limit_is_read_from_a_chunked_body(world: World) -> None:
    limit = limit_for("/api/v1/cases")
    chunk = 4 * KIB
    answer = call(
        "/api/v1/cases",
        b"x" * (4 * 1024 * KIB),  # 4 MiB offered, 1,024 chunks
        headers={"content-type": "application/json"},
        chunk=chunk,
        declare_length=False,
    )
    assert_too_big(answer)
    # Reading stops at the chunk that crosses the limit: 17 of the 1,024 chunks (16 within the
    # limit, then the one that crosses it, which is not handed to Django).
    assert answer.chunks_taken == limit // chunk + 1
    assert answer.taken <= limit + chunk


@pytest.mark.django_db(transaction=True)  # the device press is answered in a worker thread
def test_a_body_within_the_limit_passes_through_the_same_way(world: World) -> None:
    device, secret = do_register_device(
        device_id="PENDANT-L", kind="pendant", resident=world.resident_a
    )
    for chunked in (False, True):
        body = json.dumps({"client_alert_id": str(uuid.uuid4()), "kind": "emergency"}).encode()
        headers = signed_headers(
            secret, device.device_id, body, path="/api/v1/device/alerts", nonce=uuid.uuid4().hex
        )
        answer = call(
            "/api/v1/device/alerts",
            body,
            headers={**headers, "content-type": "application/json"},
            chunk=16 if chunked else None,
            declare_length=not chunked,
        )
        assert answer.status == 201, answer.body
    # Both were read whole and pressed: the second joined the first (the resident's open alert).
    (alert,) = Alert.objects.all()
    assert alert.presses == 2


# -- devices, Open311, the board -------------------------------------------------------------


def test_a_signed_device_body_over_8_kib_is_413_and_raises_nothing(world: World) -> None:
    device, secret = do_register_device(
        device_id="PENDANT-B", kind="pendant", resident=world.resident_a
    )
    body = padded_json(9 * KIB, client_alert_id=str(uuid.uuid4()), kind="emergency")
    headers = signed_headers(
        secret, device.device_id, body, path="/api/v1/device/alerts", nonce=uuid.uuid4().hex
    )
    answer = call("/api/v1/device/alerts", body, headers={**headers, "accept-language": "en"})
    assert_too_big(answer, english=True)
    assert Alert.objects.count() == 0


def test_an_open311_request_over_64_kib_is_413_and_files_no_case(world: World) -> None:
    form = urlencode(
        {"api_key": "k", "service_code": "t-allowance", "lat": "30.92", "long": "117.80"}
        | {"description": "高龄津贴" * 10_000}
    ).encode()
    answer = call(
        "/open311/v2/requests.json",
        form,
        headers={"content-type": "application/x-www-form-urlencoded"},
        chunk=8 * KIB,
        declare_length=False,
    )
    assert_too_big(answer)
    assert Case.objects.count() == 0


def test_a_board_body_over_64_kib_is_413(world: World) -> None:
    answer = call(
        "/board/api/alerts/1/notes",
        padded_json(70 * KIB),
        headers={"content-type": "application/json"},
    )
    assert_too_big(answer)


# -- photo uploads -----------------------------------------------------------------------------


def _multipart(data: bytes, client_photo_id: uuid.UUID) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="client_photo_id"\r\n\r\n'
        f"{client_photo_id}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_photo_over_15_mb_is_413_and_stores_nothing(
    world: World, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    token = login(world.worker_a.phone)["access_token"]
    path = f"/api/v1/households/{world.household_a.pk}/visits/{uuid.uuid4()}/photos"
    small, content_type = _multipart(jpeg_with_exif((640, 480)), uuid.uuid4())
    headers = {"authorization": f"Bearer {token}", "content-type": content_type}
    assert call(path, small, headers=headers, chunk=64 * KIB).status == 201

    # Over the photo pipeline's 15 MB by more than the multipart envelope's allowance.
    big, content_type = _multipart(b"\xff\xd8\xff\xe0" + b"\0" * limit_for(path), uuid.uuid4())
    headers["content-type"] = content_type
    declared = call(path, big, headers=headers, send_body=False)
    assert_too_big(declared)
    assert declared.taken == 0
    chunked = call(path, big, headers=headers, chunk=256 * KIB, declare_length=False)
    assert_too_big(chunked)
    assert chunked.taken <= limit_for(path) + 256 * KIB
    assert Photo.objects.count() == 1


# -- the limits themselves -----------------------------------------------------------------


def test_the_limits_agree_with_the_photo_pipeline_and_with_django() -> None:
    photos = limit_for("/api/v1/households/1/visits/x/photos")
    assert photos == limit_for("/api/v1/cases/1/documents")
    assert pipeline.MAX_BYTES < photos <= pipeline.MAX_BYTES + 64 * KIB
    # Django refuses a non-file body over DATA_UPLOAD_MAX_MEMORY_SIZE by itself; it must not
    # be smaller than any limit that lets a non-file body through.
    non_file = [limit_for(p) for p in ("/api/v1/visits/sync", "/api/v1/cases", "/admin/x")]
    assert max(non_file) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_a_visit_sync_batch_of_200_generous_records_fits_its_limit(world: World) -> None:
    record = {
        "client_uuid": str(uuid.uuid4()),
        "household_id": world.household_a.pk,
        "visited_at": "2026-11-28T09:00:00.123+08:00",
        "location": {"lat": 30.925123, "lon": 117.805123, "accuracy_m": 12.5},
        "present": True,
        "checklist": {
            k: {"status": "concern", "note": "行" * 100}
            for k in ("health", "safety", "living", "needs")
        },
        "note": "老人" * 250,
        "findings": [{"category": "health", "description": "血压" * 150, "action": "follow_up"}]
        * 3,
        "photo_ids": [str(uuid.uuid4()) for _ in range(10)],
    }
    batch = json.dumps({"records": [record] * 200}).encode()  # \\u-escaped: the larger form
    assert len(batch) < limit_for("/api/v1/visits/sync")


def test_django_refusing_a_body_itself_is_413_not_500(world: World) -> None:
    token = login(world.worker_a.phone)["access_token"]
    response = Client().post(
        "/api/v1/cases",
        padded_json(settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert Case.objects.count() == 0
