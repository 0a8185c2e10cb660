"""Voice calls (语音通知) with text-to-speech templates and an optional keypress menu.

For other apps: `place_call(...)` puts a call in the outbox (inside your transaction); the
dispatcher places it, retries it, and your subject's listener (outbox.register_listener) hears
`sent`, `answered`, `no_answer`, `failed` and `keypress` (detail {"digit": "1"}). Templates are
named in TEMPLATES (text, parameter order, whether the call has a menu: the alert's 1/2, or the
keys MENUS names); VOICE_TEMPLATE_CODES maps them (or the shared name in CODE_NAMES) and each
key's prompt to the vendor's approved TTS codes.

Backends (VOICE_BACKEND): `ConsoleVoiceBackend` (development default: prints), `LocmemVoiceBackend`
(tests: `calls`), `AliyunVoiceBackend` (alibabacloud-dyvmsapi20170525: IvrCall with MenuKeyMap
when the template has a menu, SingleCallByTts otherwise; OutId carries our idempotency key).
"""

from __future__ import annotations

import json
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import SendResult
from .models import Channel, OutboxMessage
from .sms import _setting, aliyun_failure, aliyun_refusal, check_phone, console_line

DEFAULT_BACKEND = "backend.notify.voice.ConsoleVoiceBackend"
MAX_PARAM_LENGTH = 35
# Keys of a menu call: 1 = I am going (accept), 2 = I cannot (next recipient or tier now).
MENU_KEYS = ("1", "2")

# name -> (text read out, parameter order, has the 1/2 menu)
TEMPLATES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "alert_staff_call": (
        "网格{grid}有{kind}，编号{alert}。接警请按1，无法前往请按2。",
        ("kind", "grid", "alert"),
        True,
    ),
    "resident_callback": ("您的求助已收到，{role}正在赶来，请保持电话畅通。", ("role",), False),
    # 关爱电话 (backend.reassurance): the weekly call to a resident who lives alone.
    "reassurance_call": (
        "您好，这里是{community}关爱电话。您一切安好，请按1。",
        ("community",),
        True,
    ),
    # community life: a hearing's invitation to a resident without a smartphone (1 = attend)
    "hearing_invite_call": (
        "{place}{kind}通知：{title}，{at}在{venue}召开。参加请按1。",
        ("place", "kind", "title", "at", "venue"),
        True,
    ),
}
# Menus other than the alert's 1/2: template -> (key, the code name in VOICE_TEMPLATE_CODES of
# the prompt played when it is pressed), and templates that share one approved TTS text.
MENUS: dict[str, tuple[tuple[str, str], ...]] = {
    "hearing_invite_call": (("1", "hearing_key_1"),),
    "reassurance_call": (("1", "reassurance_call.key_1"),),  # 1 = I am fine
}
CODE_NAMES: dict[str, str] = {}
# A consultative poll read out: key N = option N, one template per number of options (the same
# approved text, `poll_vote`; each key plays `poll_key`, "your choice is recorded").
MAX_POLL_KEYS = 9
for _n in range(2, MAX_POLL_KEYS + 1):
    TEMPLATES[f"poll_vote_{_n}"] = (
        "{place}居民议事表决：{question}。{options}。",
        ("place", "question", "options"),
        True,
    )
    MENUS[f"poll_vote_{_n}"] = tuple((str(k), "poll_key") for k in range(1, _n + 1))
    CODE_NAMES[f"poll_vote_{_n}"] = "poll_vote"


def menu_of(template: str) -> tuple[tuple[str, str], ...]:
    """The keys of a menu call and the code name of each key's prompt."""
    if not TEMPLATES[template][2]:
        return ()
    return MENUS.get(template, tuple((key, f"key_{key}") for key in MENU_KEYS))


@dataclass(frozen=True)
class VoiceCall:
    phone: str
    template: str
    params: dict[str, str]
    out_id: str
    menu: bool
    text: str


def check_params(template: str, params: Mapping[str, Any]) -> dict[str, str]:
    if template not in TEMPLATES:
        raise ValueError(f"no voice template {template!r}")
    names = TEMPLATES[template][1]
    if not isinstance(params, Mapping) or set(params) != set(names):
        raise ValueError(f"voice template {template!r} takes {sorted(names)}")
    for name, value in params.items():
        if not isinstance(value, str) or not value or len(value) > MAX_PARAM_LENGTH:
            raise ValueError(f"parameter {name!r} must be 1 to {MAX_PARAM_LENGTH} characters")
    return {name: params[name] for name in names}


def voice_call(*, phone: str, template: str, params: Mapping[str, Any], out_id: str) -> VoiceCall:
    checked = check_params(template, params)
    text, _, menu = TEMPLATES[template]
    return VoiceCall(
        phone=check_phone(phone),
        template=template,
        params=checked,
        out_id=out_id,
        menu=menu,
        text=text.format(**checked),
    )


def place_call(
    *,
    to: str = "",
    user_id: int | None = None,
    template: str,
    params: Mapping[str, str],
    subject: str,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Call `to` (or the user's own phone) with a TTS template, through the outbox: durable,
    retried, on the subject's timeline through its listener. Call inside your transaction.
    ValueError at once on an unknown template, bad parameters or a bad number."""
    from . import outbox

    check_params(template, params)
    if to:
        check_phone(to)
    return outbox.enqueue(
        channel=Channel.VOICE,
        subject=subject,
        template=template,
        params=dict(params),
        to=to,
        user_id=user_id,
        not_before=not_before,
    )


class BaseVoiceBackend(ABC):
    name = "voice"

    @abstractmethod
    def call(self, call: VoiceCall) -> SendResult:
        """Place one call; the outcome arrives later through the provider's callback."""


class ConsoleVoiceBackend(BaseVoiceBackend):
    name = "console-voice"
    _lock = threading.Lock()

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def call(self, call: VoiceCall) -> SendResult:
        with self._lock:
            self.stream.write(f"CALL to {console_line(call.phone, call.text)}\n")
            self.stream.flush()
        return SendResult(ok=True, provider=self.name, message_id=f"console-{call.out_id}")


calls: list[VoiceCall] = []


class LocmemVoiceBackend(BaseVoiceBackend):
    name = "locmem-voice"

    def call(self, call: VoiceCall) -> SendResult:
        calls.append(call)
        return SendResult(ok=True, provider=self.name, message_id=f"locmem-{call.out_id}")


class AliyunVoiceBackend(BaseVoiceBackend):
    """Aliyun voice service (dyvmsapi 2017-05-25) through its official SDK."""

    name = "aliyun-voice"

    def __init__(self) -> None:
        from alibabacloud_dyvmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        key_id, secret = _setting("ALIYUN_ACCESS_KEY_ID"), _setting("ALIYUN_ACCESS_KEY_SECRET")
        if not key_id or not secret:
            raise ImproperlyConfigured("Aliyun voice needs ALIYUN_ACCESS_KEY_ID and _SECRET")
        self.show_number = str(_setting("ALIYUN_VOICE_SHOW_NUMBER", ""))
        self.client = Client(
            Config(
                access_key_id=key_id,
                access_key_secret=secret,
                endpoint=_setting("ALIYUN_VOICE_ENDPOINT", "dyvmsapi.aliyuncs.com"),
                protocol=_setting("ALIYUN_PROTOCOL", "https"),
                connect_timeout=3000,
                read_timeout=5000,
            )
        )

    def call(self, call: VoiceCall) -> SendResult:
        from alibabacloud_dyvmsapi20170525 import models

        code = tts_code(CODE_NAMES.get(call.template, call.template))
        params = json.dumps(call.params, ensure_ascii=False)
        try:
            if call.menu:
                response = self.client.ivr_call(
                    models.IvrCallRequest(
                        called_number=call.phone,
                        called_show_number=self.show_number,
                        start_code=code,
                        start_tts_params=params,
                        menu_key_map=[
                            models.IvrCallRequestMenuKeyMap(key=key, code=tts_code(name))
                            for key, name in menu_of(call.template)
                        ],
                        play_times=2,
                        timeout=10000,
                        out_id=call.out_id,
                    )
                )
            else:
                response = self.client.single_call_by_tts(
                    models.SingleCallByTtsRequest(
                        called_number=call.phone,
                        called_show_number=self.show_number,
                        tts_code=code,
                        tts_param=params,
                        play_times=2,
                        out_id=call.out_id,
                    )
                )
        except Exception as error:
            return aliyun_failure(self.name, error)
        body = response.body
        if body.code == "OK":
            return SendResult(ok=True, provider=self.name, message_id=str(body.call_id or ""))
        return aliyun_refusal(self.name, str(body.code), str(body.message))


def tts_code(template: str) -> str:
    codes = getattr(settings, "VOICE_TEMPLATE_CODES", None) or {}
    code = codes.get(template)
    if not code:
        raise ImproperlyConfigured(f"VOICE_TEMPLATE_CODES has no code for {template!r}")
    return str(code)


_backends: dict[str, BaseVoiceBackend] = {}
_lock = threading.Lock()


def get_voice_backend() -> BaseVoiceBackend:
    path = getattr(settings, "VOICE_BACKEND", None)
    if not path:
        if getattr(settings, "PRODUCTION", False):
            raise ImproperlyConfigured("Set VOICE_BACKEND: production cannot call a console.")
        path = DEFAULT_BACKEND
    with _lock:
        backend = _backends.get(path)
        if backend is None:
            backend = _backends[path] = import_string(path)()
        return backend


def reset_backends() -> None:
    with _lock:
        _backends.clear()
