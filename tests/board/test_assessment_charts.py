"""/board/api/assessment?scheme=: the charts of the grid workers' (B post), the A-post
officers' and the communities' schemes, each from the cards the supervisor may see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.assessment.actions import do_open_period
from backend.assessment.samples import do_create_sample_schemes
from tests.assessment.fixtures import build, worker_scheme
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_each_scheme_has_its_charts(
    world: World, board_for: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    build(world)
    worker = worker_scheme(world)
    samples = {s.applies_to: s for s in do_create_sample_schemes(district=world.district)}
    for quarter in (2, 3):
        for scheme in (worker, samples["officer"], samples["community"]):
            do_open_period(scheme=scheme, year=2026, quarter=quarter, by=world.admin)
    client = board_for(world.supervisor_1)
    by_scheme = {
        name: client.get("/board/api/assessment", {"scheme": name}).json()
        for name in ("worker", "officer", "community")
    }
    assert client.get("/board/api/assessment").json() == by_scheme["worker"]  # the default
    officer = by_scheme["officer"]
    assert officer["applies_to"] == "officer"
    assert officer["period"]["scheme"] == "职能岗（A岗）考核"
    assert officer["period"]["label"] == "2026年第3季度"
    assert [(r["community"], r["cards"]) for r in officer["ranking"]] == [("幸福社区", 1)]
    assert {t["period"] for t in officer["trend"]} == {"2026Q2", "2026Q3"}
    assert "a_on_time" in {d["indicator"] for d in officer["distribution"]}
    community = by_scheme["community"]
    assert community["period"]["scheme"] == "社区考核"
    # the supervisor of community 1 sees its card only, not community 2's
    assert [r["community_id"] for r in community["ranking"]] == [world.c1.pk]
    assert {t["community_id"] for t in community["trend"]} == {world.c1.pk}
    assert "c_alert_answered" in {d["indicator"] for d in community["distribution"]}
    district = board_for(world.admin).get("/board/api/assessment", {"scheme": "community"})
    assert {r["community_id"] for r in district.json()["ranking"]} == {world.c1.pk, world.c2.pk}
    bad = client.get("/board/api/assessment", {"scheme": "mayor"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"scheme": "Invalid value."}


def test_a_scheme_without_periods_draws_nothing(world: World, board_for: Any) -> None:
    body = board_for(world.supervisor_1).get("/board/api/assessment", {"scheme": "officer"})
    assert body.status_code == 200
    assert body.json() == {
        "applies_to": "officer", "period": None, "ranking": [], "trend": [], "distribution": [],
    }  # fmt: skip
