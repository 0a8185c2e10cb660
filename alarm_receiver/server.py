"""The SIA DC-09 receiver: TCP and UDP, one message a frame (<LF> CRC 0LLL "type" ... <CR>).

pysiaalarm parses and checks every message — CRC, account, AES (CBC, zero IV, as DC-09
says), the timestamp window (its timeband) and the event code — and writes the responses
(ACK, encrypted for an encrypted message; NAK with the receiver's time; DUH for an unknown
code). Its own servers answer before they call back, so the answer here is written only after
`backend.alerts.panels.do_panel_event` has committed: an ACK means the alert exists. Whatever
cannot be checked or committed is NAKed, and the panel sends it again (to this receiver or
its backup; the database makes the copies one alert).

Each message is worked in a thread (the database is synchronous); the event loop only moves
bytes. Any number of receivers may run side by side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from pysiaalarm import SIAAccount, SIAEvent
from pysiaalarm.errors import EventFormatError, NoAccountError
from pysiaalarm.event import OHEvent
from pysiaalarm.utils import MessageTypes

from backend.alerts.models import AlarmAccount
from backend.alerts.panels import PanelEvent, account_for, do_panel_event

logger = logging.getLogger(__name__)

MAX_FRAME = 2048  # DC-09 messages are a few hundred bytes at most


class AccountBook(dict[str, SIAAccount]):
    """The accounts pysiaalarm checks a message against, read from the database as the
    message names one (one query a message, as a signed HTTP request reads its device)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: AlarmAccount | None = None

    def __bool__(self) -> bool:
        return True  # pysiaalarm looks accounts up only in a book that is not empty

    def get(self, key: str, default: Any = None) -> Any:
        if not key:
            return default
        alarm = account_for(key)
        if alarm is None:
            return default
        self.found = alarm
        past, future = settings.ALARM_RECEIVER_TIMEBAND
        return SIAAccount(alarm.account, alarm.key or None, allowed_timeband=(past, future))


def nak() -> bytes:
    """A NAK with the receiver's time, for a message no account can be trusted with."""
    body = f'"NAK"0000R0L0A0[]{SIAEvent._get_timestamp()}'
    return f"\n{SIAEvent._crc_calc(body)}{len(body):04X}{body}\r".encode("ascii")


@dataclass
class Counts:
    """What this receiver answered, and the CPU it spent working messages."""

    ack: int = 0
    nak: int = 0
    duh: int = 0
    cpu_s: float = 0.0
    by_reason: dict[str, int] = field(default_factory=dict)

    def refused(self, reason: str) -> bytes:
        self.nak += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        return nak()


class Receiver:
    """Answers DC-09 messages; `answer` is synchronous (it commits), the transports await
    `answer_async`."""

    def __init__(self, workers: int | None = None) -> None:
        self.counts = Counts()
        # A few long-lived worker threads: each keeps its database connection, and ringing
        # sockets from them goes back to this loop's channel layer (asgiref's executor).
        self.pool = ThreadPoolExecutor(
            max_workers=workers or settings.ALARM_RECEIVER_WORKERS, thread_name_prefix="dc09"
        )
        self.answer_async = sync_to_async(
            self._in_worker, thread_sensitive=False, executor=self.pool
        )

    def _in_worker(self, raw: bytes) -> bytes:
        close_old_connections()  # a worker thread's connection, as a request's would be
        return self.answer(raw)

    def answer(self, raw: bytes) -> bytes:
        """The answer to one frame, after its commit."""
        started = time.thread_time()
        try:
            return self._answer(raw)
        finally:
            self.counts.cpu_s += time.thread_time() - started

    def _answer(self, raw: bytes) -> bytes:
        line = raw.decode("ascii", errors="ignore").strip()
        if not line:
            return b""
        book = AccountBook()
        try:
            event = SIAEvent.from_line(line, book)
        except NoAccountError:
            logger.warning("DC-09: encrypted message of an unknown account: %r", line[:80])
            return self.counts.refused("unknown_account")
        except (EventFormatError, ValueError, UnicodeDecodeError):
            logger.warning("DC-09: message not understood (or wrong key): %r", line[:80])
            return self.counts.refused("format")
        if isinstance(event, OHEvent):
            return event.create_response()
        return self._checked(event, book.found)

    def _checked(self, event: SIAEvent, alarm: AlarmAccount | None) -> bytes:
        if not event.valid_message:
            logger.warning("DC-09: CRC mismatch (%s, computed %s)", event.msg_crc, event.calc_crc)
            return self.counts.refused("crc")
        if int(event.length or "0", 16) != len(event.full_message or ""):
            logger.warning("DC-09: length %s does not match the message", event.length)
            return self.counts.refused("length")
        if alarm is None or event.sia_account is None:
            logger.warning("DC-09: unknown account %s, message refused", event.account)
            return self.counts.refused("unknown_account")
        if (alarm.receiver and alarm.receiver != event.receiver) or (
            alarm.line and alarm.line != event.line
        ):
            logger.warning(
                "DC-09: account %s on receiver/line %s%s", alarm.account, event.receiver, event.line
            )
            return self.counts.refused("receiver_line")
        if event.code_not_found:
            self.counts.duh += 1
            return event.create_response()  # DUH: understood, not a code we know
        if not event.valid_timestamp:
            logger.warning(
                "DC-09: account %s sent a stale timestamp %s", alarm.account, event.timestamp
            )
            self.counts.refused("timestamp")
            return event.create_response()  # NAK with the receiver's time
        try:
            do_panel_event(alarm=alarm, event=_panel_event(event))
        except Exception:
            logger.exception("DC-09: could not commit account %s's message; NAK", alarm.account)
            return self.counts.refused("commit_failed")
        self.counts.ack += 1
        return event.create_response()


def _panel_event(event: SIAEvent) -> PanelEvent:
    return PanelEvent(
        account=event.account or "",
        sequence=event.sequence or "",
        code=event.code,
        zone=event.ri,
        receiver=event.receiver or "",
        line=event.line or "",
        null=event.message_type == MessageTypes.NULL,
        sent_at=event.timestamp if not isinstance(event.timestamp, str) else None,
    )


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._reply(data[:MAX_FRAME], addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        response = await self.receiver.answer_async(data)
        if response and self.transport is not None:
            self.transport.sendto(response, addr)


@dataclass
class Listening:
    """A running receiver: its ports (0 when off), and how to stop it."""

    receiver: Receiver
    tcp: asyncio.base_events.Server | None
    udp: asyncio.DatagramTransport | None
    tcp_port: int = 0
    udp_port: int = 0

    def close(self) -> None:
        if self.tcp is not None:
            self.tcp.close()
        if self.udp is not None:
            self.udp.close()
        self.receiver.pool.shutdown(wait=False)


async def _tcp_session(receiver: Receiver, reader: asyncio.StreamReader, writer: Any) -> None:
    """One panel connection: a message, its answer, the next message (panels keep the
    connection for a while or close it after the ACK)."""
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\r")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                writer.write(receiver.counts.refused("too_long"))
                return
            response = await receiver.answer_async(raw)
            if response:
                writer.write(response)
                await writer.drain()
    except ConnectionError:
        return
    finally:
        writer.close()


async def start(host: str, tcp_port: int | None, udp_port: int | None) -> Listening:
    """Listen on TCP and UDP; a port of None leaves that transport off (0: any free port)."""
    receiver = Receiver()
    tcp = udp = None
    bound_tcp = bound_udp = 0
    if tcp_port is not None:
        tcp = await asyncio.start_server(
            lambda r, w: _tcp_session(receiver, r, w), host, tcp_port, limit=MAX_FRAME
        )
        bound_tcp = int(tcp.sockets[0].getsockname()[1])
    if udp_port is not None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(receiver), local_addr=(host, udp_port)
        )
        udp = transport
        bound_udp = int(transport.get_extra_info("sockname")[1])
    return Listening(receiver, tcp, udp, bound_tcp, bound_udp)


async def start_from_settings() -> Listening:
    """The embedded receiver of `make run` (ports from settings; 0 is off)."""
    tcp = settings.ALARM_RECEIVER_TCP_PORT or None
    udp = settings.ALARM_RECEIVER_UDP_PORT or None
    return await start(settings.ALARM_RECEIVER_HOST, tcp, udp)
