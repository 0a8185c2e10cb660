"""The stream socket: one-time tickets, Origin, ordered replay after reconnect, gap repair,
resync, and closing when the session is revoked. Runs over the Redis channel layer."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import WebsocketTicket
from backend.config.asgi import application
from backend.core import stream
from backend.core.models import StreamCursor, StreamEvent
from tests.conftest import ApiClient, World, login

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_layer_is_redis_pubsub() -> None:
    assert (
        settings.CHANNEL_LAYERS["default"]["BACKEND"]
        == "realtime.layers.ResumingPubSubChannelLayer"
    )


class Phone:
    """A worker's phone: logs in, asks for tickets, opens sockets."""

    def __init__(self, phone: str) -> None:
        self.tokens = login(phone)
        self.api = ApiClient(self.tokens["access_token"])

    def ticket(self) -> str:
        response = self.api.post("/api/v1/realtime/ticket")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["expires_in"] == 30
        return str(body["ticket"])


async def connect(
    query: str, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[Any, bool, Any]:
    communicator = WebsocketCommunicator(
        application, f"/ws/v1/stream?{query}", headers=headers or []
    )
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@database_sync_to_async
def emit(user_id: int, n: int, type: str = "test.event") -> None:
    for i in range(n):
        with transaction.atomic():
            stream.record_events(user_ids=[user_id], type=type, data={"n": i})


async def frames(communicator: Any, n: int) -> list[dict[str, Any]]:
    return [await communicator.receive_json_from(timeout=5) for _ in range(n)]


@pytest.fixture
def phone(world: World) -> Phone:
    return Phone(world.worker_a.phone)


async def test_a_ticket_opens_one_socket_once(phone: Phone, world: World) -> None:
    ticket = await database_sync_to_async(phone.ticket)()
    socket, connected, _ = await connect(f"ticket={ticket}")
    assert connected
    assert await socket.receive_json_from(timeout=5) == {"type": "hello", "last_event_id": 0}
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    _, connected_again, code = await connect(f"ticket={ticket}")
    assert not connected_again and code == 4401
    await socket.disconnect()


async def test_expired_tickets_and_tokens_in_urls_are_refused(phone: Phone) -> None:
    ticket = await database_sync_to_async(phone.ticket)()
    await database_sync_to_async(WebsocketTicket.objects.update)(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _, connected, code = await connect(f"ticket={ticket}")
    assert not connected and code == 4401
    _, connected, code = await connect(f"access_token={phone.tokens['access_token']}")
    assert not connected and code == 4401


async def test_a_native_phone_may_send_its_token_as_a_header(phone: Phone) -> None:
    token = phone.tokens["access_token"]
    socket, connected, _ = await connect(
        "", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert connected
    await socket.disconnect()


async def test_a_browser_from_a_foreign_origin_is_refused(phone: Phone) -> None:
    ticket = await database_sync_to_async(phone.ticket)()
    _, connected, _ = await connect(
        f"ticket={ticket}", headers=[(b"origin", b"https://evil.example")]
    )
    assert not connected
    ticket = await database_sync_to_async(phone.ticket)()
    socket, connected, _ = await connect(
        f"ticket={ticket}", headers=[(b"origin", b"http://testserver")]
    )
    assert connected
    await socket.disconnect()


async def test_live_frames_then_exactly_the_missed_ones_after_a_cut(
    phone: Phone, world: World
) -> None:
    uid = world.worker_a.pk
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    assert (await socket.receive_json_from(timeout=5))["type"] == "hello"
    await emit(uid, 2)
    live = await frames(socket, 2)
    assert [f["id"] for f in live] == [1, 2]
    assert set(live[0]) == {"id", "type", "at", "data"}
    assert live[0]["type"] == "test.event" and live[0]["data"] == {"n": 0}
    await socket.disconnect()

    await emit(uid, 50)  # the phone is in a lift
    ticket = await database_sync_to_async(phone.ticket)()
    socket, connected, _ = await connect(f"ticket={ticket}&last_event_id=2")
    assert connected
    missed = await frames(socket, 50)
    assert [f["id"] for f in missed] == list(range(3, 53))
    assert [f["data"]["n"] for f in missed] == list(range(50))
    await emit(uid, 1)
    assert (await socket.receive_json_from(timeout=5))["id"] == 53
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


@database_sync_to_async
def store_without_ringing(user_id: int, n: int) -> None:
    """Events committed while the doorbell was lost (Redis down, a crash): cursor and event in
    one transaction, as record_events writes them (the socket's replay runs on its own
    threads and must never see a cursor ahead of its events)."""
    for i in range(n):
        with transaction.atomic():
            cursor = StreamCursor.objects.select_for_update().get(user_id=user_id)
            seq = cursor.last_seq + 1
            StreamCursor.objects.filter(user_id=user_id).update(last_seq=seq)
            StreamEvent.objects.create(user_id=user_id, seq=seq, type="lost", data={"i": i})


async def test_a_lost_doorbell_is_repaired_from_the_store(phone: Phone, world: World) -> None:
    uid = world.worker_a.pk
    await emit(uid, 1)
    socket, _, _ = await connect(
        f"ticket={await database_sync_to_async(phone.ticket)()}&last_event_id=1"
    )
    await store_without_ringing(uid, 2)  # events 2 and 3 never rang
    await emit(uid, 1)  # event 4 rings; the socket must fetch 2 and 3 first
    got = await frames(socket, 3)
    assert [f.get("id") for f in got] == [2, 3, 4], got
    # The relay rings for what was never published; the socket drops what it already sent.
    relayed = await database_sync_to_async(stream.relay_unpublished)(older_than=timedelta(0))
    assert relayed == 2
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_too_far_behind_or_ahead_means_resync(phone: Phone, world: World) -> None:
    uid = world.worker_a.pk
    await emit(uid, 3)
    await database_sync_to_async(StreamEvent.objects.filter(seq__lte=2).delete)()  # retention
    socket, _, _ = await connect(
        f"ticket={await database_sync_to_async(phone.ticket)()}&last_event_id=0"
    )
    assert await socket.receive_json_from(timeout=5) == {
        "type": "resync_required",
        "last_event_id": 3,
    }
    await emit(uid, 1)
    assert (await socket.receive_json_from(timeout=5))["id"] == 4
    await socket.disconnect()
    socket, _, _ = await connect(
        f"ticket={await database_sync_to_async(phone.ticket)()}&last_event_id=99"
    )
    assert (await socket.receive_json_from(timeout=5))["type"] == "resync_required"
    await socket.disconnect()


async def test_logout_closes_the_sessions_sockets_within_a_second(phone: Phone) -> None:
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)
    started = asyncio.get_running_loop().time()
    response = await database_sync_to_async(phone.api.post)("/api/v1/auth/logout")
    assert response.status_code == 204
    closed = await socket.receive_output(timeout=1)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert asyncio.get_running_loop().time() - started < 1


async def test_position_over_the_socket(phone: Phone, world: World) -> None:
    from backend.accounts.models import WorkerPosition

    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "position", "lat": 30.93, "lon": 117.81, "accuracy_m": 5})
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    position = await database_sync_to_async(WorkerPosition.objects.get)(user_id=world.worker_a.pk)
    assert (round(position.location.x, 2), round(position.location.y, 2)) == (117.81, 30.93)
    await socket.disconnect()


async def test_layer_group_send_reaches_only_that_user(phone: Phone, world: World) -> None:
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)
    await emit(world.worker_b.pk, 1)
    assert await socket.receive_nothing(timeout=0.3)
    layer = get_channel_layer()
    assert layer is not None
    await socket.disconnect()


async def test_deactivating_a_user_closes_their_sockets(phone: Phone, world: World) -> None:
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)

    def deactivate() -> None:
        world.worker_a.is_active = False
        world.worker_a.save()

    await database_sync_to_async(deactivate)()
    assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}


async def test_an_urgent_frame_the_phone_acknowledges_needs_no_push(
    phone: Phone, world: World
) -> None:
    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)

    @database_sync_to_async
    def urgent() -> None:
        with transaction.atomic():
            stream.record_events(
                user_ids=[world.worker_a.pk], type="alert.raised", data={}, urgent=True
            )

    await urgent()
    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "alert.raised"

    @database_sync_to_async
    def delivered() -> bool:
        return StreamEvent.objects.filter(urgent=True, delivered_at__isnull=False).exists()

    await asyncio.sleep(0.2)
    assert not await delivered()  # sent is not seen: only the phone's ack counts
    await socket.send_json_to({"type": "ack", "last_event_id": frame["id"] + 5})  # ignored
    await socket.send_json_to({"type": "ack", "last_event_id": frame["id"]})

    for _ in range(50):
        if await delivered():
            break
        await asyncio.sleep(0.05)
    assert await delivered()
    await socket.disconnect()


async def test_a_position_in_gcj02_is_stored_in_wgs84(phone: Phone, world: World) -> None:
    from backend.accounts.models import WorkerPosition

    socket, _, _ = await connect(f"ticket={await database_sync_to_async(phone.ticket)()}")
    await socket.receive_json_from(timeout=5)
    # GCJ-02 of Beijing's published reference point (WGS-84 39.911954, 116.377817)
    gcj = {"lat": 39.91334545536069, "lon": 116.38404722455657, "datum": "gcj02"}
    await socket.send_json_to({"type": "position", **gcj, "accuracy_m": 5})
    await socket.send_json_to({"type": "position", "lat": 30.9, "lon": 117.8, "datum": "tokyo"})
    assert await socket.receive_json_from(timeout=5) == {
        "type": "error",
        "code": "validation_error",
    }
    position = await database_sync_to_async(WorkerPosition.objects.get)(user_id=world.worker_a.pk)
    assert (round(position.location.y, 5), round(position.location.x, 5)) == (39.91195, 116.37782)
    await socket.disconnect()
