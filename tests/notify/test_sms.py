"""Template SMS through the pluggable backend: locmem outbox for tests, console for development."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings as SettingsWrapper

from backend.notify import sms
from backend.notify.sms import ConsoleBackend, SmsMessage, message, send_template

STAFF = {"kind": "紧急求助", "grid": "12", "alert": "345"}


def test_locmem_backend_keeps_messages_in_the_outbox(sms_outbox: list[SmsMessage]) -> None:
    result = send_template(phone="13912345678", template="alert_staff", params=STAFF, out_id="o1")
    assert result.ok and result.message_id == "locmem-o1"
    [sent] = sms_outbox
    assert sent.phone == "13912345678" and sent.template == "alert_staff"
    assert sent.params == STAFF and sent.out_id == "o1" and sent.sign_name == "社区一键通"
    assert sent.text == "【社区一键通】网格12有紧急求助（编号345），请立即打开应用处理。"
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
        send_template(phone=phone, template="alert_staff", params=STAFF, out_id="x")  # type: ignore[arg-type]
    assert sms_outbox == []


@pytest.mark.parametrize(
    ("template", "params", "error"),
    [
        ("free_text", STAFF, "no SMS template"),
        ("alert_staff", {**STAFF, "address": "3号楼"}, "takes"),
        ("alert_staff", {"kind": "紧急求助", "grid": "12"}, "takes"),
        ("alert_staff", {**STAFF, "grid": ""}, "characters"),
        ("alert_staff", {**STAFF, "grid": "x" * 36}, "characters"),
        ("alert_staff", {**STAFF, "grid": 12}, "characters"),
    ],
)
def test_unknown_templates_and_bad_params_are_refused(
    sms_outbox: list[SmsMessage], template: str, params: dict, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        send_template(phone="13912345678", template=template, params=params, out_id="x")
    assert sms_outbox == []


def test_console_backend_is_the_development_default(
    settings: SettingsWrapper, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.SMS_BACKEND = None
    settings.PRODUCTION = False
    assert isinstance(sms.get_sms_backend(), ConsoleBackend)

    send_template(phone="13800138000", template="alert_staff", params=STAFF, out_id="c")

    assert capsys.readouterr().out == (
        "SMS to 13800138000: 【社区一键通】网格12有紧急求助（编号345），请立即打开应用处理。\n"
    )


def test_console_backend_writes_to_a_given_stream() -> None:
    stream = io.StringIO()
    one = message(phone="13800138000", template="alert_staff", params=STAFF, out_id="s")
    assert ConsoleBackend(stream).send(one).ok
    assert stream.getvalue() == f"SMS to 13800138000: {one.text}\n"


def test_production_must_name_a_backend(settings: SettingsWrapper) -> None:
    settings.SMS_BACKEND = None
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        send_template(phone="13800138000", template="alert_staff", params=STAFF, out_id="p")
