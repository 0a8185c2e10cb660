"""manage.py seed_demo: one community of the synthetic district and fixed demo log-ins.

`make run` calls `seed_demo --if-empty` (loads only into a database without any district, so it
is safe to run on every start) and then `seed_demo --print-logins`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from backend.accounts.actions import BOARD_ROLES, DEMO_TOTP_KEY_HEX, do_enrol_totp, totp_device
from backend.accounts.models import DutyShift, Role, User, WorkerPosition
from backend.alerts.devices import arm_silence_timer
from backend.alerts.models import AlarmAccount, Device
from backend.alerts.panels import do_register_alarm_account
from backend.demo import synthetic
from backend.demo.cases import seed_demo_cases
from backend.demo.community import seed_demo_community
from backend.demo.scorecards import seed_assessment
from backend.people.models import CareTag, Resident
from backend.territory.models import District

DEMO_PASSWORD = "gridline-demo"  # noqa: S105 - published demo credential, synthetic data only
DEMO_SEED = 20100801
DEMO_DEVICE = "DEMO-PENDANT-1"
DEMO_DEVICE_SECRET = "demo-device-secret-not-for-production"  # noqa: S105 - synthetic demo only
DEMO_PANEL_ACCOUNT = "D3C0DE"  # the demo resident's alarm panel (SIA DC-09)
DEMO_PANEL_KEY = "DEC0DE00DEC0DE00"  # AES-128, published: synthetic demo only


@dataclass(frozen=True)
class DemoLogin:
    phone: str
    role: str
    sees: str


DEMO_LOGINS = (
    DemoLogin(
        synthetic.staff_phone(Role.WORKER, 1, 1),
        "grid worker 网格员",
        "B post: everything in grid 1 of community 1 (~300 households); A post: civil affairs "
        "residents across the community; on duty 08:00-20:00",
    ),
    DemoLogin(
        synthetic.staff_phone(Role.SUPERVISOR, 1),
        "supervisor 社区督导",
        "the whole of community 1: all 20 grids, the dispatch board, who is on duty",
    ),
    DemoLogin(
        synthetic.staff_phone(Role.OFFICER, 1, 1),
        "officer 后台专员",
        "A posts elderly care, health, disability in community 1: residents with those care tags",
    ),
    DemoLogin(
        synthetic.staff_phone(Role.DISTRICT_ADMIN),
        "district admin 区管理员",
        "the whole district; Django admin at /admin/ (superuser)",
    ),
    DemoLogin(
        synthetic.staff_phone(Role.RESIDENT, 1, 1),
        "resident 居民",
        "own household and applications: an elderly resident living alone in grid 1",
    ),
)


def ensure_demo_duty() -> int:
    """Round-the-clock duty for the demo accounts, so a press at any hour reaches someone:
    the grid-1 worker (tier 1), the grid-2 worker (tier 2, near the demo resident), the
    supervisor (tier 3) and the district administrator (tier 4)."""
    now = timezone.now()
    added = 0
    demo = [
        (synthetic.staff_phone(Role.WORKER, 1, 1), True),
        (synthetic.staff_phone(Role.WORKER, 1, 2), True),
        (synthetic.staff_phone(Role.SUPERVISOR, 1), True),
        (synthetic.staff_phone(Role.DISTRICT_ADMIN), False),
    ]
    for phone, in_community in demo:
        user = User.objects.filter(phone=phone).first()
        if (
            user is None
            or user.shifts.filter(
                starts_at__lte=now, ends_at__gte=now + timedelta(hours=12)
            ).exists()
        ):
            continue
        DutyShift.objects.create(
            user=user,
            community=user.community if in_community else None,
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=24),
        )
        added += 1
    return added


def ensure_demo_totp() -> int:
    """The demo board accounts get a TOTP device with the published demo key (once)."""
    added = 0
    for phone in (
        synthetic.staff_phone(Role.SUPERVISOR, 1),
        synthetic.staff_phone(Role.DISTRICT_ADMIN),
    ):
        user = User.objects.filter(phone=phone, role__in=BOARD_ROLES).first()
        if user is not None and totp_device(user) is None:
            do_enrol_totp(user=user, key_hex=DEMO_TOTP_KEY_HEX)
            added += 1
    return added


class Command(BaseCommand):
    help = "Load one synthetic community with demo log-ins, or print the demo log-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="load only when the database has no district (otherwise do nothing)",
        )
        parser.add_argument(
            "--print-logins", action="store_true", help="print the demo log-ins and exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            # Demo log-ins with published passwords and a published TOTP key.
            raise CommandError("seed_demo does not run with GRIDLINE_ENV=production.")
        if options["print_logins"]:
            self.print_logins()
            return
        if District.objects.exists():
            if not options["if_empty"]:
                raise CommandError(
                    "The database already has a district; seed_demo loads only into an empty "
                    "one (use --if-empty to skip quietly)."
                )
            added = synthetic.ensure_duty_shifts(day=timezone.localdate())
            added += ensure_demo_duty()
            ensure_demo_totp()
            note = f"; {added} duty shifts added for today" if added else ""
            self.stdout.write(f"seed_demo: the database already has data, nothing loaded{note}")
            return
        try:
            with transaction.atomic():
                result = synthetic.generate_district(
                    password=DEMO_PASSWORD, seed=DEMO_SEED, communities=1
                )
                resident = self.add_demo_accounts()
                ensure_demo_duty()
                ensure_demo_totp()
            activity = seed_assessment(
                district=result.district,
                admin=User.objects.get(phone=synthetic.staff_phone(Role.DISTRICT_ADMIN)),
                today=timezone.localdate(),
                seed=DEMO_SEED,
            )
        except synthetic.SyntheticError as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(
            f"{count} {name}"
            for name, count in {**result.counts, **activity.counts}.items()
            if count
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"seed_demo: {result.district.name} community 1 loaded in {result.seconds:.1f} s "
                f"({counts}); resident log-in linked to {resident.name}"
            )
        )

    def add_demo_accounts(self) -> Resident:
        admin = User.objects.get(phone=synthetic.staff_phone(Role.DISTRICT_ADMIN))
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])
        grid_code = synthetic.grid_code(synthetic.DISTRICT_CODE, 1, 1)
        resident = (
            Resident.objects.filter(household__grid__code=grid_code, tags__tag=CareTag.LIVING_ALONE)
            .order_by("pk")
            .first()
        )
        if resident is None:
            raise CommandError(f"no elderly resident living alone in grid {grid_code}")
        User.objects.create(
            phone=synthetic.staff_phone(Role.RESIDENT, 1, 1),
            name=resident.name,
            role=Role.RESIDENT,
            resident=resident,
            password=admin.password,  # the same hash: one PBKDF2 run, not two
        )
        device = Device.objects.create(
            device_id=DEMO_DEVICE,
            kind=Device.Kind.PENDANT,
            resident=resident,
            household=resident.household,
            secret=DEMO_DEVICE_SECRET,
        )
        arm_silence_timer(device)  # as do_register_device does (the demo's secret is published)
        do_register_alarm_account(
            account=DEMO_PANEL_ACCOUNT, resident=resident, key=DEMO_PANEL_KEY, supervision_s=3600
        )
        WorkerPosition.objects.create(
            user=User.objects.get(phone=synthetic.staff_phone(Role.WORKER, 1, 2)),
            location=device.household.location,
        )
        seed_demo_cases(
            worker=User.objects.get(phone=synthetic.staff_phone(Role.WORKER, 1, 1)),
            officer=User.objects.get(phone=synthetic.staff_phone(Role.OFFICER, 1, 1)),
            resident=resident,
        )
        seed_demo_community(
            supervisor=User.objects.get(phone=synthetic.staff_phone(Role.SUPERVISOR, 1)),
            grid=resident.household.grid,
        )
        return resident

    def print_logins(self) -> None:
        users = {
            u.phone: u
            for u in User.objects.filter(phone__in=[d.phone for d in DEMO_LOGINS]).select_related(
                "resident"
            )
        }
        # Every demo account shares one hash; check each distinct hash once (PBKDF2 is slow).
        works = {u.password: check_password(DEMO_PASSWORD, u.password) for u in users.values()}
        self.stdout.write("  demo log-ins (synthetic data; phone + password):")
        self._print_device()
        self._print_board()
        for login in DEMO_LOGINS:
            user = users.get(login.phone)
            if user is None:
                status = "  [not in this database: run `manage.py seed_demo` on an empty one]"
            elif not works[user.password]:
                status = f"  [the password is not {DEMO_PASSWORD} here]"
            else:
                status = ""
            who = f" {user.name}" if user else ""
            if user is not None and user.resident is not None:
                born = user.resident.birth_date
                who += f" (born {born:%Y-%m-%d})"
            self.stdout.write(
                f"    {login.phone}  {DEMO_PASSWORD}  {login.role}{who}: {login.sees}{status}"
            )

    def _print_board(self) -> None:
        phones = ", ".join(
            u.phone
            for u in User.objects.filter(
                phone__in=[d.phone for d in DEMO_LOGINS], role__in=BOARD_ROLES
            ).order_by("phone")
            if (device := totp_device(u)) is not None and device.key == DEMO_TOTP_KEY_HEX
        )
        if phones:
            self.stdout.write(
                f"  dispatch board: /board/ as {phones}; second factor: the TOTP key "
                "M5ZGSZDMNFXGKLLEMVWW6LLUN52HAIJB in any authenticator app, or the code now from "
                "`.venv/bin/python manage.py board_totp --phone <phone> --code`"
            )

    def _print_device(self) -> None:
        if Device.objects.filter(device_id=DEMO_DEVICE).exists():
            self.stdout.write(
                f"  demo button: .venv/bin/python manage.py press_button --device {DEMO_DEVICE}"
            )
        if AlarmAccount.objects.filter(account=DEMO_PANEL_ACCOUNT).exists():
            self.stdout.write(
                "  demo alarm panel (DC-09): .venv/bin/python manage.py dc09_send "
                f"--account {DEMO_PANEL_ACCOUNT} --key {DEMO_PANEL_KEY} --code PA "
                "(FA fire, YT low battery, --null supervision)"
            )
