"""FCM through the real firebase-admin SDK against a wire-level stand-in; registry; pruning."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings as SettingsWrapper

from backend.accounts.actions import do_register_push_token
from backend.accounts.models import PushToken, Role, User
from backend.notify.push import (
    FCMProvider,
    LogProvider,
    PushResult,
    get_provider,
    prune_unregistered,
    reset_providers,
)

from .conftest import PROJECT_ID
from .fcm_standin import FCM_HOST, FcmStandIn, ServiceAccount, fcm_error

PHONE_A = "fcm-token-phone-a:" + "a" * 140
PHONE_B = "fcm-token-phone-b:" + "b" * 140
ALERT = {"type": "alert.raised", "alert_id": "42", "title": "一键求助", "body": "3号楼 2单元"}


def unavailable() -> dict:
    return fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.")


def test_urgent_push_on_the_wire(provider: FCMProvider, fcm: FcmStandIn) -> None:
    sent_at = time.time()
    results = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True, collapse_key=None)

    assert results == [PushResult(token=PHONE_A, ok=True)]
    # OAuth2: one JWT-bearer exchange, signed by the service account's key (verified there).
    assert len(fcm.token_requests) == 1
    assert fcm.token_requests[0]["iss"] == fcm.account.client_email
    # Reached "fcm.googleapis.com" over verified TLS through the proxy.
    assert fcm.connects == [f"{FCM_HOST}:443"]
    [request] = fcm.fcm_requests
    assert request.path == f"/v1/projects/{PROJECT_ID}/messages:send"
    assert request.headers["authorization"] == f"Bearer {fcm.issued_tokens[0]}"
    message = request.message
    assert message["token"] == PHONE_A
    assert message["data"] == ALERT
    assert all(isinstance(value, str) for value in message["data"].values())
    assert "notification" not in message  # a data message: the app builds the notification
    assert message["android"] == {"priority": "high", "ttl": "120s"}
    apns = message["apns"]
    assert apns["headers"]["apns-priority"] == "10"
    assert apns["headers"]["apns-push-type"] == "alert"
    expires = int(apns["headers"]["apns-expiration"])
    assert sent_at + 115 <= expires <= time.time() + 125
    assert apns["payload"]["aps"]["alert"] == {"title": "一键求助", "body": "3号楼 2单元"}
    assert apns["payload"]["aps"]["sound"] == "default"
    assert "validate_only" not in request.body


def test_normal_push_is_background_and_collapsible(provider: FCMProvider, fcm: FcmStandIn) -> None:
    results = provider.send(
        tokens=[PHONE_A], data={"type": "roster.changed"}, urgent=False, collapse_key="roster"
    )

    assert results == [PushResult(token=PHONE_A, ok=True)]
    [request] = fcm.fcm_requests
    assert request.message["android"] == {
        "priority": "normal",
        "ttl": "3600s",
        "collapse_key": "roster",
    }
    headers = request.message["apns"]["headers"]
    assert headers["apns-priority"] == "5"
    assert headers["apns-push-type"] == "background"
    assert headers["apns-collapse-id"] == "roster"
    assert request.message["apns"]["payload"]["aps"] == {"content-available": 1}


def test_access_token_is_reused_across_sends(provider: FCMProvider, fcm: FcmStandIn) -> None:
    provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)
    provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)

    assert len(fcm.token_requests) == 1
    assert len(fcm.fcm_requests) == 2
    assert {r.headers["authorization"] for r in fcm.fcm_requests} == {
        f"Bearer {fcm.issued_tokens[0]}"
    }


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.")),
        (500, fcm_error(500, "INTERNAL", "Internal error encountered.")),
    ],
)
def test_server_error_is_retried_then_delivered(
    provider: FCMProvider, fcm: FcmStandIn, status: int, body: dict
) -> None:
    fcm.reply(PHONE_A, status, body)

    results = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)

    assert results == [PushResult(token=PHONE_A, ok=True)]
    requests = fcm.requests_for(PHONE_A)
    assert len(requests) == 2
    assert requests[0].body == requests[1].body


def test_persistent_503_is_bounded_and_retryable(
    provider: FCMProvider, fcm: FcmStandIn, settings: SettingsWrapper
) -> None:
    settings.FCM_SEND_DEADLINE_SECONDS = 1.5
    provider = get_provider("fcm")  # type: ignore[assignment]  # rebuilt for the new setting
    assert isinstance(provider, FCMProvider)
    assert provider.deadline == 1.5
    fcm.reply(PHONE_A, 503, unavailable(), times=100)

    started = time.monotonic()
    [result] = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)
    elapsed = time.monotonic() - started

    assert not result.ok and not result.unregistered
    assert result.retryable
    assert result.error and result.error.startswith("DEADLINE_EXCEEDED")
    assert 1.4 < elapsed < 2.5
    # The SDK retried (immediately, then after 1 s) before our deadline gave up waiting.
    assert 2 <= len(fcm.requests_for(PHONE_A)) <= 3


@pytest.mark.django_db
def test_unregistered_token_is_reported_and_pruned(provider: FCMProvider, fcm: FcmStandIn) -> None:
    user = User.objects.create_user(phone="13800138000", name="网格员甲", role=Role.WORKER)
    do_register_push_token(user=user, token=PHONE_A, platform="android", provider="fcm")
    do_register_push_token(user=user, token=PHONE_B, platform="ios", provider="fcm")
    fcm.reply(
        PHONE_A,
        404,
        fcm_error(404, "NOT_FOUND", "Requested entity was not found.", fcm_code="UNREGISTERED"),
    )

    results = provider.send(tokens=[PHONE_A, PHONE_B], data=ALERT, urgent=True)

    dead, alive = results
    assert dead.token == PHONE_A and dead.unregistered and not dead.ok
    assert not dead.retryable
    assert dead.error and dead.error.startswith("UNREGISTERED")
    assert alive == PushResult(token=PHONE_B, ok=True)
    assert len(fcm.requests_for(PHONE_A)) == 1  # a 404 is final: not retried
    assert len(fcm.requests_for(PHONE_B)) == 1

    assert prune_unregistered(results) == 1
    assert list(PushToken.objects.values_list("token", flat=True)) == [PHONE_B]
    assert prune_unregistered(results) == 0


def test_malformed_registration_token_counts_as_unregistered(
    provider: FCMProvider, fcm: FcmStandIn
) -> None:
    fcm.reply(
        PHONE_A,
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            fcm_code="INVALID_ARGUMENT",
        ),
    )

    [result] = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)

    assert result.unregistered and not result.ok and not result.retryable
    assert len(fcm.requests_for(PHONE_A)) == 1


@pytest.mark.django_db
def test_invalid_argument_is_an_error_not_retried_and_keeps_the_token(
    provider: FCMProvider, fcm: FcmStandIn
) -> None:
    user = User.objects.create_user(phone="13800138001", name="网格员乙", role=Role.WORKER)
    do_register_push_token(user=user, token=PHONE_A, platform="android", provider="fcm")
    fcm.reply(
        PHONE_A,
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)",
            fcm_code="INVALID_ARGUMENT",
        ),
    )

    results = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)

    [result] = results
    assert not result.ok and not result.unregistered and not result.retryable
    assert result.error and result.error.startswith("INVALID_ARGUMENT")
    assert len(fcm.requests_for(PHONE_A)) == 1
    assert prune_unregistered(results) == 0
    assert PushToken.objects.filter(token=PHONE_A).count() == 1


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable", "attempts"),
    [
        (
            429,
            fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", fcm_code="QUOTA_EXCEEDED"),
            "QUOTA_EXCEEDED",
            True,
            1,
        ),
        # A wrong service account makes every token say this: never prune on it.
        (
            403,
            fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", fcm_code="SENDER_ID_MISMATCH"),
            "SENDER_ID_MISMATCH",
            False,
            1,
        ),
        # FCM answers an APNs credential problem with HTTP 401; google-auth takes any 401 for
        # an expired access token and refreshes it twice, re-sending each time.
        (
            401,
            fcm_error(
                401, "UNAUTHENTICATED", "Auth error from APNS", fcm_code="THIRD_PARTY_AUTH_ERROR"
            ),
            "THIRD_PARTY_AUTH_ERROR",
            False,
            3,
        ),
    ],
)
def test_other_fcm_errors_keep_the_token(
    provider: FCMProvider,
    fcm: FcmStandIn,
    status: int,
    body: dict,
    code: str,
    retryable: bool,
    attempts: int,
) -> None:
    fcm.reply(PHONE_A, status, body, times=attempts)

    [result] = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)

    assert not result.ok and not result.unregistered
    assert result.retryable is retryable
    assert result.error and result.error.startswith(code)
    assert len(fcm.requests_for(PHONE_A)) == attempts
    assert len(fcm.token_requests) == attempts


@pytest.mark.parametrize(
    "data",
    [
        {"alert_id": 42},
        {"type": "alert.raised", "urgent": True},
        {"type": None},
        {"from": "gridline"},
        {"google.c.a.e": "1"},
        {"blob": "x" * 5000},
    ],
)
def test_bad_data_is_refused_before_any_request(
    provider: FCMProvider, fcm: FcmStandIn, data: dict
) -> None:
    with pytest.raises(ValueError, match="push data"):
        provider.send(tokens=[PHONE_A], data=data, urgent=True)

    assert fcm.token_requests == [] and fcm.connects == [] and fcm.fcm_requests == []


def test_bad_tokens_are_refused_and_no_tokens_sends_nothing(
    provider: FCMProvider, fcm: FcmStandIn
) -> None:
    with pytest.raises(ValueError, match="tokens"):
        provider.send(tokens=[PHONE_A, ""], data=ALERT, urgent=True)
    with pytest.raises(ValueError, match="tokens"):
        provider.send(tokens=PHONE_A, data=ALERT, urgent=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="collapse_key"):
        provider.send(tokens=[PHONE_A], data=ALERT, urgent=True, collapse_key="k" * 65)
    assert provider.send(tokens=[], data=ALERT, urgent=True) == []

    assert fcm.token_requests == [] and fcm.connects == [] and fcm.fcm_requests == []


# Registry ---------------------------------------------------------------------------------


@pytest.fixture
def no_fcm_credentials(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FCM_CREDENTIALS_FILE", raising=False)
    settings.FCM_CREDENTIALS = None
    settings.PUSH_PROVIDERS = None
    reset_providers()


def test_development_default_only_logs(
    no_fcm_credentials: None, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture
) -> None:
    settings.PRODUCTION = False
    provider = get_provider("fcm")
    assert isinstance(provider, LogProvider)
    assert get_provider("fcm") is provider

    with caplog.at_level(logging.INFO, logger="backend.notify.push"):
        results = provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)

    assert results == [PushResult(token=PHONE_A, ok=True)]
    assert "alert_id" in caplog.text
    assert "3号楼" not in caplog.text  # keys only: values may be personal data
    with pytest.raises(ValueError):
        provider.send(tokens=[PHONE_A], data={"alert_id": 42}, urgent=True)  # type: ignore[dict-item]


def test_production_without_credentials_refuses_to_start(
    no_fcm_credentials: None, settings: SettingsWrapper
) -> None:
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured, match="FCM_CREDENTIALS"):
        get_provider("fcm")


def test_credentials_file_from_environment(
    no_fcm_credentials: None,
    fcm: FcmStandIn,
    service_account: ServiceAccount,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account.info(token_uri=fcm.token_uri)))
    monkeypatch.setenv("FCM_CREDENTIALS_FILE", str(path))
    try:
        provider = get_provider("fcm")
        assert isinstance(provider, FCMProvider)
        assert provider.project_id == PROJECT_ID
        assert provider.send(tokens=[PHONE_A], data=ALERT, urgent=True)[0].ok
    finally:
        reset_providers()
    assert len(fcm.fcm_requests) == 1


def test_push_providers_setting_maps_names_to_classes(
    no_fcm_credentials: None, settings: SettingsWrapper
) -> None:
    settings.PUSH_PROVIDERS = {"xiaomi": "backend.notify.push.LogProvider"}
    assert isinstance(get_provider("xiaomi"), LogProvider)
    with pytest.raises(ImproperlyConfigured, match="fcm"):
        get_provider("fcm")
