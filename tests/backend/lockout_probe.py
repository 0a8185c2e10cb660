"""100 parallel wrong passwords, then the right one: the lock-out must hold. Imported by the
PostGIS test, and run as a subprocess on a fresh SpatiaLite file by the SQLite one."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

GUESSES = 100


def guess_in_parallel(phone: str, right_password: str, guesses: int = GUESSES) -> dict[str, Any]:
    from django.db import connections
    from django.test import Client

    barrier = threading.Barrier(guesses)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        try:
            barrier.wait()
            answer = Client().post(
                "/api/v1/auth/login",
                {"phone": phone, "password": f"wrong-{i}"},
                content_type="application/json",
            )
            with lock:
                statuses.append(answer.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    right = Client().post(
        "/api/v1/auth/login",
        {"phone": phone, "password": right_password},
        content_type="application/json",
    )
    return {
        "statuses": dict(Counter(statuses)),
        "right_status": right.status_code,
        "right_code": right.json().get("error", {}).get("code"),
    }


def main() -> None:
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from backend.accounts.models import Role, User

    call_command("migrate", verbosity=0)
    User.objects.create_user("13100000009", "probe-password-1", name="网格员", role=Role.WORKER)
    report = guess_in_parallel("13100000009", "probe-password-1")
    db_file = str(settings.DATABASES["default"]["NAME"])
    report["engine"] = connection.settings_dict["ENGINE"]
    report["file_mode"] = oct(os.stat(db_file).st_mode & 0o777)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
