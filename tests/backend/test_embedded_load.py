"""The embedded default under load: a real uvicorn on a SpatiaLite file with the in-memory
layer and the dispatcher thread, pressed by four signed devices at once while a phone logs in
and refreshes. SQLite allows one writer at a time; nothing may answer 500 for it."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from backend.alerts.signing import signed_headers
from harness.processes import ROOT, Processes, Server, free_port

PRESSES = 1000
SESSIONS = 40  # at least; log-in + two refreshes each, for as long as the presses go on


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="backend.config.settings",
        GRIDLINE_DATA_DIR=str(data_dir),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher",
        # Every simulated phone logs in from 127.0.0.1: not the per-address limit under test.
        RATE_LOGIN_PER_IP="100000/m",
    )
    return env


@pytest.mark.slow
def test_presses_logins_and_refreshes_on_the_embedded_default_never_answer_500(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.backend.embedded_seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    with contextlib.closing(sqlite3.connect(tmp_path / "gridline.sqlite3")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    with Processes(tmp_path) as procs:
        server = Server("embedded", free_port(), env, tmp_path / "embedded.log")
        procs.started.append(server)
        server.start()
        server.wait_ready()

        def record(kind: str, response: httpx.Response) -> None:
            with lock:
                statuses[f"{kind} {response.status_code}"] += 1
                if response.status_code >= 500:
                    failures.append(f"{kind} {response.status_code} {response.text[:200]}")

        def press(device_id: str, secret: str, count: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
                for _ in range(count):
                    raw = json.dumps(
                        {"client_alert_id": str(uuid.uuid4()), "kind": "emergency"}
                    ).encode()
                    headers = signed_headers(
                        secret, device_id, raw, path="/api/v1/device/alerts", nonce=uuid.uuid4().hex
                    )
                    headers["Content-Type"] = "application/json"
                    record(
                        "press", http.post("/api/v1/device/alerts", content=raw, headers=headers)
                    )

        pressing = threading.Event()
        pressing.set()

        def sessions(count: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
                done = 0
                while done < count or pressing.is_set():
                    done += 1
                    login = http.post(
                        "/api/v1/auth/login",
                        json={"phone": seed["phone"], "password": seed["password"]},
                    )
                    record("login", login)
                    if login.status_code != 200:
                        continue
                    refresh_token = login.json()["refresh_token"]
                    for _ in range(2):
                        refreshed = http.post(
                            "/api/v1/auth/refresh", json={"refresh_token": refresh_token}
                        )
                        record("refresh", refreshed)
                        if refreshed.status_code != 200:
                            break
                        refresh_token = refreshed.json()["refresh_token"]

        devices = seed["devices"]
        threads = [
            threading.Thread(target=press, args=(d, s, PRESSES // len(devices))) for d, s in devices
        ]
        phone = threading.Thread(target=sessions, args=(SESSIONS,))
        for thread in [*threads, phone]:
            thread.start()
        for thread in threads:
            thread.join()
        pressing.clear()
        phone.join()
        log = server.tail(2_000_000)

    if failures:  # printed in full (an assertion's message is cut short)
        first_error = log.find("Traceback")
        print(dict(statuses), failures[:5], log[first_error : first_error + 8000], sep="\n")
    assert failures == [], dict(statuses)
    assert statuses["press 201"] == PRESSES, dict(statuses)
    logins = sum(n for k, n in statuses.items() if k.startswith("login"))
    assert logins >= SESSIONS and statuses["login 200"] == logins, dict(statuses)
    assert statuses["refresh 200"] == 2 * logins, dict(statuses)
    assert "database is locked" not in log, log[-3000:]
