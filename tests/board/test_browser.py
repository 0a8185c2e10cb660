"""The board in a real browser (Debian's chromium through Playwright) against a real uvicorn
process: a device press appears within 2 s and counts down, a worker's accept through the API
updates it, assignment and notes from the page, the stream cut (server killed, socket closed
with the missed events gone) and restored catches up, both APIs' docs (Swagger UI, ReDoc)
rendered offline, and the speed with 359 grids and 200 open alerts (reported, not asserted)."""

from __future__ import annotations

import io
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from backend.accounts.models import DutyShift, GridAssignment, MobileSession, Role, User
from backend.alerts.actions import do_accept, do_raise_alert, do_resolve
from backend.alerts.devices import do_register_device
from backend.alerts.models import Alert
from backend.alerts.selectors import ESCALATE
from backend.core.models import StreamEvent, Timer
from backend.core.stream import close_session_sockets
from backend.notify.models import OutboxMessage
from backend.territory.models import Community, District, Grid, Household
from tests.board.conftest import current_code, enrol
from tests.board.live import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.conftest import PASSWORD, World, _resident, square

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")


def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run Django code in a thread of its own: Playwright's sync API keeps an asyncio loop
    running in this one, where the channel layer's async_to_sync refuses to work."""

    def run() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveServer]:
    live = LiveServer()
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./infra/bootstrap.sh --browser (make test does)")
    # Playwright's loop runs in this thread; the test's own ORM calls are plain sync code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = playwright_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    pw.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium: Any, server: LiveServer) -> Iterator[Any]:
    context = chromium.new_context(
        locale="zh-CN",
        viewport={"width": 1440, "height": 900},
        # Playwright's own wait_for_function evaluates strings; the page's CSP (no eval) is
        # checked by the console-error assertions below, which still see any violation of ours.
        bypass_csp=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(10_000)
    yield page
    context.close()
    quiet_outbox()
    # Refused requests and sockets (server down, 401 after log-out) log console errors of the
    # browser's own; a script error may not happen.
    unexpected = [e for e in errors if "WebSocket" not in e and "Failed to load resource" not in e]
    assert not unexpected, errors


def quiet_outbox(timeout: float = 15) -> None:
    """Stop the ladders this test started and let the live server's dispatcher finish what it
    holds: its writes must not meet the flush (TRUNCATE) that follows the test."""
    OutboxMessage.objects.filter(status="pending").update(status="cancelled")
    deadline = time.monotonic() + timeout
    while OutboxMessage.objects.filter(status="sending").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # its round's last writes (the timeline) after the row's


def log_in(page: Any, server: LiveServer, user: User) -> None:
    device = enrol(user)
    page.goto(f"{server.url}/board/login/")
    page.fill("input[name=phone]", user.phone)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.fill("input[name=code]", current_code(device))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/board/")
    wait_ready(page)


def wait_ready(page: Any) -> None:
    page.wait_for_function("window.__board && window.__board.ready && window.__board.connected")


def row(page: Any, alert_id: int) -> Any:
    return page.locator(f"#alerts li[data-alert-id='{alert_id}']")


def wait_state(page: Any, alert_id: int, state: str, timeout: float = 10_000) -> None:
    page.wait_for_selector(
        f"#alerts li[data-alert-id='{alert_id}'][data-state='{state}']", timeout=timeout
    )


def countdown(page: Any, alert_id: int) -> int:
    text = row(page, alert_id).locator("[data-testid=countdown]").inner_text()
    return int(text.split()[0])


# -- a press, an accept, an assignment -------------------------------------------------------


def test_a_press_appears_within_2s_counts_down_and_updates_live(
    page: Any, server: LiveServer, world: World
) -> None:
    do_register_device(device_id="PENDANT-B1", kind="pendant", resident=world.resident_a)
    log_in(page, server, world.supervisor_1)
    assert page.locator("[data-testid=conn]").inner_text() == "实时连接正常"
    assert page.evaluate("window.__board.metrics.grids") == 2  # community 1's grids, drawn

    started = time.monotonic()
    call_command("press_button", device="PENDANT-B1", url=server.url, stdout=io.StringIO())
    page.wait_for_selector("#alerts li[data-alert-id]", timeout=2_000)
    appeared = time.monotonic() - started
    alert = Alert.objects.get()
    item = row(page, alert.pk)
    assert "张**" in item.inner_text() and "紧急" in item.inner_text()
    assert world.household_a.address in item.inner_text()
    assert "第1级" in item.inner_text()  # worker A is on duty in grid A

    first = countdown(page, alert.pk)
    assert 50 <= first <= 60
    page.wait_for_timeout(1_600)
    assert countdown(page, alert.pk) < first
    assert page.evaluate("window.__board.beeps") >= 1
    page.wait_for_function("document.title.indexOf('新紧急求助') >= 0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board.png"))

    # the worker accepts on the phone, through the API of the same server
    status, tokens = server.request(
        "POST", "/api/v1/auth/login", {"phone": world.worker_a.phone, "password": PASSWORD}
    )
    assert status == 200, tokens
    status, body = server.request(
        "POST", f"/api/v1/alerts/{alert.pk}/accept", {}, token=tokens["access_token"]
    )
    assert status == 200, body
    wait_state(page, alert.pk, "accepted", timeout=2_000)
    assert world.worker_a.name in item.inner_text()
    assert item.locator("[data-testid=countdown]").inner_text() == ""

    # the supervisor reassigns it with a note, then adds a note
    item.click()
    detail = page.locator("[data-testid=detail]")
    detail.locator("[data-testid=timeline] li").first.wait_for()
    assert "发起" in detail.inner_text()
    detail.locator("select[name=assignee]").select_option(str(world.worker_b.pk))
    detail.locator("[data-testid=assign-form] textarea").fill("A 在另一户，改派 B")
    detail.locator("[data-testid=assign-form] button").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=timeline]').innerText.indexOf('改派给') >= 0"
    )
    assert "A 在另一户，改派 B" in detail.inner_text()
    page.wait_for_function(
        f"document.querySelector(\"#alerts li[data-alert-id='{alert.pk}']\")"
        f".innerText.indexOf({json.dumps(world.worker_b.name)}) >= 0"
    )
    detail.locator("[data-testid=note-form] textarea").fill("已通知家属")
    detail.locator("[data-testid=note-form] button").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=timeline]').innerText.indexOf('已通知家属') >= 0"
    )
    print(f"\n[board] press → on the board: {appeared * 1000:.0f} ms")
    assert appeared < 2


def test_households_when_zoomed_in_english_and_log_out(
    page: Any, server: LiveServer, world: World
) -> None:
    world.grid_a.name = '<img src=x onerror="window.__pwned=1">一网格'  # drawn as text
    world.grid_a.save()
    log_in(page, server, world.supervisor_1)
    assert page.locator(".grid-label", has_text="<img src=x").count() == 1
    assert page.evaluate("window.__pwned") is None
    home = world.household_a.location
    with page.expect_response("**/board/api/households?bbox=*") as answer:
        page.evaluate(f"window.__board.map.setView([{home.y}, {home.x}], 17)")
    assert answer.value.status == 200
    assert world.household_a.address in json.dumps(answer.value.json(), ensure_ascii=False)
    page.select_option("[data-testid=language]", "en")
    page.wait_for_load_state()
    wait_ready(page)
    assert page.title() == "Community dispatch board"
    assert page.locator("[data-testid=conn]").inner_text() == "Live"
    page.click("[data-testid=logout]")
    page.wait_for_url(f"{server.url}/board/login/")
    page.goto(f"{server.url}/board/")
    assert page.url.endswith("/board/login/")


# -- the stream cut and restored -------------------------------------------------------------


def _raise(resident: Any) -> Alert:
    with transaction.atomic():
        return do_raise_alert(resident=resident, kind="emergency", source="worker")


def test_a_cut_stream_catches_up_by_replay_and_by_resync(
    page: Any, server: LiveServer, world: World
) -> None:
    alert = off_loop(_raise, world.resident_a)
    log_in(page, server, world.supervisor_1)
    wait_state(page, alert.pk, "open")

    # 1. the server dies; while it is down the worker accepts; it comes back
    server.stop()
    page.wait_for_selector("[data-testid=conn].conn-down", timeout=5_000)
    assert "可能已过期" in page.locator("[data-testid=conn]").inner_text()
    assert "stale" in (page.locator("body").get_attribute("class") or "")
    off_loop(lambda: do_accept(user=world.worker_a, alert_id=alert.pk))
    page.wait_for_timeout(300)
    assert row(page, alert.pk).get_attribute("data-state") == "open"  # not yet known
    server.start()
    wait_state(page, alert.pk, "accepted", timeout=15_000)
    wait_ready(page)
    assert page.evaluate("window.__board.resyncs") == 0  # replayed from last_event_id
    assert page.evaluate("window.__board.reconnects") >= 1

    # 2. the server closes the socket, and the events missed meanwhile are gone (retention):
    #    the server says resync_required and the page reloads its state from the API
    page.route("**/board/api/ticket", lambda route: route.abort())
    session = MobileSession.objects.get(user=world.supervisor_1, revoked_at__isnull=True)
    off_loop(close_session_sockets, session.pk)
    page.wait_for_selector("[data-testid=conn].conn-down", timeout=5_000)
    off_loop(
        lambda: do_resolve(
            user=world.worker_a, alert_id=alert.pk, disposition="assisted_on_site", note=""
        )
    )
    StreamEvent.objects.filter(user=world.supervisor_1).delete()
    page.unroute("**/board/api/ticket")
    wait_state(page, alert.pk, "resolved", timeout=15_000)
    wait_ready(page)
    assert page.evaluate("window.__board.resyncs") == 1


# -- the APIs' docs, offline ---------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/v1", "/board/api"])
def test_the_api_docs_render_offline_from_our_static_files(
    page: Any, server: LiveServer, prefix: str
) -> None:
    """Swagger UI and ReDoc come from Ninja's static files, not a CDN: with no network but
    the server (as here: chromium reaches nothing else), both draw every operation."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    status, schema = server.request("GET", f"{prefix}/openapi.json")
    assert status == 200
    operations = sum(
        1 for item in schema["paths"].values() for method in item if method != "parameters"
    )
    assert operations >= 8

    page.goto(f"{server.url}{prefix}/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.locator(".swagger-ui .opblock").count() == operations
    assert schema["info"]["title"] in page.locator(".swagger-ui .info .title").inner_text()

    page.goto(f"{server.url}{prefix}/redoc")
    page.wait_for_selector("[data-section-id^='operation/']")
    drawn = page.evaluate(
        "new Set(Array.from(document.querySelectorAll(\"[data-section-id^='operation/']\"),"
        " e => e.dataset.sectionId)).size"
    )
    assert drawn == operations

    # ReDoc's sidebar credit always asks for its logo (and hides it when that fails); its
    # search index runs in a same-origin blob: worker. Nothing else leaves the server.
    credit = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    elsewhere = [
        url
        for url in requested
        if not url.startswith((server.url, f"blob:{server.url}")) and url != credit
    ]
    assert not elsewhere, elsewhere


# -- speed (reported, not asserted) ----------------------------------------------------------


def big_district(officer_phone: str) -> tuple[User, list[int]]:
    """359 grids in 18 communities, 200 open alerts, and a district officer watching them."""
    district = District.objects.create(code="D-PERF", name="性能区")
    communities = [
        Community.objects.create(district=district, code=f"P{c:02d}", name=f"社区{c}")
        for c in range(18)
    ]
    size = 0.004
    grids = Grid.objects.bulk_create(
        Grid(
            community=communities[i % 18],
            code=f"P-G{i:03d}",
            name=f"网格{i}",
            boundary=square(117.70 + (i % 19) * size, 30.85 + (i // 19) * size, size * 0.95),
        )
        for i in range(359)
    )
    households = Household.objects.bulk_create(
        Household(
            grid=grids[i],
            address=f"性能路{i}号",
            location=grids[i].boundary.centroid,
        )
        for i in range(200)
    )
    resident = _resident(households[0], "赵秀英", date(1938, 1, 1), ["aged_80"])
    now = timezone.now()
    flood = Alert.objects.bulk_create(
        Alert(
            kind="emergency" if i % 3 else "help",
            source="device",
            resident=resident,
            household=households[i],
            grid=households[i].grid,
            community=households[i].grid.community,
            state="open",
            tier=1,
        )
        for i in range(200)
    )
    # Each one's deadline is its escalation timer (the one stored deadline).
    Timer.objects.bulk_create(
        Timer(
            kind=ESCALATE,
            key=str(a.pk),
            due_at=now + timedelta(seconds=600 + i),
            payload={"tier": 1},
        )
        for i, a in enumerate(flood)
    )
    officer = User.objects.create_user(
        officer_phone, PASSWORD, name="区值班员", role=Role.DISTRICT_ADMIN, district=district
    )
    DutyShift.objects.create(
        user=officer, community=None, starts_at=now, ends_at=now + timedelta(hours=8)
    )
    return officer, [h.pk for h in households]


def test_speed_with_359_grids_and_200_open_alerts(page: Any, server: LiveServer) -> None:
    officer, _ = big_district("13900000090")
    log_in(page, server, officer)
    loads = []
    for _ in range(3):
        page.goto(f"{server.url}/board/")
        wait_ready(page)
        loads.append(page.evaluate("window.__board.metrics"))
    assert loads[0]["grids"] == 359 and loads[0]["alerts"] == 200
    resident = Alert.objects.first().resident  # type: ignore[union-attr]

    timings = []
    for _ in range(10):
        seen = page.evaluate("window.__board.frames.length")
        off_loop(_raise, resident)
        page.wait_for_function(
            f"window.__board.frames.length > {seen} && "
            f"window.__board.frames[{seen}].paintMs !== undefined",
            timeout=10_000,
        )
        timings.append(page.evaluate(f"window.__board.frames[{seen}]"))
    first = [m["firstRenderMs"] for m in loads]
    apply_ms = [t["applyMs"] for t in timings]
    paint_ms = [t["paintMs"] for t in timings]
    report = {
        "grids": loads[0]["grids"],
        "alerts": loads[0]["alerts"],
        "first_render_ms": {"runs": first, "median": statistics.median(first)},
        "data_fetched_ms": [m["dataMs"] for m in loads],
        "frame_to_applied_ms": {"median": statistics.median(apply_ms), "max": max(apply_ms)},
        "frame_to_painted_ms": {"median": statistics.median(paint_ms), "max": max(paint_ms)},
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "board-perf.json").write_text(json.dumps(report, indent=2))
    print(f"\n[board] speed: {json.dumps(report)}")


def test_with_200_open_alerts_a_new_tier_1_emergency_is_drawn_first(
    page: Any, server: LiveServer
) -> None:
    """The flood a supervisor must read: 200 open alerts, older and escalated further; a new
    tier-1 emergency is the first row, the repeats of one resident are one row with their
    count, and the open alerts are counted per grid above the list."""
    officer, _ = big_district("13900000091")
    Alert.objects.update(tier=3, created_at=timezone.now() - timedelta(minutes=10))
    repeated = Alert.objects.filter(kind="emergency").order_by("pk").first()
    assert repeated is not None
    Alert.objects.filter(pk=repeated.pk).update(presses=37)
    log_in(page, server, officer)
    assert page.locator("#alerts li[data-alert-id]").count() == 200
    counts = page.locator("[data-testid=grid-counts]")
    assert counts.is_visible()
    # One open alert in each of 200 grids: the busiest shown, the rest summed.
    assert counts.locator("li[data-grid-id]").count() == 12
    assert "188" in counts.locator("li").last.inner_text()
    assert "37" in row(page, repeated.pk).locator("[data-testid=presses]").inner_text()

    home = Household.objects.select_related("grid").get(address="性能路150号")
    manager = User.objects.create_user(
        "13900000092", PASSWORD, name="网格长", role=Role.WORKER, community=home.grid.community
    )
    GridAssignment.objects.create(user=manager, grid=home.grid)
    now = timezone.now()
    DutyShift.objects.create(
        user=manager, community=home.grid.community, starts_at=now, ends_at=now + timedelta(hours=8)
    )
    resident = _resident(home, "钱秀珍", date(1940, 2, 2), ["aged_80"])
    new = off_loop(_raise_for, resident)
    assert new.tier == 1
    page.wait_for_function(
        f"document.querySelector('#alerts li[data-alert-id]').dataset.alertId === '{new.pk}'",
        timeout=5_000,
    )
    first_row = page.locator("#alerts li[data-alert-id]").first
    assert "紧急" in first_row.inner_text()
    assert "2" in counts.locator("li[data-grid-id]").first.inner_text()  # its grid now has two
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-flood.png"))


def _raise_for(resident: Any) -> Alert:
    with transaction.atomic():
        return do_raise_alert(resident=resident, kind="emergency", source="worker")
