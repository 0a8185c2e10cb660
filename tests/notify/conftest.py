"""Fixtures: stand-ins on 127.0.0.1 for FCM, JPush and Aliyun (SMS and voice), each driven by
the provider's real SDK pointed at it through settings or the environment (HTTPS proxy + CA
bundle for FCM and JPush), exactly as a deployment behind a proxy would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from backend.notify import sms, voice
from backend.notify.push import FCMProvider, get_provider, reset_providers

from .aliyun_standin import AliyunStandIn
from .fcm_standin import FcmStandIn, ServiceAccount, make_tls_files
from .jpush_standin import JPUSH_HOST, JPushStandIn

PROJECT_ID = "gridline-test"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(scope="session")
def service_account() -> ServiceAccount:
    return ServiceAccount.generate(PROJECT_ID)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_tls_files(tmp_path_factory.mktemp("fcm-tls"))


@pytest.fixture
def fcm(
    service_account: ServiceAccount,
    tls_files: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FcmStandIn]:
    ca, cert, key = tls_files
    standin = FcmStandIn(account=service_account, tls_cert=cert, tls_key=key)
    standin.start()
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", standin.origin)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    yield standin
    standin.stop()
    # Nothing may have reached the stand-in in a way it did not expect.
    assert not standin.refused, standin.refused


@pytest.fixture
def provider(
    fcm: FcmStandIn, service_account: ServiceAccount, settings: SettingsWrapper
) -> Iterator[FCMProvider]:
    settings.FCM_CREDENTIALS = service_account.info(token_uri=fcm.token_uri)
    settings.FCM_SEND_DEADLINE_SECONDS = 5
    provider = get_provider("fcm")
    assert isinstance(provider, FCMProvider)
    yield provider
    reset_providers()


@pytest.fixture
def sms_outbox(settings: SettingsWrapper) -> Iterator[list[sms.SmsMessage]]:
    settings.SMS_BACKEND = "backend.notify.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


# JPush, Aliyun (SMS and voice) ------------------------------------------------------------

JPUSH_KEY, JPUSH_SECRET = "a1b2c3d4e5f6a7b8c9d0e1f2", "f0e1d2c3b4a5f6e7d8c9b0a1"
ALIYUN_KEY, ALIYUN_SECRET = "LTAI5tStandInKey", "standin-access-key-secret"
CALLBACK_TOKENS = {"aliyun": "sms-cb-secret", "aliyun-voice": "voice-cb-secret"}
SMS_CODES = {"alert_staff": "SMS_470001", "alert_contacts": "SMS_470002", "case_result": "SMS_3"}
VOICE_CODES = {
    "alert_staff_call": "TTS_280001",
    "resident_callback": "TTS_280002",
    "key_1": "TTS_280011",
    "key_2": "TTS_280012",
    "poll_vote": "TTS_280021",
    "poll_key": "TTS_280022",
    "hearing_invite_call": "TTS_280031",
    "hearing_key_1": "TTS_280032",
}


@pytest.fixture(scope="session")
def jpush_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_tls_files(tmp_path_factory.mktemp("jpush-tls"), hostname=JPUSH_HOST)


@pytest.fixture
def jpush(
    jpush_tls: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> Iterator[JPushStandIn]:
    """The JPush stand-in, with the real `jpush` SDK pointed at it through the environment."""
    ca, cert, key = jpush_tls
    standin = JPushStandIn(JPUSH_KEY, JPUSH_SECRET, tls_cert=cert, tls_key=key).start()
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", standin.origin)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    settings.JPUSH_APP_KEY, settings.JPUSH_MASTER_SECRET = JPUSH_KEY, JPUSH_SECRET
    reset_providers()
    yield standin
    reset_providers()
    standin.stop()
    assert not standin.refused, standin.refused


def aliyun_settings(endpoint: str) -> dict[str, object]:
    """The settings (or environment) that point the Aliyun SDKs at the stand-in."""
    return {
        "SMS_BACKEND": "backend.notify.sms.AliyunSmsBackend",
        "VOICE_BACKEND": "backend.notify.voice.AliyunVoiceBackend",
        "ALIYUN_ACCESS_KEY_ID": ALIYUN_KEY,
        "ALIYUN_ACCESS_KEY_SECRET": ALIYUN_SECRET,
        "ALIYUN_SMS_ENDPOINT": endpoint,
        "ALIYUN_VOICE_ENDPOINT": endpoint,
        "ALIYUN_PROTOCOL": "http",
        "ALIYUN_VOICE_SHOW_NUMBER": "057100000000",
        "SMS_TEMPLATE_CODES": SMS_CODES,
        "VOICE_TEMPLATE_CODES": VOICE_CODES,
        "NOTIFY_CALLBACK_TOKENS": CALLBACK_TOKENS,
    }


@pytest.fixture
def aliyun(settings: SettingsWrapper) -> Iterator[AliyunStandIn]:
    """The Aliyun SMS and voice stand-in, with both official SDKs pointed at it."""
    standin = AliyunStandIn(ALIYUN_KEY, ALIYUN_SECRET).start()
    for name, value in aliyun_settings(standin.endpoint).items():
        setattr(settings, name, value)
    yield standin
    sms.reset_backends()
    voice.reset_backends()
    standin.stop()
    assert not standin.refused, standin.refused
