"""Provider callbacks as real inputs: delivery receipts, call status and keypresses.

Each provider's callback has its own endpoint (mobile_api/notify) and is verified the way that
provider lets us: Aliyun's and Tencent's HTTP receipt pushes carry no signature, so the URL
registered in their console holds a secret (`?token=`, NOTIFY_CALLBACK_TOKENS[provider]),
compared in constant time; a wrong or missing one is refused and changes nothing. Every item
is taken once (`ProviderCallback(provider, key)`): a duplicate is answered OK and changes
nothing. What an item says lands on the outbox row (`outcome`) and through its subject's
listener on the timeline; a keypress goes to the listener, which answers the alert. An SMS
reply (Aliyun SmsUp, Tencent's reply callback) is taken once by the provider's sequence number
or, where there is none, by its number, time and text, and lands through replies.do_sms_reply.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.core.errors import ApiError
from backend.core.personal import keyed_digest

from . import outbox, replies
from .models import OutboxMessage, ProviderCallback

logger = logging.getLogger(__name__)

MAX_ITEMS = 100
ANSWERED = "200000"  # Aliyun voice status_code: the callee answered and heard it out


def check_token(provider: str, token: str | None) -> None:
    expected = (getattr(settings, "NOTIFY_CALLBACK_TOKENS", None) or {}).get(provider, "")
    if not expected or not token or not hmac.compare_digest(expected, token):
        raise ApiError("callback_forbidden", status=403)


def _items(body: Any, required: tuple[str, ...]) -> list[Mapping[str, Any]]:
    if not isinstance(body, list) or len(body) > MAX_ITEMS:
        raise ApiError("validation_error", status=422, fields={"body": "callback_list_expected"})
    for item in body:
        if not isinstance(item, Mapping) or any(
            not isinstance(item.get(k), str | int) for k in required
        ):
            raise ApiError("validation_error", status=422, fields={"body": "callback_item_invalid"})
    return body


def _first_time(provider: str, key: str) -> bool:
    """Record the callback item; False when it was taken before."""
    try:
        with transaction.atomic():
            ProviderCallback.objects.create(provider=provider, key=key[:200])
    except IntegrityError:
        return False
    return True


def _row(provider: str, message_id: str, out_id: str = "") -> OutboxMessage | None:
    row = outbox.by_message_id(provider, message_id)
    if row is None and out_id:
        try:
            row = OutboxMessage.objects.filter(public_id=out_id, provider=provider).first()
        except ValueError:  # not a UUID
            row = None
    return row


def _land(row: OutboxMessage, outcome: str, detail: dict[str, Any] | None = None) -> None:
    row.outcome, row.outcome_at = outcome, timezone.now()
    row.save(update_fields=["outcome", "outcome_at"])
    outbox.tell_listener(row, outcome, detail)


def do_aliyun_sms_report(*, token: str | None, body: Any) -> int:
    """Aliyun SmsReport (HTTP batch push): [{biz_id, out_id, success, err_code, ...}]."""
    check_token("aliyun", token)
    items = _items(body, ("biz_id",))
    taken = 0
    with transaction.atomic():
        for item in items:
            key = f"sms:{item['biz_id']}:{item.get('err_code', '')}:{item.get('report_time', '')}"
            if not _first_time("aliyun", key):
                continue
            row = _row("aliyun", str(item["biz_id"]), str(item.get("out_id") or ""))
            if row is None:
                logger.warning("Aliyun SMS receipt for an unknown message %s", item["biz_id"])
                continue
            outcome = "delivered" if item.get("success") is True else "failed"
            _land(row, outcome, {"code": str(item.get("err_code", ""))})
            taken += 1
    return taken


def do_tencent_sms_report(*, token: str | None, body: Any) -> int:
    """Tencent Cloud SMS status callback: [{sid, report_status, errmsg, mobile, ...}]."""
    check_token("tencent", token)
    items = _items(body, ("sid",))
    taken = 0
    with transaction.atomic():
        for item in items:
            key = f"sms:{item['sid']}:{item.get('report_status', '')}"
            if not _first_time("tencent", key):
                continue
            row = _row("tencent", str(item["sid"]))
            if row is None:
                continue
            outcome = "delivered" if item.get("report_status") == "SUCCESS" else "failed"
            _land(row, outcome, {"code": str(item.get("errmsg", ""))})
            taken += 1
    return taken


def do_aliyun_voice_report(*, token: str | None, body: Any) -> int:
    """Aliyun voice call reports (HTTP batch push): [{call_id, out_id, status_code, dtmf, ...}].
    The call's status lands on the row; a keypress (dtmf) goes to the subject's listener."""
    check_token("aliyun-voice", token)
    items = _items(body, ("call_id",))
    taken = 0
    with transaction.atomic():
        for item in items:
            status = str(item.get("status_code", ""))
            digit = str(item.get("dtmf", "") or "")[:1]
            # Not the digit itself: a keypress may be a secret ballot (community polls), and
            # this row would join it to the call and so to the voter. One keypress per call.
            key = f"voice:{item['call_id']}:{status}:{'key' if digit else ''}"
            if not _first_time("aliyun-voice", key):
                continue
            row = _row("aliyun-voice", str(item["call_id"]), str(item.get("out_id") or ""))
            if row is None:
                logger.warning("Aliyun voice report for an unknown call %s", item["call_id"])
                continue
            if status:
                _land(row, "answered" if status == ANSWERED else "no_answer", {"code": status})
            if digit:
                outbox.tell_listener(row, "keypress", {"digit": digit})
            taken += 1
    return taken


# -- SMS replies (上行短信) ----------------------------------------------------------------------

GATEWAY_TZ = ZoneInfo("Asia/Shanghai")  # the time Aliyun writes in SmsUp's send_time


def _gateway_time(value: Any) -> datetime | None:
    """Aliyun's "2017-09-01 00:00:00" (or "20170901000000"), Beijing time; None if neither."""
    for shape in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(str(value), shape).replace(tzinfo=GATEWAY_TZ)
        except ValueError:
            continue
    return None


def _unix_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def do_aliyun_sms_up(*, token: str | None, body: Any) -> int:
    """Aliyun SmsUp (HTTP batch push): [{phone_number, send_time, content, sign_name,
    dest_code, sequence_id}]; each reply taken once by its sequence_id (and send_time)."""
    check_token("aliyun", token)
    items = _items(body, ("phone_number", "content", "sequence_id"))
    taken = 0
    with transaction.atomic():
        for item in items:
            key = f"up:{item['sequence_id']}:{item.get('send_time', '')}"
            if not _first_time("aliyun", key):
                continue
            replies.do_sms_reply(
                provider="aliyun",
                phone=str(item["phone_number"]),
                text=str(item["content"]),
                sign_name=str(item.get("sign_name") or ""),
                extend=str(item.get("dest_code") or ""),
                replied_at=_gateway_time(item.get("send_time")),
            )
            taken += 1
    return taken


def do_tencent_sms_reply(*, token: str | None, body: Any) -> int:
    """Tencent Cloud SMS reply callback: {extend, mobile, nationcode, sign, text, time} (one
    object; a list of them is taken too). It carries no id: a reply is taken once by its
    number, time and text (a keyed digest, so the key holds no number)."""
    check_token("tencent", token)
    items = _items(body if isinstance(body, list) else [body], ("mobile", "text", "time"))
    taken = 0
    with transaction.atomic():
        for item in items:
            nation = str(item.get("nationcode") or "86").lstrip("+")
            mobile = str(item["mobile"])
            phone = mobile if nation == "86" else f"+{nation}{mobile}"
            seen = keyed_digest(f"tencent-up:{phone}:{item['time']}:{item['text']}")
            if not _first_time("tencent", f"up:{seen}"):
                continue
            replies.do_sms_reply(
                provider="tencent",
                phone=phone,
                text=str(item["text"]),
                sign_name=str(item.get("sign") or ""),
                extend=str(item.get("extend") or ""),
                replied_at=_unix_time(item["time"]),
            )
            taken += 1
    return taken
