"""Fixtures: an FCM stand-in on 127.0.0.1 and an FCM provider pointed at it through the
environment (HTTPS proxy + CA bundle), exactly as a deployment behind a proxy would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from backend.notify import sms
from backend.notify.push import FCMProvider, get_provider, reset_providers

from .fcm_standin import FcmStandIn, ServiceAccount, make_tls_files

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
