"""An admin user logged in the only way the admin allows: the board's log-in form (password
under the lock-out), then the TOTP code."""

from __future__ import annotations

from django.test import Client
from django_otp.oath import TOTP

from backend.accounts.actions import do_enrol_totp, totp_device
from backend.accounts.models import TOTPKey, User
from tests.conftest import PASSWORD

ADMIN_TOTP_KEY_HEX = b"admin-test-totp-key!".hex()


def unused_code(device: TOTPKey) -> str:
    """The current code, or the next step's when the current one was used already (the
    device refuses a step it accepted; it allows one step ahead)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if totp.t() <= device.last_t:
        totp.time = totp.time + (device.last_t + 1 - totp.t()) * device.step
    return f"{totp.token():0{device.digits}d}"


def admin_client_for(user: User, password: str = PASSWORD) -> Client:
    if not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    device = totp_device(user) or do_enrol_totp(user=user, key_hex=ADMIN_TOTP_KEY_HEX)
    client = Client()
    first = client.post("/board/login/?next=/admin/", {"phone": user.phone, "password": password})
    assert first.status_code == 302, first.content.decode()
    second = client.post("/board/login/verify/", {"code": unused_code(device)})
    assert second.status_code == 302, second.content.decode()
    assert second["Location"] == "/admin/", second["Location"]
    return client
