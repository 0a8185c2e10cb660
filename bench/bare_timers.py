"""The escalation baseline: a bare psycopg loop firing due rows of a bare table.

    python -m bench.bare_timers DSN [--poll 0.1]

Each round, in one transaction: SELECT ... WHERE fired_at IS NULL AND due_at <= now ORDER BY
due_at LIMIT 100 FOR UPDATE SKIP LOCKED, then mark them fired with the time they were claimed.
Sleeps `poll` only when a round found nothing, as backend/core/dispatcher.py does.
"""

from __future__ import annotations

import argparse
import signal
import time
from datetime import UTC, datetime

import psycopg

TABLE = "bench_bare_timer"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dsn")
    parser.add_argument("--poll", type=float, default=0.1)
    args = parser.parse_args()
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with psycopg.connect(args.dsn) as conn:
        while running:
            with conn.transaction():
                now = datetime.now(UTC)
                rows = conn.execute(
                    f"SELECT id FROM {TABLE} WHERE fired_at IS NULL AND due_at <= %s "  # noqa: S608
                    "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED",
                    (now,),
                ).fetchall()
                if rows:
                    claimed = datetime.now(UTC)
                    conn.execute(
                        f"UPDATE {TABLE} SET fired_at = %s WHERE id = ANY(%s)",  # noqa: S608
                        (claimed, [r[0] for r in rows]),
                    )
            if not rows:
                time.sleep(args.poll)


if __name__ == "__main__":
    main()
