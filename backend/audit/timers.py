"""The audit trail's daily archive on the durable clock (`audit.archive`, 03:30 local time):
rows older than AUDIT_RETENTION_DAYS go to a file in AUDIT_ARCHIVE_DIR, then out of the
database. Sealing runs with the dispatcher's housekeeping (about once a minute)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from backend.core import clock
from backend.core.models import Timer

from .actions import do_archive, seal_events

ARCHIVE = "audit.archive"


def next_archive_run(now: datetime) -> datetime:
    local = timezone.localtime(now)
    run = timezone.make_aware(datetime.combine(local.date(), time(3, 30)))
    return run if run > now else run + timedelta(days=1)


clock.recurring(ARCHIVE, next_archive_run)


@clock.handles(ARCHIVE)
def archive(timer: Timer) -> None:
    seal_events()
    do_archive(directory=Path(settings.AUDIT_ARCHIVE_DIR))
    clock.schedule(
        kind=ARCHIVE, key=timer.key, due_at=next_archive_run(max(timezone.now(), timer.due_at))
    )
