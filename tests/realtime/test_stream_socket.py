"""The stream socket authenticates with the mobile access token, over the Redis layer."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from backend.config.asgi import application
from realtime.consumers import user_group
from tests.conftest import World, login

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_layer_is_redis() -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


async def _connect(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.fixture
def token(world: World) -> str:
    return str(login(world.worker_a.phone)["access_token"])


async def test_token_in_query_connects_and_receives_group_events(world: World, token: str) -> None:
    communicator, connected, _ = await _connect(f"/ws/v1/stream?access_token={token}")
    assert connected
    assert await communicator.receive_json_from(timeout=5) == {
        "type": "hello",
        "user_id": world.worker_a.pk,
    }
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    layer = get_channel_layer()
    await layer.group_send(
        user_group(world.worker_a.pk), {"type": "stream.event", "event": {"type": "test", "n": 1}}
    )
    assert await communicator.receive_json_from(timeout=5) == {"type": "test", "n": 1}
    await communicator.disconnect()


async def test_bearer_header_connects(token: str) -> None:
    communicator, connected, _ = await _connect(
        "/ws/v1/stream", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize("path", ["/ws/v1/stream", "/ws/v1/stream?access_token=garbage"])
async def test_no_or_bad_token_is_refused(path: str, world: World) -> None:
    _, connected, code = await _connect(path)
    assert not connected
    assert code == 4401
