"""manage.py audit_verify: seal what is due, then recompute the audit trail's hash chain.
Exit status 1 and the first bad row's id when a row was changed, removed or slipped in."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.audit.actions import seal_events, verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain (tamper evidence)."

    def handle(self, *args: Any, **options: Any) -> None:
        seal_events()
        verdict = verify_chain()
        if verdict.broken_at is not None:
            raise CommandError(f"audit chain broken at event {verdict.broken_at}: {verdict.reason}")
        self.stdout.write(
            f"audit chain intact: {verdict.checked} rows sealed, {verdict.unsealed} not yet sealed"
        )
