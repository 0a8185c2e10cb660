"""Django-side preparation of the benchmark database (run as `python -m bench.prepare ...` with
DATABASE_URL pointing at the bench database, see bench/pg.py; `bench.run` does that).

    world        the synthetic district, duty shifts around *now*, idle workers up to the socket
                 count, signed devices that press and the many more that only send heartbeats
                 (their secrets are written to the output file once)
    escalations  real open alerts whose tier-1 escalation timers come due at a steady rate,
                 topped up with far-future timers to a fixed number of pending timers
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.conf import settings

    from bench.pg import bench_db_name

    name = settings.DATABASES["default"]["NAME"]
    if name != bench_db_name():
        sys.exit(f"bench.prepare refuses to write to database {name!r}")


DC09_KEY = "BE5CBE5CBE5CBE5C"  # the bench panels' AES-128 key


def world(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import transaction
    from django.utils import timezone

    from backend.accounts.models import DutyShift, GridAssignment, Role, User
    from backend.alerts.devices import do_register_device
    from backend.alerts.models import AlertKind, EscalationPolicy
    from backend.demo import synthetic
    from backend.people.models import Resident
    from backend.territory.models import Community, Grid

    # A city (bench/city.py) is --districts districts of --communities each; `python -m bench`
    # loads one.
    counts: dict[str, int] = {}
    load_seconds = 0.0
    for district in range(1, args.districts + 1):
        result = synthetic.generate_district(
            password=args.password, communities=args.communities, district=district
        )
        load_seconds += result.seconds
        for key, value in result.counts.items():
            counts[key] = counts.get(key, 0) + value
        if args.districts > 1:
            print(f"district {district}: {counts['residents']:,} residents, {load_seconds:.0f} s")
    now = timezone.now()
    with transaction.atomic():
        # The synthetic shifts are 08:00-20:00 Asia/Shanghai; the bench may run at night.
        DutyShift.objects.update(
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=12)
        )
        # Long tiers: benchmarks 1 and 2 measure delivery, not escalation (benchmark 3 does).
        for kind in (AlertKind.EMERGENCY, AlertKind.HELP):
            EscalationPolicy.objects.update_or_create(
                community=None, kind=kind, defaults={"tier_timeouts": [3600, 3600, 3600, 3600]}
            )

    managers = [
        {"phone": phone, "user_id": uid, "grid_id": gid}
        for uid, phone, gid in GridAssignment.objects.filter(user__role=Role.WORKER)
        .order_by("grid__code")
        .values_list("user_id", "user__phone", "grid_id")
    ]
    watchers = [
        {"phone": phone, "user_id": uid}
        for uid, phone in User.objects.filter(role__in=(Role.SUPERVISOR, Role.DISTRICT_ADMIN))
        .order_by("phone")
        .values_list("pk", "phone")
    ]
    probe = len(managers) + len(watchers)
    idle = list(
        User.objects.filter(role=Role.OFFICER).order_by("phone").values_list("phone", flat=True)
    )
    wanted_idle = max(0, args.sockets - probe)
    extra = max(0, wanted_idle - len(idle))
    communities = list(Community.objects.order_by("code"))
    password_hash = User.objects.filter(role=Role.WORKER).values_list("password", flat=True)[0]
    district_of = {synthetic.district_code(k): k for k in range(1, synthetic.MAX_DISTRICTS + 1)}
    users = []
    for k in range(extra):
        number, index = divmod(k, len(communities))
        community = communities[index]
        code, _, community_no = community.code.partition("-C")
        users.append(
            User(
                phone=synthetic.staff_phone(
                    Role.WORKER, int(community_no), 1000 + number, district_of[code]
                ),
                name=f"压测{k:05d}",
                role=Role.WORKER,
                community=community,
                password=password_hash,
            )
        )
    User.objects.bulk_create(users, batch_size=1000)
    idle = (idle + [u.phone for u in users])[:wanted_idle]

    # Devices spread over every grid: device i belongs to a resident of grid i mod G.
    grids = list(Grid.objects.order_by("code").values_list("pk", flat=True))
    per_grid = -(-args.devices // len(grids))
    residents_by_grid = {
        gid: list(
            Resident.objects.filter(household__grid_id=gid)
            .order_by("pk")
            .values_list("pk", flat=True)[:per_grid]
        )
        for gid in grids
    }
    manager_of_grid = {m["grid_id"]: m["user_id"] for m in managers}
    district_of_grid = dict(Grid.objects.values_list("pk", "community__district__code"))
    residents = {
        r.pk: r
        for r in Resident.objects.filter(
            pk__in=[pk for pks in residents_by_grid.values() for pk in pks]
        ).select_related("household")
    }
    devices = []
    with transaction.atomic():
        for i in range(args.devices):
            gid = grids[i % len(grids)]
            resident = residents[residents_by_grid[gid][i // len(grids)]]
            device, secret = do_register_device(
                device_id=f"BENCH-{i:05d}", kind="pendant", resident=resident
            )
            devices.append(
                {
                    "device_id": device.device_id,
                    "secret": secret,
                    "pk": device.pk,
                    "resident_id": resident.pk,
                    "grid_id": gid,
                    "manager_id": manager_of_grid[gid],
                    "district": district_of_grid[gid],
                    # the same device also speaks DC-09 (bench/dc09.py), on this account
                    "account": f"{0xB0000 + i:X}",
                }
            )
        from backend.alerts.models import AlarmAccount

        AlarmAccount.objects.bulk_create(
            AlarmAccount(account=str(d["account"]), device_id=int(str(d["pk"])), key=DC09_KEY)
            for d in devices
        )
    # The background load: buttons that only report. Created like do_register_device does
    # (which arms nothing), in bulk; their declared interval is long, so that no silence timer
    # comes due while the bench runs, whatever rate the bench sends them at.
    from backend.alerts.models import Device

    resident_rows = list(
        Resident.objects.order_by("pk").values_list("pk", "household_id")[: args.heartbeat_devices]
    )
    beating = [
        Device(
            device_id=f"BENCH-HB-{i:05d}",
            kind="pendant",
            resident_id=rows[0],
            household_id=rows[1],
            secret=secrets.token_hex(32),
            heartbeat_interval_s=3600,
        )
        for i, rows in enumerate(resident_rows)
    ]
    Device.objects.bulk_create(beating, batch_size=2000)
    heartbeat_devices = [{"device_id": d.device_id, "secret": d.secret} for d in beating]
    return {
        "password": args.password,
        "heartbeat_devices": heartbeat_devices,
        "counts": counts,
        "district_1": synthetic.district_code(1),
        "load_seconds": round(load_seconds, 1),
        "managers": managers,
        "watchers": watchers,
        "idle": idle,
        "devices": devices,
    }


def escalations(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from backend.alerts.actions import ESCALATE, do_raise_alert
    from backend.alerts.models import Alert, AlertKind, Device
    from backend.core.models import Timer

    world_data = json.loads(Path(args.world).read_text())
    device_pks = [d["pk"] for d in world_data["devices"]]
    devices = {
        d.pk: d
        for d in Device.objects.filter(pk__in=device_pks).select_related("resident__household")
    }
    from django.db import OperationalError

    alert_ids, deadlocks = [], 0
    for i in range(args.due):
        device = devices[device_pks[i % len(device_pks)]]
        for _ in range(5):
            try:
                with transaction.atomic():
                    alert = do_raise_alert(
                        resident=device.resident,
                        kind=AlertKind.EMERGENCY,
                        source=Alert.Source.DEVICE,
                        device=device,
                    )
                break
            except OperationalError as exc:  # the servers still work: counted, and retried
                if "deadlock" not in str(exc):
                    raise
                deadlocks += 1
        else:
            raise RuntimeError("do_raise_alert deadlocked 5 times in a row")
        alert_ids.append(alert.pk)
    pending = Timer.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True).count()
    filler = max(0, args.pending - pending)
    now = timezone.now()
    # Far-future silence timers of devices that do not exist: pending, never due in the run.
    Timer.objects.bulk_create(
        [
            Timer(
                kind="device.silent",
                key=str(90_000_000 + i),
                due_at=now + timedelta(hours=2, seconds=i),
            )
            for i in range(filler)
        ],
        batch_size=5000,
    )
    # One set-based UPDATE of the timers (the one stored deadline) right after `start` is
    # taken, so every due time lies ahead.
    start = timezone.now() + timedelta(seconds=args.lead)
    at = [start + timedelta(seconds=i / args.rate) for i in range(len(alert_ids))]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Timer._meta.db_table} t SET due_at = v.due "  # noqa: S608
            "FROM unnest(%s::text[], %s::timestamptz[]) AS v(key, due) "
            "WHERE t.kind = %s AND t.key = v.key",
            [[str(a) for a in alert_ids], at, ESCALATE],
        )
    due = {alert_id: when.timestamp() for alert_id, when in zip(alert_ids, at, strict=True)}
    pending = Timer.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True).count()
    return {"due": due, "pending": pending, "start": start.timestamp(), "deadlocks": deadlocks}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prepare")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("world")
    w.add_argument("--communities", type=int, required=True)
    w.add_argument("--districts", type=int, default=1)
    w.add_argument("--sockets", type=int, required=True)
    w.add_argument("--devices", type=int, required=True)
    w.add_argument("--heartbeat-devices", type=int, required=True)
    w.add_argument("--password", required=True)
    w.add_argument("--out", required=True)
    e = sub.add_parser("escalations")
    e.add_argument("--world", required=True)
    e.add_argument("--pending", type=int, required=True)
    e.add_argument("--due", type=int, required=True)
    e.add_argument("--rate", type=float, required=True)
    e.add_argument("--lead", type=float, default=3.0)
    e.add_argument("--out", required=True)
    args = parser.parse_args()
    _django()
    data = world(args) if args.command == "world" else escalations(args)
    Path(args.out).write_text(json.dumps(data))


if __name__ == "__main__":
    main()
