"""The per-user event stream socket.

On connect with `?last_event_id=N` the socket replays the stored events after N, in order, then
live ones; without it, it starts at the present. Live frames arrive through the channel layer
(a doorbell carrying the frame); a frame that skips a number makes the socket read the gap from
the database, so a dropped doorbell costs a query, not an event. A client further behind than
the retention gets {"type": "resync_required"}.

Clients acknowledge what they have shown with {"type": "ack", "last_event_id": N}; an urgent
event nobody acknowledged within a few seconds is pushed to the phone as well. An ack costs a
database write only when it covers an urgent frame; a ping refreshes the socket's presence row
at most every PRESENCE_REFRESH (the dispatcher counts a socket live for 90 s).

When the channel layer's connection comes back after a break, it sends every socket of the
process {"type": "stream.resume"}: doorbells rung during the break were lost, so each socket
reads its gap from the database.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from backend.accounts.actions import do_report_position
from backend.core import metrics, stream
from backend.core.errors import ApiError
from backend.core.geo import Fix

from .auth import query_param
from .db import database_call

logger = logging.getLogger(__name__)

UNAUTHORISED = 4401
# What a client may send; the BFLA matrix (tests/trust/test_bfla_matrix.py) names the roles
# whose socket acts on each. Any other type is answered {"type": "error", "code":
# "unknown_message"}, a type the role may not send {"type": "error", "code": ...} (403's code).
CLIENT_MESSAGES = ("ping", "ack", "position")


@database_call
def _replay(user_id: int, after: int) -> tuple[bool, list[dict[str, Any]]]:
    return stream.replay(user_id, after)


@database_call
def _acknowledged(user_id: int, up_to: int) -> None:
    stream.mark_delivered(user_id, up_to)


@database_call
def _current(user_id: int) -> int:
    return stream.current_seq(user_id)


PRESENCE_REFRESH = 30.0  # seconds


@database_call
def _opened(
    channel_name: str, user_id: int, session_id: Any, after: int | None
) -> tuple[bool, list[dict[str, Any]], int]:
    """A socket's first database call, one thread hop (a mass reconnect makes thousands at
    once): its presence row, then its replay after `after` — or, without one or past the
    retention, the user's current number."""
    stream.socket_opened(channel_name=channel_name, user_id=user_id, session_id=session_id)
    if after is not None:
        ok, frames = stream.replay(user_id, after)
        if ok:
            return True, frames, after
    return False, [], stream.current_seq(user_id)


@database_call
def _still_present(channel_name: str) -> None:
    stream.socket_seen(channel_name=channel_name)


@database_call
def _absent(channel_name: str) -> None:
    stream.socket_closed(channel_name=channel_name)


def _number(value: Any) -> float:
    """A JSON number (not a string, not a boolean); NaN and infinities fail the range checks."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


@database_call
def _position(user: Any, content: dict[str, Any]) -> None:
    do_report_position(
        user=user,
        fix=Fix.reported(
            lat=_number(content["lat"]),
            lon=_number(content["lon"]),
            accuracy_m=content.get("accuracy_m"),
            datum=content.get("datum", "wgs84"),
        ),
    )


class StreamConsumer(AsyncJsonWebsocketConsumer):
    last_sent = 0
    groups_joined: tuple[str, ...] = ()
    presence_at = 0.0
    counted = False  # in the sockets gauge
    # Sent frames that may be urgent and are not acknowledged yet (replayed frames count).
    unacked_urgent: list[int]

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels' own, without its `aclose_old_connections()` before every handler: that
        is a thread hop for each frame rung, ack and ping (a fifth of a socket server's CPU at
        load). This consumer touches the database only through `database_call`, which closes
        stale connections in its worker thread before and after, as Channels does."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        session = self.scope.get("session")
        if session is None:
            await self.close(code=UNAUTHORISED)
            return
        self.user = session.user
        self.session_id = session.pk
        self.groups_joined = (
            stream.user_group(self.user.pk),
            stream.session_group(session.pk),
        )
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        metrics.SOCKETS.inc()
        self.counted = True
        self.unacked_urgent = []
        raw = query_param(self.scope, "last_event_id")
        after = int(raw) if raw is not None and raw.isdigit() else None
        replayed, frames, at = await _opened(
            self.channel_name, self.user.pk, self.session_id, after
        )
        self.presence_at = time.monotonic()
        if after is None:
            self.last_sent = at
            await self.send_json({"type": "hello", "last_event_id": at})
        elif replayed:
            await self._send_replayed(after, frames)
        else:
            await self._resync(at)

    async def _catch_up(self, after: int) -> None:
        ok, frames = await _replay(self.user.pk, after)
        if ok:
            await self._send_replayed(after, frames)
        else:
            await self._resync(await _current(self.user.pk))

    async def _resync(self, current: int) -> None:
        self.last_sent = current
        await self.send_json({"type": "resync_required", "last_event_id": current})

    async def _send_replayed(self, after: int, frames: list[dict[str, Any]]) -> None:
        self.last_sent = after
        for frame in frames:
            await self.send_json(frame)
            self.last_sent = int(frame["id"])
        if frames:
            self.unacked_urgent.append(self.last_sent)  # an ack up to here marks them all

    async def disconnect(self, code: int) -> None:
        if self.counted:
            metrics.SOCKETS.dec()
            self.counted = False
        if not self.groups_joined:
            return
        try:
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:
            # Redis busy or away (a mass disconnect): the group entry expires on its own,
            # but the presence row must go now, or pushes would wait for a dead socket.
            logger.warning("group_discard failed for %s", self.channel_name, exc_info=True)
        finally:
            await _absent(self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            if time.monotonic() - self.presence_at > PRESENCE_REFRESH:
                self.presence_at = time.monotonic()
                await _still_present(self.channel_name)
            await self.send_json({"type": "pong"})
        elif content.get("type") == "ack":
            up_to = content.get("last_event_id")
            if not isinstance(up_to, int) or not 0 < up_to <= self.last_sent:
                return
            if self.unacked_urgent and self.unacked_urgent[0] <= up_to:
                self.unacked_urgent = [seq for seq in self.unacked_urgent if seq > up_to]
                await _acknowledged(self.user.pk, up_to)
        elif content.get("type") == "position":
            try:
                await _position(self.user, content)
            except (KeyError, TypeError, ValueError):
                await self.send_json({"type": "error", "code": "validation_error"})
            except ApiError as exc:
                await self.send_json({"type": "error", "code": exc.code})
        else:
            await self.send_json({"type": "error", "code": "unknown_message"})

    async def stream_event(self, message: dict[str, Any]) -> None:
        frame = message["frame"]
        seq = int(frame["id"])
        if seq <= self.last_sent:
            return  # already replayed or sent
        if seq == self.last_sent + 1:
            await self.send_json(frame)
            self.last_sent = seq
            if message.get("urgent"):
                self.unacked_urgent.append(seq)
                if frame.get("type") == "alert.raised":
                    metrics.observe_alert_frame(frame)
                    data = frame.get("data") or {}
                    logger.info(
                        "socket sent alert.raised",
                        extra={"alert_id": data.get("alert_id"), "event_id": seq},
                    )
        else:
            await self._catch_up(self.last_sent)  # a doorbell was lost: read the gap

    async def stream_resume(self, message: dict[str, Any]) -> None:
        await self._catch_up(self.last_sent)

    async def session_revoked(self, message: dict[str, Any]) -> None:
        await self.close(code=UNAUTHORISED)
