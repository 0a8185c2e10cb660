"""manage.py resident_data: a resident's PIPL requests, done by a district administrator.

    manage.py resident_data export --resident 42 --by 13100000005 --out /secure/42.json
    manage.py resident_data anonymise --resident 42 --by 13100000005

`export` writes the resident's own data as a JSON file (mode 600) for the person; `anonymise`
removes what identifies a resident who moved away or died and keeps the non-personal facts.
Both are written to the audit trail under the administrator who ran them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import Role, User
from backend.audit.actions import do_record
from backend.audit.models import AuditEvent
from backend.people.actions import do_anonymise_resident, resident_export
from backend.people.models import Resident


class Command(BaseCommand):
    help = "Export or anonymise a resident's personal data (PIPL), audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["export", "anonymise"])
        parser.add_argument("--resident", type=int, required=True)
        parser.add_argument("--by", required=True, help="the district administrator's phone")
        parser.add_argument("--out", help="export: the file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        admin = User.objects.filter(
            phone=options["by"], role=Role.DISTRICT_ADMIN, is_active=True
        ).first()
        if admin is None:
            raise CommandError("--by must be an active district administrator's phone.")
        resident = Resident.objects.filter(pk=options["resident"]).first()
        if resident is None:
            raise CommandError("No such resident.")
        if options["what"] == "export":
            if not options["out"]:
                raise CommandError("export needs --out FILE.")
            path = Path(options["out"])
            path.write_text(json.dumps(resident_export(resident), ensure_ascii=False, indent=2))
            os.chmod(path, 0o600)
            action, detail = AuditEvent.Action.EXPORT, f"resident_data export to {path}"
        else:
            do_anonymise_resident(resident=resident)
            User.objects.filter(resident=resident).update(is_active=False)
            action, detail = AuditEvent.Action.WRITE, "resident_data anonymise"
        do_record(
            action=action,
            actor=admin,
            target_type="resident",
            target_id=resident.pk,
            detail=detail,
            client="manage.py",
        )
        self.stdout.write(f"{options['what']}: resident {resident.pk} done")
