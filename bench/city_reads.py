"""The city benchmark's reads, timed in a Django process of their own while the presses and
heartbeats run (bench/city.py starts it):

    python -m bench.city_reads OUT.json --seconds S --admin PHONE

- point -> grid: `backend.servicedesk.actions.intake.grid_at` (what filing a case at a spot and
  Open311 intake run: the grid whose boundary contains the point, on PostGIS's GiST index) for
  random household locations of the whole city;
- the board state of a district officer (the district administrator of district 1, whose board
  covers every grid of that district): `board.selectors.board_state`, what GET /board/api/state
  answers, without the HTTP and session layer around it (it needs a TOTP log-in).

Each is called in turn, one at a time, for S seconds; the JSON holds every call's milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.city_reads")
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--admin", required=True, help="the district officer's phone")
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.servicedesk.actions.intake import grid_at
    from backend.territory.models import Household
    from bench.pg import bench_db_name
    from board.selectors import board_state

    if connection.settings_dict["NAME"] != bench_db_name():
        raise SystemExit("bench.city_reads reads only the bench database")
    # A sample of the whole city's households (TABLESAMPLE: no sort of a million rows).
    table = Household._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        total = int(cursor.fetchone()[0])
    share = min(100.0, 100.0 * 3 * args.points / max(1, total))
    ids = list(
        Household.objects.raw(f"SELECT id FROM {table} TABLESAMPLE SYSTEM (%s)", [share])  # noqa: S608
    )
    points = [h.location for h in Household.objects.filter(pk__in=[h.pk for h in ids])]
    random.Random(1).shuffle(points)
    points = points[: args.points]
    admin = User.objects.get(phone=args.admin)
    lookups: list[float] = []
    boards: list[float] = []
    misses = 0
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        point = points[i % len(points)]
        t0 = time.perf_counter()
        grid = grid_at(point)
        lookups.append((time.perf_counter() - t0) * 1000)
        misses += grid is None
        if i % 5 == 0:  # a board loads its state far less often than points are looked up
            t0 = time.perf_counter()
            board_state(admin, now=timezone.now())
            boards.append((time.perf_counter() - t0) * 1000)
        i += 1
        time.sleep(0.01)  # a steady trickle, not a tight loop that takes a core from the load
    Path(args.out).write_text(
        json.dumps(
            {"lookup_ms": lookups, "board_ms": boards, "misses": misses, "households": total}
        )
    )


if __name__ == "__main__":
    main()
