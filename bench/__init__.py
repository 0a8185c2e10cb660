"""gridline benchmarks.

    make bench                               # full scale, about 20 minutes on 2 cores
    BENCH_SMALL=1 make bench                 # the same at tiny scale, about a minute and a half
    .venv/bin/python -m bench --small        # (CI, development): never judged on time
    .venv/bin/python -m bench --sockets 2000 --rate 5 --duration 30 --communities 3
    .venv/bin/python -m bench --floor-only   # only the floor: check that it is steady
    BENCH_PYSPY=/path/to/py-spy .venv/bin/python -m bench --profile /tmp/prof   # on-CPU stacks
    .venv/bin/python -m bench.city --help    # the simulated city, on its own (docs/scale.md)

The run exits non-zero only when something breaks, never because of a figure. Every figure of
gridline sits beside its floor (a bare stack doing the least the same job needs, measured in the
same run under the same load) or a target; the table shows name, value, unit, baseline and ratio
(value / baseline), and bench/results.json holds the same: {"name": {"value", "unit",
"baseline", "ratio"}}. Notes under the table say which goals of the alert path are met.

Isolation (bench/pg.py). A database and a login role of their own, `gridline_bench` or BENCH_DB
(dropped and created at the start, migrated, dropped at the end unless --keep), the role limited
to 60 connections; a private `redis-server` on a free port. Every process started is stopped at
the end, also on Ctrl-C, SIGTERM or failure, and dies with the runner (harness/processes.py).

Set-up (bench/prepare.py). The synthetic district (backend.demo.synthetic; 18 communities at
full scale), duty shifts around now, long escalation tiers (3600 s) so that the latency phases
measure delivery only, idle staff up to N sockets, 1,000 pressing devices spread over every grid
and 10,000 more that only send heartbeats. Then VACUUM ANALYZE and CHECKPOINT, so that the
write-back of the load lands in no
measurement. Log-ins use the MD5 hasher (set-up, not a measurement).

Both stacks are brought up the same way (bench/stacks.py): N sockets (5,000), of which the idle
ones are spread over holder processes of at most 1,250 sockets each; the runner (the probe)
holds only the sockets frames are timed on, every grid manager, supervisor and district
administrator, and sends the presses; a process of its own sends the background load, 100
signed heartbeats per second (10,000 buttons every 100 s). Sockets are kept like phones keep
them: a dropped one is reopened with the same log-in, a new ticket and last_event_id. Every
request of the load (presses, heartbeats, log-ins, tickets) goes through bench/rawhttp.py, a
minimal keep-alive client: with hundreds of requests in flight httpx spent more CPU the
further it fell behind, so the floor measured the client (at 80 presses/s a floor p99 of 12 s,
a burst p99 of 4 s, heartbeats answered at 25/s of 100/s; with this client, on the same busy
machine, 28 ms, 26 ms and 100/s). The runner also freezes its garbage after the sockets are
open, prints its own event-loop lag per phase, and the slowest presses with their answer times
(a slow answer is the server or PostgreSQL, a fast answer with a late frame the socket side).

- floor: bench/floor_http.py (raw ASGI on uvicorn: psycopg INSERT + COMMIT and Redis PUBLISH per
  press, one upsert per heartbeat) and bench/floor_ws.py (a `websockets` server that
  PSUBSCRIBEs and forwards);
- gridline: uvicorn A (presses and heartbeats), uvicorn B (the probe's sockets; idle sockets on
  A and B), one `manage.py dispatcher --poll 0.1`.

Phases, on both stacks unless said (each prints the host's CPU split while it ran and warns
when other people's work took more than 0.2 cores: such a run is not one to quote):

1. quiet window (bench/latency.py): heartbeats alone; the price of one heartbeat (CPU of each
   process, commits, Redis commands) and the background per second.
2. steady: 20 presses/s for 60 s, latency = POST sent -> alert.raised frame on the tier-1
   manager's socket; the floor's p99/p50 is printed and warned about above 3; per press (less
   the background): CPU of each process, commits (pg_stat_database.xact_commit), Redis commands
   (INFO), new PostgreSQL sessions; pg_stat_activity sampled every 0.25 s for lock waits.
3. capacity curve: 5, 10, 20, 40, 80 presses/s for 15 s each; p50/p99 each and the knee, the
   highest rate whose p99 <= 50 ms (a rate with p99 over 1 s ends the sweep).
4. burst (bench/burst.py): 1,000 presses from 1,000 devices in 10 s; devices retry a 503 after
   Retry-After with the same client_alert_id; answers, commits, duplicates, delivery in 30 s.
5. mass reconnect (bench/reconnect.py, gridline): A and B killed and restarted with every
   socket on them while presses go to a third process; time until every socket is back, and
   the probe's phones missing any stored event (must be 0).
6. escalation (bench/escalation.py, gridline): 10,000 pending timers, 1,000 real escalations
   due at 20/s; lateness vs a bare SKIP LOCKED loop (bench/bare_timers.py), and when the next
   tier's socket hears it.
7. memory (bench/memory.py): RSS growth per idle socket of a fresh gridline process vs a fresh
   bare `websockets` server (2,500 sockets each).
8. the visits' photo pipeline and sync (bench/visits_photos.py, bench/visits_sync.py, through
   bench/extra.py).
"""
