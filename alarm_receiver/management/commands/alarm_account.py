"""manage.py alarm_account: register an alarm panel's DC-09 account to a resident."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.alerts.panels import do_register_alarm_account, new_aes_key
from backend.people.models import Resident


class Command(BaseCommand):
    help = "Register a DC-09 account (and its AES key) as a device of a resident."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="3-16 hex digits, as programmed")
        parser.add_argument("--resident", type=int, required=True, help="the resident's id")
        parser.add_argument("--key", default="", help="AES key (16/24/32 characters)")
        parser.add_argument("--new-key", action="store_true", help="make an AES-128 key")
        parser.add_argument("--supervision", type=int, default=3600, help="NULL interval, s")

    def handle(self, *args: Any, **o: Any) -> None:
        resident = Resident.objects.filter(pk=o["resident"]).first()
        if resident is None:
            raise CommandError(f"no resident {o['resident']}")
        key = new_aes_key() if o["new_key"] else o["key"]
        try:
            alarm = do_register_alarm_account(
                account=o["account"], resident=resident, key=key, supervision_s=o["supervision"]
            )
        except Exception as exc:
            raise CommandError(f"could not register: {exc!r}") from exc
        self.stdout.write(f"account {alarm.account} → device {alarm.device.device_id}")
        if key:
            self.stdout.write(f"AES key {key} (program it into the panel; shown here only)")
