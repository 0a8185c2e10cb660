"""manage.py audit_archive [--dir DIR]: archive audit rows older than AUDIT_RETENTION_DAYS
(at least 180) to a JSON-lines file with their seals, then delete them (the dispatcher's
housekeeping does the same, hourly)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from backend.audit.actions import do_archive, seal_events


class Command(BaseCommand):
    help = "Archive audit rows past the retention period, then delete them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", default=str(settings.AUDIT_ARCHIVE_DIR))

    def handle(self, *args: Any, **options: Any) -> None:
        seal_events()
        path, count = do_archive(directory=Path(options["dir"]))
        self.stdout.write(f"archived {count} rows" + (f" to {path}" if path else ""))
