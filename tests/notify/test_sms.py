"""SMS through the pluggable backend: locmem outbox for tests, console for development."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings as SettingsWrapper

from backend.notify import sms
from backend.notify.sms import ConsoleBackend, SmsMessage, send_sms


def test_locmem_backend_keeps_messages_in_the_outbox(sms_outbox: list[SmsMessage]) -> None:
    send_sms(phone="13912345678", text="【网格通】3号楼 2单元 一键求助，请立即响应。")
    send_sms(phone="19900001111", text="second")

    assert sms_outbox == [
        SmsMessage(phone="13912345678", text="【网格通】3号楼 2单元 一键求助，请立即响应。"),
        SmsMessage(phone="19900001111", text="second"),
    ]
    assert sms.outbox is sms_outbox


@pytest.mark.parametrize(
    "phone",
    [
        "12912345678",  # second digit 2: not a mobile prefix
        "1391234567",  # 10 digits
        "139123456789",  # 12 digits
        "+8613912345678",
        "86-13912345678",
        "139 1234 5678",
        "13912345678\n",  # `$` would have let this through
        "１３９１２３４５６７８",  # full-width digits
        "1३912345678",  # Devanagari digit: \d would match it
        "",
        13912345678,
        None,
    ],
)
def test_invalid_phone_is_refused_and_nothing_is_sent(
    sms_outbox: list[SmsMessage], phone: object
) -> None:
    with pytest.raises(ValueError, match="mainland mobile"):
        send_sms(phone=phone, text="hello")  # type: ignore[arg-type]
    assert sms_outbox == []


@pytest.mark.parametrize("text", ["", "   ", "x" * 501, None])
def test_empty_or_oversized_text_is_refused(sms_outbox: list[SmsMessage], text: object) -> None:
    with pytest.raises(ValueError, match="SMS text"):
        send_sms(phone="13912345678", text=text)  # type: ignore[arg-type]
    assert sms_outbox == []


def test_console_backend_is_the_development_default(
    settings: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.SMS_BACKEND = None
    settings.PRODUCTION = False
    assert isinstance(sms.get_sms_backend(), ConsoleBackend)

    send_sms(phone="13800138000", text="测试短信")

    assert capsys.readouterr().out == "SMS to 13800138000: 测试短信\n"


def test_console_backend_writes_to_a_given_stream() -> None:
    stream = io.StringIO()
    sent = ConsoleBackend(stream).send_messages([SmsMessage("13800138000", "a")])
    assert sent == 1
    assert stream.getvalue() == "SMS to 13800138000: a\n"


def test_production_must_name_a_backend(settings: SettingsWrapper) -> None:
    settings.SMS_BACKEND = None
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        send_sms(phone="13800138000", text="hello")
