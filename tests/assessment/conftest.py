"""Assessment fixtures: media in a tmp dir, the hand-built quarter, an opened period."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backend.assessment.actions import do_open_period
from tests.conftest import World

from .fixtures import build, worker_scheme


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def quarter(world: World) -> SimpleNamespace:
    records = build(world)
    scheme = worker_scheme(world)
    period = do_open_period(scheme=scheme, year=2026, quarter=3, by=world.admin)
    return SimpleNamespace(**vars(world), **vars(records), scheme=scheme, period=period)
