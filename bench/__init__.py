"""gridline benchmarks.

    make bench                               # full scale, about 20 minutes on 2 cores
    BENCH_SMALL=1 make bench                 # the same at tiny scale (under a minute on an idle
    .venv/bin/python -m bench --small        # 2-core machine): for CI, never judged on time
    .venv/bin/python -m bench --sockets 2000 --rate 5 --duration 30 --communities 3
    BENCH_PYSPY=/path/to/py-spy .venv/bin/python -m bench --profile /tmp/prof   # on-CPU stacks

The run exits non-zero only when something breaks, never because of a figure. Each benchmark
measures a bare baseline in the same run; the table shows name, value, unit, baseline and ratio
(value / baseline), and bench/results.json holds the same: {"name": {"value", "unit",
"baseline", "ratio"}}.

Isolation. A database of its own, `gridline_bench` (dropped and created at the start, migrated
with `manage.py migrate`, dropped at the end unless --keep), owned by a login role of its own,
`gridline_bench`, limited to 60 connections so that the benchmarks can never exhaust a shared
server's connections (the DATABASE_URL superuser only creates and drops the role, the database
and the postgis extension). A private `redis-server` on a free port. Every process started is
stopped at the end, also on Ctrl-C, SIGTERM or failure, and dies with the runner
(PR_SET_PDEATHSIG) even if the runner is killed.

Set-up. The synthetic district (backend.demo.synthetic; 18 communities at full scale), its
duty shifts moved around the current time, long escalation tiers (3600 s) so that 1 and 2
measure delivery only, idle staff accounts up to N sockets, and signed devices spread over every
grid (do_register_device). Staff log in through POST /api/v1/auth/login (the MD5 hasher in the
bench processes: log-in is set-up, not a measurement), take a ticket from
POST /api/v1/realtime/ticket and open /ws/v1/stream?ticket=... Every socket is kept the way a
phone keeps it: a dropped one is reopened with a new ticket and last_event_id, and counted.

1. Alert latency. Two uvicorn processes of backend.config.asgi:application (EMBEDDED_DISPATCHER=0)
   and one `manage.py dispatcher --poll 0.1`. N sockets (default 5000): idle staff split over A
   and B; every grid manager, supervisor and district administrator on B, held by the probe
   (the runner). Signed presses go to A at 20/s (open loop); latency = POST sent -> the
   alert.raised frame on the tier-1 manager's socket on B. Floor: bench/floor_http.py (raw ASGI
   on uvicorn: psycopg INSERT + COMMIT, Redis PUBLISH) and bench/floor_ws.py (a `websockets`
   server that PSUBSCRIBEs and forwards), with the same sockets, measured the same way.
   Also per alert: CPU of each server process, PostgreSQL sessions (new connections) and
   committed transactions (pg_stat_database.xact_commit, read-only ones included), Redis
   commands; PostgreSQL connections and lock waiters (pg_stat_activity every 0.25 s, with the
   statements that wait); and the CPU other processes used meanwhile (the host may be shared).
2. Burst: 1000 presses from 1000 devices spread over 10 s (open loop), on both stacks: accepted,
   committed (counted in the database), delivered to the tier-1 sockets, duplicated frames,
   latency.
3. Escalation lateness (fired - due): 10,000 pending timers, 1000 of them the tier-1 timers of
   real open alerts coming due at 20/s; fired = the `escalated` step's time; "heard" = when the
   next tier's socket gets the frame. Baseline: bench/bare_timers.py, a bare psycopg
   SELECT ... FOR UPDATE SKIP LOCKED loop (poll 0.1 s) over a bare table of 10,000 rows with
   the same schedule.
4. Memory: RSS growth per idle socket of a fresh Django/Channels uvicorn process (2500 sockets;
   log-ins and tickets go to another process) vs a fresh bare `websockets` server.
"""
