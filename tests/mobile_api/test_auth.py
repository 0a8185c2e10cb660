"""Mobile log-in: tokens, rotation, reuse detection, revocation and lock-out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from backend.accounts.models import MobileSession, PushToken, RefreshToken
from tests.conftest import PASSWORD, ApiClient, World, login

pytestmark = pytest.mark.django_db


def post(path: str, body: dict[str, object], **extra: Any) -> Any:
    return Client().post(path, body, content_type="application/json", **extra)


def test_login_gives_working_access_and_refresh_tokens(world: World) -> None:
    tokens = login(world.worker_a.phone)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == int(settings.ACCESS_TOKEN_LIFETIME.total_seconds())
    me = ApiClient(tokens["access_token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["phone"] == world.worker_a.phone
    assert [g["code"] for g in me.json()["b_post_grids"]] == ["C01-G01"]
    assert me.json()["on_duty"] is True


def test_wrong_password_is_401_with_code_in_callers_language(world: World) -> None:
    zh = post("/api/v1/auth/login", {"phone": world.worker_a.phone, "password": "nope"})
    en = post(
        "/api/v1/auth/login",
        {"phone": world.worker_a.phone, "password": "nope"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert zh.status_code == en.status_code == 401
    assert zh.json()["error"]["code"] == en.json()["error"]["code"] == "invalid_credentials"
    assert zh.json()["error"]["message"] == "手机号或密码错误。"
    assert en.json()["error"]["message"] == "Wrong phone number or password."
    assert MobileSession.objects.count() == 0


def test_five_failures_lock_the_account_for_fifteen_minutes(world: World) -> None:
    phone = world.worker_a.phone
    for _ in range(4):
        assert post("/api/v1/auth/login", {"phone": phone, "password": "x"}).status_code == 401
    fifth = post("/api/v1/auth/login", {"phone": phone, "password": "x"})
    assert fifth.status_code in (401, 429)
    locked = post("/api/v1/auth/login", {"phone": phone, "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "account_locked"
    # Another account is not affected.
    assert (
        post(
            "/api/v1/auth/login", {"phone": world.worker_b.phone, "password": PASSWORD}
        ).status_code
        == 200
    )
    # After the cool-off the right password works again.
    from backend.accounts.models import LoginGuard

    LoginGuard.objects.update(last_at=timezone.now() - timedelta(minutes=16))
    assert post("/api/v1/auth/login", {"phone": phone, "password": PASSWORD}).status_code == 200


def test_refresh_rotates_and_reuse_revokes_the_family(world: World) -> None:
    first = login(world.worker_a.phone)
    second = post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    assert ApiClient(second_tokens["access_token"]).get("/api/v1/me").status_code == 200

    reused = post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_reused"
    # The whole family is gone: the newer refresh token and access token are refused too.
    newer = post("/api/v1/auth/refresh", {"refresh_token": second_tokens["refresh_token"]})
    assert newer.status_code == 401
    assert newer.json()["error"]["code"] == "token_revoked"
    me = ApiClient(second_tokens["access_token"]).get("/api/v1/me")
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "token_revoked"
    assert MobileSession.objects.get().revoke_reason == "refresh_reused"


def test_logout_revokes_access_and_refresh(world: World) -> None:
    tokens = login(world.worker_a.phone)
    client = ApiClient(tokens["access_token"])
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/me").json()["error"]["code"] == "token_revoked"
    again = post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


def test_expired_forged_and_garbage_access_tokens_are_refused(world: World) -> None:
    tokens = login(world.worker_a.phone)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    expired = jwt.encode(
        {**claims, "exp": int((timezone.now() - timedelta(seconds=5)).timestamp())},
        settings.JWT_SIGNING_KEY,
        algorithm="HS256",
    )
    forged = jwt.encode(claims, "not-the-signing-key-of-this-server-at-all", algorithm="HS256")
    other_user = jwt.encode(
        {**claims, "sub": str(world.admin.pk)}, settings.JWT_SIGNING_KEY, algorithm="HS256"
    )
    for token in (expired, forged, other_user, "garbage"):
        response = ApiClient(token).get("/api/v1/me")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_invalid"


def test_expired_refresh_token_is_refused(world: World) -> None:
    tokens = login(world.worker_a.phone)
    RefreshToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_push_token_registration_is_idempotent(world: World) -> None:
    client = ApiClient(login(world.worker_a.phone)["access_token"])
    body = {"token": "fcm-token-abc", "platform": "android"}
    first = client.post("/api/v1/me/push-tokens", body)
    second = client.post("/api/v1/me/push-tokens", body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert PushToken.objects.get().user == world.worker_a


def test_bad_push_token_body_names_the_field_and_changes_nothing(world: World) -> None:
    client = ApiClient(login(world.worker_a.phone)["access_token"], HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/api/v1/me/push-tokens", {"token": "x", "platform": "nokia"})
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {"platform"}
    assert PushToken.objects.count() == 0


def test_malformed_json_is_a_clear_400(world: World) -> None:
    response = Client().post("/api/v1/auth/login", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_an_exhausted_connection_pool_is_a_503_to_retry_not_a_500() -> None:
    from django.db import OperationalError
    from django.test import RequestFactory
    from psycopg_pool import PoolTimeout

    from mobile_api.api import api

    try:
        try:
            raise PoolTimeout("couldn't get a connection after 30.00 sec")
        except PoolTimeout as cause:
            raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        response = api.on_exception(RequestFactory().post("/api/v1/device/alerts"), exc)
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert b'"service_busy"' in response.content
