"""A position over the socket is validated like the HTTP one (issue 11): out of range, NaN
or a string is an error frame and stores nothing; the socket lives on; a resident's account
has no position to send."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from backend.accounts.models import WorkerPosition
from tests.conftest import World
from tests.realtime.test_stream_socket import Phone, connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "position", "lat": 1000, "lon": 117.8}',
        '{"type": "position", "lat": NaN, "lon": 117.8}',
        '{"type": "position", "lat": 30.9, "lon": Infinity}',
        '{"type": "position", "lat": "30.9", "lon": "117.8"}',
        '{"type": "position", "lat": true, "lon": 117.8}',
        '{"type": "position", "lat": 30.9, "lon": 117.8, "accuracy_m": NaN}',
        '{"type": "position", "lat": 30.9, "lon": 117.8, "accuracy_m": "near"}',
        '{"type": "position", "lat": 30.9, "lon": 117.8, "accuracy_m": -5}',
    ],
)
async def test_a_bad_position_is_an_error_frame_and_stores_nothing(
    worker_phone: Phone, frame: str
) -> None:
    phone = worker_phone
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)
    await socket.send_to(text_data=frame)
    assert await socket.receive_json_from(timeout=5) == {
        "type": "error",
        "code": "validation_error",
    }
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    count = await database_sync_to_async(WorkerPosition.objects.count)()
    assert count == 0
    await socket.disconnect()


@pytest.fixture
def worker_phone(world: World) -> Phone:
    return Phone(world.worker_a.phone)


@pytest.fixture
def resident_phone(world: World) -> Phone:
    return Phone(world.resident_user_a.phone)


async def test_a_resident_sends_no_position(resident_phone: Phone) -> None:
    phone = resident_phone
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "position", "lat": 30.9, "lon": 117.8})
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    count = await database_sync_to_async(WorkerPosition.objects.count)()
    assert count == 0
    await socket.disconnect()
