"""manage.py board_totp: set up the board's second factor (TOTP) for a supervisor or
district officer — the administrator's enrolment step.

    manage.py board_totp --phone 19900120001            # new key: prints the otpauth:// URI
    manage.py board_totp --phone 19900120001 --code     # demo accounts only: today's code

Give the user the URI (as a QR code, e.g. `qrencode -t ansiutf8 '<uri>'`) or the base32 key
once; a new enrolment replaces the old device. `--code` works only for devices holding the
published demo key, so it never weakens a real account.
"""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP

from backend.accounts.actions import BOARD_ROLES, DEMO_TOTP_KEY_HEX, do_enrol_totp, totp_device
from backend.accounts.models import User


class Command(BaseCommand):
    help = "Enrol a board user's TOTP device (prints the key once), or print a demo code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--phone", required=True)
        parser.add_argument(
            "--code", action="store_true", help="print the current code (demo key only)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(phone=options["phone"]).first()
        if user is None or user.role not in BOARD_ROLES:
            raise CommandError("No supervisor or district officer with that phone.")
        if options["code"]:
            if settings.PRODUCTION:
                raise CommandError("--code is for the demo accounts, not in production.")
            device = totp_device(user)
            if device is None or device.key != DEMO_TOTP_KEY_HEX:
                raise CommandError("--code is for the demo accounts (the published demo key).")
            totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
            self.stdout.write(f"{totp.token():0{device.digits}d}")
            return
        device = do_enrol_totp(user=user)
        key = base64.b32encode(device.bin_key).decode()
        self.stdout.write(f"TOTP for {user.name} {user.phone} (shown once):")
        self.stdout.write(f"  key (base32): {key}")
        self.stdout.write(f"  URI: {device.config_url}")
