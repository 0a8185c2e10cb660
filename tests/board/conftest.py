"""Board fixtures: supervisors with a TOTP device, and a browser-like client logged in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP

from backend.accounts.actions import do_enrol_totp
from backend.accounts.models import TOTPKey as TOTPDevice
from backend.accounts.models import User
from tests.conftest import PASSWORD, World

TOTP_KEY_HEX = b"board-test-totp-key!".hex()


def current_code(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def code_of_step(device: TOTPDevice, t: int) -> str:
    """The code of time step `t` (e.g. the device's last used step, `device.last_t`)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, 0)
    totp.time = device.t0 + t * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(user: User) -> TOTPDevice:
    return do_enrol_totp(user=user, key_hex=TOTP_KEY_HEX)


class BoardClient(Client):
    """A browser: session cookie, CSRF token from the page, JSON bodies."""

    def __init__(self, **defaults: Any) -> None:
        super().__init__(enforce_csrf_checks=True, **defaults)
        self.csrf = ""

    def log_in(self, user: User, password: str = PASSWORD) -> None:
        self.get("/board/login/")
        response = self.post(
            "/board/login/",
            {"phone": user.phone, "password": password, "csrfmiddlewaretoken": self.token()},
        )
        assert response.status_code == 302, response.content.decode()
        device = TOTPDevice.objects.get(user=user)
        response = self.post(
            "/board/login/verify/",
            {"code": current_code(device), "csrfmiddlewaretoken": self.token()},
        )
        assert response.status_code == 302 and response["Location"] == "/board/", response
        self.get("/board/")
        self.csrf = self.token()

    def token(self) -> str:
        return self.cookies["csrftoken"].value if "csrftoken" in self.cookies else ""

    def post_json(self, path: str, body: Any) -> Any:
        import json

        return self.post(
            path, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=self.csrf
        )


@pytest.fixture
def board_for(world: World) -> Any:
    def make(user: User) -> BoardClient:
        if not TOTPDevice.objects.filter(user=user).exists():
            enrol(user)
        client = BoardClient()
        client.log_in(user)
        return client

    return make
