"""manage.py rotate_field_keys: re-encrypt personal data with the newest FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first (FIELD_ENCRYPTION_KEYS=new,old), roll the pods, run this, then
drop the old key (docs/operations.md). Safe to run again and while the app serves.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.core.fields import rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="rows per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        for label, count in rotate_keys(batch=options["batch"]).items():
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
