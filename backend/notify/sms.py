"""Text messages (短信) to mainland mobile numbers, through a pluggable backend.

Like Django's email backends: settings.SMS_BACKEND is a dotted path to a class with
`send_messages(messages) -> int`. `ConsoleBackend` (the development default) prints each
message; `LocmemBackend` keeps them in `outbox` for tests. A vendor backend (Aliyun, Tencent
Cloud, ...) is one more class here. Production must name a backend: the console would lose
every message silently.
"""

from __future__ import annotations

import re
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "backend.notify.sms.ConsoleBackend"
# ASCII digits only: \d would also accept other scripts' digits.
MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
MAX_TEXT_LENGTH = 500  # carriers concatenate long messages; providers cap around here


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


def check_phone(phone: str) -> str:
    """A mainland mobile number, 11 digits starting 13–19, nothing around it."""
    if not isinstance(phone, str) or not MAINLAND_MOBILE.fullmatch(phone):
        raise ValueError(f"not a mainland mobile number: {phone!r}")
    return phone


def check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("SMS text must be a non-empty string")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"SMS text is {len(text)} characters; the limit is {MAX_TEXT_LENGTH}")
    return text


class BaseSmsBackend(ABC):
    @abstractmethod
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        """Send every message or raise; returns how many were sent."""


def _shown(message: SmsMessage) -> str:
    if settings.PRODUCTION:
        return f"{message.phone[:3]}****{message.phone[-4:]} ({len(message.text)} characters)"
    return f"{message.phone}: {message.text}"


class ConsoleBackend(BaseSmsBackend):
    """Writes each message to stdout (development). In production stdout is the log, which
    must hold no personal data: there it writes the masked number and the text's length."""

    _lock = threading.Lock()

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        with self._lock:
            for message in messages:
                self.stream.write(f"SMS to {_shown(message)}\n")
            self.stream.flush()
        return len(messages)


# Messages sent through LocmemBackend, oldest first (like django.core.mail.outbox).
outbox: list[SmsMessage] = []


class LocmemBackend(BaseSmsBackend):
    """Keeps messages in `backend.notify.sms.outbox` (tests)."""

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


def get_sms_backend() -> BaseSmsBackend:
    path = getattr(settings, "SMS_BACKEND", None)
    if not path:
        if getattr(settings, "PRODUCTION", False):
            raise ImproperlyConfigured("Set SMS_BACKEND: production cannot send SMS to a console.")
        path = DEFAULT_BACKEND
    backend: BaseSmsBackend = import_string(path)()
    return backend


def send_sms(*, phone: str, text: str) -> None:
    """Send one text message; ValueError on a bad number or text, before any backend runs."""
    message = SmsMessage(phone=check_phone(phone), text=check_text(text))
    get_sms_backend().send_messages([message])
