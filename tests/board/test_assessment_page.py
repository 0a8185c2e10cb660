"""The board's assessment page in chromium: ECharts (shipped as a static file) draws the
ranking per community, the trend across quarters and the spread of the indicators from the
cards the supervisor may see, for the grid workers' (B post), the A-post officers' and the
communities' schemes (tabs); the screenshots go to docs/assessment*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.assessment.actions import do_open_period
from backend.assessment.samples import do_create_sample_schemes
from tests.assessment.fixtures import build, worker_scheme
from tests.board.live import LiveServer
from tests.board.test_browser import chromium, log_in, page, server  # noqa: F401  (fixtures)
from tests.conftest import World

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_assessment_page_draws_its_charts(
    page: Any,  # noqa: F811
    server: LiveServer,  # noqa: F811
    world: World,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    build(world)
    scheme = worker_scheme(world)
    samples = {s.applies_to: s for s in do_create_sample_schemes(district=world.district)}
    for quarter in (2, 3):
        for each in (scheme, samples["officer"], samples["community"]):
            do_open_period(scheme=each, year=2026, quarter=quarter, by=world.admin)
    log_in(page, server, world.supervisor_1)
    page.click("[data-testid=assessment-link]")
    ranking, trend, spread = drawn = charts(page, "worker")
    assert ranking["categories"] == ["幸福社区"]  # community 1 only: its supervisor's scope
    assert trend["categories"] == ["2026Q2", "2026Q3"] and trend["series"] == 1
    assert spread["series"] == 5 and "走访覆盖率" in spread["categories"]
    for chart in drawn:
        assert chart["width"] > 100 and chart["inked"] > 1000, chart
    page.screenshot(path=str(DOCS / "assessment.png"), full_page=True)
    for name, indicator in (("officer", "按期办结率"), ("community", "按策略接警率")):
        page.click(f"[data-testid=scheme-{name}]")
        ranking, trend, spread = drawn = charts(page, name)
        assert ranking["categories"] == ["幸福社区"], name
        assert trend["categories"] == ["2026Q2", "2026Q3"] and trend["series"] == 1, name
        assert spread["series"] == 5 and indicator in spread["categories"], (name, spread)
        for chart in drawn:
            assert chart["width"] > 100 and chart["inked"] > 1000, (name, chart)
        selected = page.locator(f"[data-testid=scheme-{name}]").get_attribute("aria-selected")
        assert selected == "true"
        page.screenshot(path=str(DOCS / f"assessment-{name}.png"), full_page=True)


def charts(tab: Any, scheme: str) -> list[dict[str, Any]]:
    """Wait for the scheme's three charts, then read what each drew."""
    tab.wait_for_function(
        "s => window.__assessment && window.__assessment.scheme === s"
        " && window.__assessment.ready && window.__assessment.drawn.length === 3",
        arg=scheme,
    )
    assert tab.locator("[data-testid=period]").inner_text() == "2026年第3季度"
    return tab.evaluate(
        """() => ['chart-ranking', 'chart-trend', 'chart-distribution'].map(id => {
            const node = document.getElementById(id);
            const option = echarts.getInstanceByDom(node).getOption();
            const canvas = node.querySelector('canvas');
            const ctx = canvas.getContext('2d');
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
            return {id, series: option.series.length, width: canvas.width, inked,
                    categories: (option.yAxis[0].data || option.xAxis[0].data || [])};
        })"""
    )
