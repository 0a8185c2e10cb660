"""Template text messages (模板短信) to mainland mobile numbers, through a pluggable backend.

Chinese gateways send only an approved template under an approved signature: a message is a
template name from TEMPLATES, its parameters, and the row's idempotency key. Backends:
`ConsoleBackend` (development default: prints the rendered text), `LocmemBackend` (keeps
messages in `outbox`, tests), `AliyunSmsBackend` (alibabacloud-dysmsapi20170525) and
`TencentSmsBackend` (tencentcloud-sdk-python-sms). Settings (README "Reaching people"):
SMS_BACKEND, SMS_SIGN_NAME, SMS_TEMPLATE_CODES {name: vendor template code}, ALIYUN_* and
TENCENT_*. Production must name a backend: the console would lose every message silently.

Staff texts carry the kind, the grid and the alert number only; the emergency contacts' text
carries the resident's masked name and the community's duty phone (PIPL: the minimum).
"""

from __future__ import annotations

import json
import re
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import SendResult

DEFAULT_BACKEND = "backend.notify.sms.ConsoleBackend"
DEFAULT_SIGN_NAME = "社区一键通"
# ASCII digits only: \d would also accept other scripts' digits.
MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
MAX_PARAM_LENGTH = 35  # Aliyun's limit for one variable of a notice template

# name -> (the approved text with {param} placeholders, parameter order for positional APIs)
TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "alert_staff": (
        "网格{grid}有{kind}（编号{alert}），请立即打开应用处理。",
        ("kind", "grid", "alert"),
    ),
    "alert_contacts": (
        "您的家人{name}按下了紧急求助按钮，求助已收到，社区工作人员正在赶去。社区值班电话{duty_phone}。",
        ("name", "duty_phone"),
    ),
    "case_result": ("您的{item}（编号{number}）{result}", ("item", "number", "result")),
    # {site} is PUBLIC_BASE_URL, fixed in the approved template; the path is the variable.
    "notice_link": ("{place}公示：{title}。详情：{site}/n/{token}", ("place", "title", "token")),
    "follow_up": (
        "请为本次服务评分：回复“{code} 分数(1-5)”，如“{code} 5”；不愿评价请回复“{code} N”。",
        ("code",),
    ),
}


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    template: str
    params: dict[str, str]
    out_id: str = ""
    sign_name: str = DEFAULT_SIGN_NAME
    text: str = field(default="", compare=False)


def check_phone(phone: str) -> str:
    """A mainland mobile number, 11 digits starting 13–19, nothing around it."""
    if not isinstance(phone, str) or not MAINLAND_MOBILE.fullmatch(phone):
        raise ValueError(f"not a mainland mobile number: {phone!r}")
    return phone


def check_params(template: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Exactly the template's parameters, each a short non-empty string."""
    if template not in TEMPLATES:
        raise ValueError(f"no SMS template {template!r}")
    names = TEMPLATES[template][1]
    if not isinstance(params, Mapping) or set(params) != set(names):
        raise ValueError(f"template {template!r} takes {sorted(names)}")
    for name, value in params.items():
        if not isinstance(value, str) or not value or len(value) > MAX_PARAM_LENGTH:
            raise ValueError(f"parameter {name!r} must be 1 to {MAX_PARAM_LENGTH} characters")
    return {name: params[name] for name in names}


def render(template: str, params: Mapping[str, str]) -> str:
    site = str(getattr(settings, "PUBLIC_BASE_URL", "")).rstrip("/")
    return TEMPLATES[template][0].format(site=site, **params)


def sign_name() -> str:
    return str(getattr(settings, "SMS_SIGN_NAME", "") or DEFAULT_SIGN_NAME)


def template_code(template: str) -> str:
    codes = getattr(settings, "SMS_TEMPLATE_CODES", None) or {}
    code = codes.get(template)
    if not code:
        raise ImproperlyConfigured(f"SMS_TEMPLATE_CODES has no code for {template!r}")
    return str(code)


def message(*, phone: str, template: str, params: Mapping[str, Any], out_id: str) -> SmsMessage:
    checked = check_params(template, params)
    name = sign_name()
    return SmsMessage(
        phone=check_phone(phone),
        template=template,
        params=checked,
        out_id=out_id,
        sign_name=name,
        text=f"【{name}】{render(template, checked)}",
    )


class BaseSmsBackend(ABC):
    name = "sms"

    @abstractmethod
    def send(self, message: SmsMessage) -> SendResult:
        """Hand one message to the gateway; never raises for the gateway's own refusals."""


def console_line(phone: str, text: str) -> str:
    """What a console backend prints of a message or call: in production stdout is the log,
    which holds no personal data, so the number masked and the text's length only."""
    if settings.PRODUCTION:
        return f"{phone[:3]}****{phone[-4:]} ({len(text)} characters)"
    return f"{phone}: {text}"


class ConsoleBackend(BaseSmsBackend):
    """Writes each message to stdout (development). In production stdout is the log, which
    must hold no personal data: there it writes the masked number and the text's length."""

    name = "console"
    _lock = threading.Lock()

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: SmsMessage) -> SendResult:
        with self._lock:
            self.stream.write(f"SMS to {console_line(message.phone, message.text)}\n")
            self.stream.flush()
        return SendResult(ok=True, provider=self.name, message_id=f"console-{message.out_id}")


# Messages sent through LocmemBackend, oldest first (like django.core.mail.outbox).
outbox: list[SmsMessage] = []


class LocmemBackend(BaseSmsBackend):
    """Keeps messages in `backend.notify.sms.outbox` (tests)."""

    name = "locmem"

    def send(self, message: SmsMessage) -> SendResult:
        outbox.append(message)
        return SendResult(ok=True, provider=self.name, message_id=f"locmem-{message.out_id}")


def _setting(name: str, default: Any = None) -> Any:
    value = getattr(settings, name, default)
    return default if value in (None, "") else value


class AliyunSmsBackend(BaseSmsBackend):
    """Aliyun SMS (dysmsapi 2017-05-25 SendSms) through its official SDK, signed with the
    access key (ACS3-HMAC-SHA256). OutId carries our row's idempotency key; the delivery
    receipt (SmsReport, HTTP batch push) names it and the BizId we keep as message id."""

    name = "aliyun"

    def __init__(self) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        key_id, secret = _setting("ALIYUN_ACCESS_KEY_ID"), _setting("ALIYUN_ACCESS_KEY_SECRET")
        if not key_id or not secret:
            raise ImproperlyConfigured("Aliyun SMS needs ALIYUN_ACCESS_KEY_ID and _SECRET")
        self.client = Client(
            Config(
                access_key_id=key_id,
                access_key_secret=secret,
                endpoint=_setting("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com"),
                protocol=_setting("ALIYUN_PROTOCOL", "https"),
                connect_timeout=3000,
                read_timeout=5000,
            )
        )

    def send(self, message: SmsMessage) -> SendResult:
        from alibabacloud_dysmsapi20170525 import models

        request = models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=message.sign_name,
            template_code=template_code(message.template),
            template_param=json.dumps(message.params, ensure_ascii=False),
            out_id=message.out_id,
        )
        try:
            body = self.client.send_sms(request).body
        except Exception as error:
            return aliyun_failure(self.name, error)
        if body.code == "OK":
            return SendResult(ok=True, provider=self.name, message_id=str(body.biz_id or ""))
        return aliyun_refusal(self.name, str(body.code), str(body.message))


# Aliyun's own codes a later try may get past: throttling and the platform's own trouble.
_ALIYUN_RETRYABLE = ("isp.", "isv.BUSINESS_LIMIT_CONTROL", "Throttling", "ServiceUnavailable")


def aliyun_refusal(provider: str, code: str, text: str) -> SendResult:
    retryable = code.startswith(_ALIYUN_RETRYABLE)
    return SendResult(ok=False, provider=provider, error=f"{code}: {text}", retryable=retryable)


def aliyun_failure(provider: str, error: Exception) -> SendResult:
    """An exception from the SDK: HTTP 5xx, a timeout or a refused connection may pass."""
    code = str(getattr(error, "code", "") or type(error).__name__)
    status = getattr(error, "statusCode", None) or getattr(error, "status_code", None)
    data = getattr(error, "data", None)
    if isinstance(data, dict) and not status:
        status = data.get("statusCode")
    retryable = (isinstance(status, int) and (status >= 500 or status == 429)) or not status
    if code.startswith(_ALIYUN_RETRYABLE):
        retryable = True
    return SendResult(
        ok=False, provider=provider, error=f"{code}: {error}"[:500], retryable=retryable
    )


class TencentSmsBackend(BaseSmsBackend):
    """Tencent Cloud SMS (SendSms 2021-01-11) through tencentcloud-sdk-python-sms, signed
    with TC3-HMAC-SHA256. SessionContext carries our idempotency key; the receipt callback
    names it with the SerialNo we keep as message id."""

    name = "tencent"

    def __init__(self) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        key_id, secret = _setting("TENCENT_SECRET_ID"), _setting("TENCENT_SECRET_KEY")
        app_id = _setting("TENCENT_SMS_SDK_APP_ID")
        if not key_id or not secret or not app_id:
            raise ImproperlyConfigured(
                "Tencent SMS needs TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TENCENT_SMS_SDK_APP_ID"
            )
        http = HttpProfile(
            endpoint=_setting("TENCENT_SMS_ENDPOINT", "sms.tencentcloudapi.com"),
            protocol=_setting("TENCENT_PROTOCOL", "https"),
            reqTimeout=5,
        )
        self.app_id = str(app_id)
        self.client = sms_client.SmsClient(
            credential.Credential(key_id, secret),
            _setting("TENCENT_SMS_REGION", "ap-guangzhou"),
            ClientProfile(httpProfile=http),
        )

    def send(self, message: SmsMessage) -> SendResult:
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.SmsSdkAppId = self.app_id
        request.SignName = message.sign_name
        request.TemplateId = template_code(message.template)
        request.TemplateParamSet = list(message.params.values())
        request.PhoneNumberSet = [f"+86{message.phone}"]
        request.SessionContext = message.out_id
        try:
            response = self.client.SendSms(request)
        except Exception as error:
            code = str(getattr(error, "code", "") or type(error).__name__)
            retryable = code.startswith(("InternalError", "RequestLimitExceeded", "ClientNetwork"))
            text = str(getattr(error, "message", "") or error)
            return SendResult(
                ok=False, provider=self.name, error=f"{code}: {text}"[:500], retryable=retryable
            )
        status = response.SendStatusSet[0]
        if status.Code == "Ok":
            return SendResult(ok=True, provider=self.name, message_id=str(status.SerialNo))
        retryable = str(status.Code).startswith(("InternalError", "LimitExceeded"))
        return SendResult(
            ok=False,
            provider=self.name,
            error=f"{status.Code}: {status.Message}",
            retryable=retryable,
        )


_backends: dict[str, BaseSmsBackend] = {}
_backends_lock = threading.Lock()


def get_sms_backend() -> BaseSmsBackend:
    """The configured backend, built once per process (SDK clients keep their connections)."""
    path = getattr(settings, "SMS_BACKEND", None)
    if not path:
        if getattr(settings, "PRODUCTION", False):
            raise ImproperlyConfigured("Set SMS_BACKEND: production cannot send SMS to a console.")
        path = DEFAULT_BACKEND
    with _backends_lock:
        backend = _backends.get(path)
        if backend is None:
            backend = _backends[path] = import_string(path)()
        return backend


def reset_backends() -> None:
    with _backends_lock:
        _backends.clear()


def send_template(
    *, phone: str, template: str, params: Mapping[str, Any], out_id: str
) -> SendResult:
    """Send one template message now (the outbox's SMS sender calls this); ValueError on a
    bad number, template or parameter before any backend runs."""
    return get_sms_backend().send(
        message(phone=phone, template=template, params=params, out_id=out_id)
    )
