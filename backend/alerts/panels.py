"""Alarm panels and telecare units speaking SIA DC-09 (SIA-DCS or Contact ID, over TCP or UDP,
optionally AES): their accounts, the one table of what an event code means here, and the
action a received message calls. The receiver itself (sockets, framing, ACK/NAK) is a
transport: `alarm_receiver/`.

A press from a panel is the same press as the signed HTTP one (`actions.do_press`): the same
idempotency, "heard", and fold into the resident's open alert. The idempotency key is the
account's message sequence number with its event code and zone, scoped to the account and the
receiver's UTC day: a panel retrying after a lost ACK, or failing over to a second receiver,
repeats the sequence number, and the second copy gets the first answer. (Sequence numbers wrap
at 9999; within one day an account sends far fewer events than that, and a retry that crosses
midnight UTC still joins the open alert as a "pressed again".)
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from backend.core.idempotency import Answer, idempotent
from backend.core.stream import batch as stream_batch
from backend.people.models import Resident

from . import devices
from .actions import Press, do_press
from .models import AlarmAccount, AlertKind, Device
from .signing import SIGNED_REQUEST_FIELDS

PRESS, TROUBLE, CLEARED, HEARTBEAT = "press", "trouble", "cleared", "heartbeat"


@dataclass(frozen=True)
class Meaning:
    """What an event code does here: `effect` with an alert `kind` (empty for a heartbeat)."""

    effect: str
    kind: str
    label: str


# THE event-code table (SIA codes; Contact ID events arrive mapped to these by pysiaalarm:
# 100 medical → MA, 101 personal emergency → QA, 110/111 fire/smoke → FA, 120 panic → PA,
# 121/122 duress/hold-up → HA, 137/144 tamper → TA, 301 AC loss → AT, 302 low battery → YT,
# 350 communication fail → YC, 351 phone line → LT, 602 periodic test → RP; restores → *H/*R).
# Codes not listed are heard (the device is alive) and logged, nothing more.
EVENT_CODES: dict[str, Meaning] = {
    "PA": Meaning(PRESS, AlertKind.EMERGENCY, "panic"),
    "MA": Meaning(PRESS, AlertKind.EMERGENCY, "medical"),
    "HA": Meaning(PRESS, AlertKind.EMERGENCY, "hold-up"),
    "QA": Meaning(PRESS, AlertKind.EMERGENCY, "emergency / fall detected"),
    "FA": Meaning(PRESS, AlertKind.FIRE, "fire / smoke"),
    "KA": Meaning(PRESS, AlertKind.FIRE, "heat"),
    "YT": Meaning(TROUBLE, AlertKind.LOW_BATTERY, "system battery low"),
    "XT": Meaning(TROUBLE, AlertKind.LOW_BATTERY, "transmitter battery low"),
    "YR": Meaning(CLEARED, AlertKind.LOW_BATTERY, "system battery restored"),
    "XR": Meaning(CLEARED, AlertKind.LOW_BATTERY, "transmitter battery restored"),
    "AT": Meaning(TROUBLE, AlertKind.POWER_LOSS, "AC power lost"),
    "AR": Meaning(CLEARED, AlertKind.POWER_LOSS, "AC power restored"),
    "TA": Meaning(TROUBLE, AlertKind.TAMPER, "tamper"),
    "ES": Meaning(TROUBLE, AlertKind.TAMPER, "expansion device tamper"),
    "TR": Meaning(CLEARED, AlertKind.TAMPER, "tamper restored"),
    "YC": Meaning(TROUBLE, AlertKind.COMM_TROUBLE, "communication fail"),
    "LT": Meaning(TROUBLE, AlertKind.COMM_TROUBLE, "phone line trouble"),
    "YK": Meaning(CLEARED, AlertKind.COMM_TROUBLE, "communication restored"),
    "LR": Meaning(CLEARED, AlertKind.COMM_TROUBLE, "phone line restored"),
    "RP": Meaning(HEARTBEAT, "", "automatic test / null message"),
}
HEARD_ONLY = Meaning(HEARTBEAT, "", "other event (heard, logged)")


def meaning(code: str | None) -> Meaning:
    return EVENT_CODES.get((code or "").upper(), HEARD_ONLY)


@dataclass(frozen=True)
class PanelEvent:
    """One valid DC-09 message, as the receiver parsed and checked it."""

    account: str
    sequence: str
    code: str | None
    zone: str | None = None
    receiver: str = ""
    line: str = ""
    null: bool = False  # a NULL (supervision) message
    sent_at: datetime | None = None


def account_for(account: str) -> AlarmAccount | None:
    """The registered account (with its device, resident and home, as a signed request
    loads them), or None for an unknown or revoked one."""
    return (
        AlarmAccount.objects.select_related(
            "device__resident", "device__household__grid__community"
        )
        .only("account", "key", "receiver", "line", *(f"device__{f}" for f in _DEVICE_FIELDS))
        .filter(account=account.upper(), device__revoked_at__isnull=True)
        .first()
    )


_DEVICE_FIELDS = SIGNED_REQUEST_FIELDS


def do_panel_event(*, alarm: AlarmAccount, event: PanelEvent) -> str:
    """Commit what one message says and return its effect; the receiver ACKs only after
    this returns (the commit is done). A NULL message or a test report is a heartbeat."""
    device = alarm.device
    what = Meaning(HEARTBEAT, "", "null message") if event.null else meaning(event.code)
    detail: dict[str, object] = {
        "transport": "dc09",
        "account": alarm.account,
        "sequence": event.sequence,
        "code": event.code,
        "zone": event.zone,
        "event": what.label,
    }
    if what.effect == PRESS:
        do_press(
            device=device,
            press=Press(kind=what.kind, detail=detail),
            scope=_scope(device),
            key=_key(event),
            body={"code": event.code, "zone": event.zone, "sequence": event.sequence},
            key_name="sequence",
        )
        return PRESS
    with transaction.atomic(), stream_batch():
        devices.heard(device=device, battery=None)
        if what.effect == HEARTBEAT:
            return HEARTBEAT
        kind = what.kind
        _status, answer = idempotent(
            scope=_scope(device),
            key=_key(event),
            body={"code": event.code, "zone": event.zone, "sequence": event.sequence},
            field="sequence",
            run=lambda: _trouble(device, what.effect, kind, detail),
        )
        return str(answer["effect"])


def _trouble(device: Device, effect: str, kind: str, detail: dict[str, object]) -> Answer:
    if effect == TROUBLE:
        alert = devices.technical_alarm(device=device, kind=kind, detail=detail)
        return 201, {"effect": TROUBLE, "alert_id": alert.pk}
    devices.clear_technical(device=device, kind=kind)
    return 200, {"effect": CLEARED}


def _scope(device: Device) -> str:
    return f"dc09:{device.pk}:{timezone.now():%Y%m%d}"


_KEYS = uuid.UUID("0c9d2a57-3b7e-4f61-9a0e-5d1c2b7a8e43")


def _key(event: PanelEvent) -> uuid.UUID:
    return uuid.uuid5(_KEYS, f"{event.sequence}|{event.code}|{event.zone}")


def do_register_alarm_account(
    *,
    account: str,
    resident: Resident,
    key: str = "",
    receiver: str = "",
    line: str = "",
    supervision_s: int = 3600,
) -> AlarmAccount:
    """An alarm panel's account as a device of the resident, supervised like an HTTP button:
    its NULL messages are its heartbeats (`supervision_s` is the interval it is programmed
    with). Account: 3-16 hex digits; key: 16, 24 or 32 characters (AES-128/192/256) or empty
    for a panel without encryption."""
    from pysiaalarm import SIAAccount

    account = account.upper()
    SIAAccount.validate_account(account_id=account, key=key or None)
    with transaction.atomic():
        device, _secret = devices.do_register_device(
            device_id=f"dc09-{account}",
            kind=Device.Kind.PANEL,
            resident=resident,
            heartbeat_interval_s=supervision_s,
        )
        return AlarmAccount.objects.create(
            account=account,
            device=device,
            key=key,
            receiver=receiver.upper(),
            line=line.upper(),
        )


def new_aes_key(bits: int = 128) -> str:
    """A key to program into a panel: hex characters, used as AES key bytes as DC-09 does."""
    return secrets.token_hex(bits // 16)
