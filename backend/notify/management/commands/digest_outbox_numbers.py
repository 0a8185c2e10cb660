"""manage.py digest_outbox_numbers: once after the release that added SMS replies, give the SMS
sent before it (within SMS_REPLY_WINDOW_DAYS) the number digest a reply is matched by."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.notify.replies import digest_missing


class Command(BaseCommand):
    help = "Digest the numbers of recent SMS so that replies to them can be matched."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        changed = digest_missing(batch=options["batch"])
        self.stdout.write(f"{changed} SMS rows digested")
