"""The DC-09 receiver as its own process (`manage.py alarm_receiver`), over real TCP and UDP:
an alarm reaches the tier-1 manager's socket on an ASGI process; two receivers side by side
make one alert of one message; kill -9 right after the ACK loses nothing."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command

from backend.alerts.models import AlarmAccount, Alert, AlertKind, EscalationPolicy
from backend.alerts.panels import do_register_alarm_account
from harness.processes import Processes, free_port
from tests.alerts.dc09 import Answer, message
from tests.conftest import World

from .clients import Phone
from .conftest import django_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACCOUNT = "C0FFEE"
KEY = "F00DF00DF00DF00DF00DF00D"  # AES-192


@pytest.fixture
def panel(world: World) -> AlarmAccount:
    return do_register_alarm_account(account=ACCOUNT, resident=world.resident_a, key=KEY)


def over_tcp(port: int, frame: bytes, timeout: float = 15) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(frame)
        answer = b""
        while not answer.endswith(b"\r"):
            chunk = conn.recv(1024)
            assert chunk, f"the receiver closed without answering (so far {answer!r})"
            answer += chunk
        return answer


def over_udp(port: int, frame: bytes, timeout: float = 15) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as conn:
        conn.settimeout(timeout)
        conn.sendto(frame, ("127.0.0.1", port))
        answer, _ = conn.recvfrom(2048)
        return answer


def _raised(phone: Phone) -> list[dict[str, object]]:
    return [f for f in phone.seen() if f["type"] == "alert.raised"]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_an_emergency_reaches_the_tier_1_managers_socket_after_a_well_formed_ack(
    procs: Processes,
    phones: Callable[..., Phone],
    world: World,
    panel: AlarmAccount,
    shared_redis: str,
    slow_escalation: EscalationPolicy,
    transport: str,
) -> None:
    server = procs.server("asgi", redis_url=shared_redis)
    receiver = procs.alarm_receiver("alarm-rx", redis_url=shared_redis)
    manager = phones(server, world.worker_a.phone)
    manager.open([server])

    frame = message(ACCOUNT, "PA", seq=11, key=KEY)
    if transport == "tcp":
        raw = over_tcp(receiver.tcp_port, frame)
    else:
        raw = over_udp(receiver.udp_port, frame)
    answer = Answer.parse(raw)
    assert answer.kind == "*ACK" and answer.body.startswith(f'"*ACK"0011R1L1#{ACCOUNT}[')

    manager.wait(lambda p: len(_raised(p)) >= 1, 10, "the alert on the manager's socket")
    (frame_seen,) = _raised(manager)
    alert = Alert.objects.get()
    assert frame_seen["data"]["alert_id"] == alert.pk  # type: ignore[index]
    assert frame_seen["data"]["kind"] == AlertKind.EMERGENCY  # type: ignore[index]
    assert alert.timeline.get(kind="raised").data["transport"] == "dc09"


def test_what_cannot_be_trusted_is_naked_over_the_wire_and_creates_nothing(
    procs: Processes, world: World, panel: AlarmAccount, shared_redis: str
) -> None:
    receiver = procs.alarm_receiver("alarm-rx", redis_url=shared_redis)
    bad_crc = message(ACCOUNT, "PA", key=KEY, crc=0xBEEF)
    unknown = message("ABC123", "PA")
    wrong_key = message(ACCOUNT, "PA", key="0" * 24)
    assert Answer.parse(over_tcp(receiver.tcp_port, bad_crc)).kind == "NAK"
    assert Answer.parse(over_udp(receiver.udp_port, unknown)).kind == "NAK"
    assert Answer.parse(over_udp(receiver.udp_port, wrong_key)).kind == "NAK"
    assert not Alert.objects.exists()
    assert "unknown account ABC123" in receiver.output()


def test_one_message_through_two_receivers_side_by_side_is_one_alert(
    procs: Processes, world: World, panel: AlarmAccount, shared_redis: str
) -> None:
    """A panel failing over sends the same message (same sequence number) to its backup;
    here both copies arrive at once, over TCP at one receiver and UDP at the other."""
    first = procs.alarm_receiver("alarm-rx-1", redis_url=shared_redis, wait=False)
    second = procs.alarm_receiver("alarm-rx-2", redis_url=shared_redis, wait=False)
    Processes.wait_ready(first, second)
    frame = message(ACCOUNT, "MA", seq=501, key=KEY)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [
            pool.submit(over_tcp, first.tcp_port, frame),
            pool.submit(over_udp, second.udp_port, frame),
            pool.submit(over_tcp, second.tcp_port, frame),
            pool.submit(over_udp, first.udp_port, frame),
        ]
        kinds = [Answer.parse(a.result()).kind for a in answers]
    assert kinds == ["*ACK"] * 4
    alert = Alert.objects.get()
    assert alert.presses == 1
    assert not alert.timeline.filter(kind="pressed_again").exists()


def test_kill_9_of_the_receiver_right_after_its_ack_loses_nothing(
    procs: Processes, world: World, panel: AlarmAccount, shared_redis: str
) -> None:
    receiver = procs.alarm_receiver("alarm-rx", redis_url=shared_redis)
    answer = Answer.parse(over_tcp(receiver.tcp_port, message(ACCOUNT, "FA", seq=3, key=KEY)))
    receiver.kill()  # SIGKILL the moment the ACK is read: no cleanup, no goodbye
    assert answer.kind == "*ACK"
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.FIRE
    assert alert.timeline.filter(kind="call_119").exists()


def test_the_receiver_inside_the_asgi_process_and_the_test_sender(
    procs: Processes, world: World, panel: AlarmAccount, shared_redis: str
) -> None:
    """`make run`'s shape: the receiver in the ASGI process (ALARM_RECEIVER_EMBEDDED), and
    `manage.py dc09_send` as the panel."""
    port = free_port()
    env = django_env(shared_redis)
    env.update(
        ALARM_RECEIVER_EMBEDDED="1", ALARM_RECEIVER_TCP_PORT=str(port), ALARM_RECEIVER_UDP_PORT="0"
    )
    server = procs.server("asgi", env=env)
    server.wait_for_output("alarm receiver listening", timeout=20)
    out = io.StringIO()
    argv = ["--account", ACCOUNT, "--key", KEY, "--code", "FA", "--seq", "77", "--port", str(port)]
    call_command("dc09_send", *argv, stdout=out)
    assert '"*ACK"0077R1L1' in out.getvalue().split("answer")[1], out.getvalue()
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.FIRE and alert.resident_id == world.resident_a.pk
