"""`entrypoint.sh healthcheck [asgi|dispatcher]`: exit 0 when this container's role is well.

Docker's HEALTHCHECK and Kubernetes exec probes run it as a process of its own, so it imports
no Django (a probe must be cheap): the ASGI role answers /api/v1/health/live on its port; a
dispatcher touches its heartbeat file every round (DISPATCHER_HEARTBEAT_FILE), so a file older
than DISPATCHER_HEARTBEAT_MAX_AGE seconds means a stuck or dead dispatcher.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path


def _role(argv: list[str]) -> str:
    if argv:
        return argv[0]
    run_dir = os.environ.get("GRIDLINE_RUN_DIR", "")
    role_file = Path(run_dir) / "role"
    if run_dir and role_file.exists():
        return role_file.read_text().strip()
    return "asgi"


def asgi_alive() -> bool:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/v1/health/live"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def dispatcher_alive() -> bool:
    beat = os.environ.get("DISPATCHER_HEARTBEAT_FILE", "")
    if not beat:
        run_dir = os.environ.get("GRIDLINE_RUN_DIR", "")
        beat = str(Path(run_dir) / "dispatcher.heartbeat") if run_dir else ""
    max_age = float(os.environ.get("DISPATCHER_HEARTBEAT_MAX_AGE", "60"))
    try:
        return time.time() - Path(beat).stat().st_mtime < max_age
    except OSError:
        return False


def main(argv: list[str]) -> int:
    role = _role(argv)
    # The alarm receiver's check joins here when its role lands (infra/entrypoint.sh).
    checks = {"asgi": asgi_alive, "dispatcher": dispatcher_alive}
    check = checks.get(role)
    if check is None:
        print(f"healthcheck: no check for role {role!r}", file=sys.stderr)
        return 2
    ok = check()
    print(f"healthcheck {role}: {'ok' if ok else 'failing'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
