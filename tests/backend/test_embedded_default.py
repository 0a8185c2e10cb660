"""The embedded default (`make run` without DATABASE_URL): SpatiaLite and the in-memory layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_fresh_spatialite_migrates_and_answers_health_and_a_scoped_list(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["GRIDLINE_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "tests.backend.spatialite_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["engine"] == "backend.core.spatialite"
    assert (tmp_path / "gridline.sqlite3").exists()
    assert report["health_status"] == 200, report["health"]
    assert report["health"]["channel_layer"] == "ok"
    assert report["residents_status"] == 200
    assert report["resident_names"] == ["居民0"]
    assert report["containing_grid"] == ["G0"]
    assert report["visit_stops"] == 1
    assert report["checkin"] == [None, 19]
    assert report["sync"] == [[1, 0], [0, 1]]
