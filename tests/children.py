"""The environment of the real child processes a test starts (uvicorn servers, dispatchers):
the database pytest-django created for this run, the Redis the test names, fast test hashes.

Children see only committed data, so the tests that start them use
`django_db(transaction=True)`.
"""

from __future__ import annotations

import os
from urllib.parse import quote


def child_database_url() -> str:
    """DATABASE_URL of the database pytest-django created for this run."""
    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgis://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def django_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a Django child process on this run's database and `redis_url`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="backend.config.settings",
        DATABASE_URL=child_database_url(),
        REDIS_URL=redis_url,
        EMBEDDED_DISPATCHER="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DB_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
        # The tests' users are created with the fast test hasher (tests/conftest.py).
        PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher,"
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    )
    env.update(overrides)
    return env
