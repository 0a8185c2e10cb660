"""manage.py press_button: a simulated button device, signing exactly as hardware does.

    manage.py press_button --device DEMO-PENDANT-1 [--kind help] [--url http://127.0.0.1:8000]

Without --secret it looks the device's secret up in the database (the demo); real hardware
holds the secret it was given once at registration.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.alerts.models import Device
from backend.alerts.signing import signed_headers


class Command(BaseCommand):
    help = "Press a (simulated) one-key emergency button: a signed POST to the running server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--device", required=True, help="device id, e.g. DEMO-PENDANT-1")
        parser.add_argument("--kind", choices=["emergency", "help"], default="emergency")
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--secret", help="the device secret (default: read from the DB)")
        parser.add_argument("--battery", type=int, default=87)
        parser.add_argument("--heartbeat", action="store_true", help="send a heartbeat instead")

    def handle(self, *args: Any, **options: Any) -> None:
        secret = options["secret"]
        if not secret:
            device = Device.objects.filter(device_id=options["device"]).first()
            if device is None:
                raise CommandError(
                    f"No device {options['device']!r}; see `seed_demo --print-logins`."
                )
            secret = device.secret
        if options["heartbeat"]:
            path, body = "/api/v1/device/heartbeat", {"battery": options["battery"]}
        else:
            path = "/api/v1/device/alerts"
            body = {
                "client_alert_id": str(uuid.uuid4()),
                "kind": options["kind"],
                "battery": options["battery"],
            }
        raw = json.dumps(body).encode()
        headers = signed_headers(secret, options["device"], raw, path=path, nonce=uuid.uuid4().hex)
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
            options["url"].rstrip("/") + path,
            data=raw,
            headers={**headers, "Content-Type": "application/json"},
            method="POST",
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read().decode()
        except urllib.error.URLError as error:
            raise CommandError(f"Cannot reach {options['url']}: {error.reason}") from error
        elapsed = (time.perf_counter() - started) * 1000
        self.stdout.write(f"{status} in {elapsed:.0f} ms: {answer}")
        if status >= 400:
            raise CommandError("the server refused the press")
