"""The layer order inside backend/ and the package arrows, as import-linter contracts
([tool.importlinter] in pyproject.toml; docs/architecture.md draws them). `make lint` runs the
same check; this test keeps it in every pytest run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_a_wrong_import_breaks_the_contract(tmp_path: Path) -> None:
    """The same contracts on a copy of the tree where core imports a work domain."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "data", "static")
    packages = ("backend", "mobile_api", "realtime", "board", "alarm_receiver", "tests", "bench")
    for package in (*packages, "harness"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    wrong = tmp_path / "backend" / "core" / "geo.py"
    wrong.write_text(wrong.read_text() + "\nfrom backend.alerts.models import Alert  # noqa\n")
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(linter), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0, done.stdout
    assert "backend.core is not allowed to import backend.alerts" in done.stdout, done.stdout
    assert "backend.core.geo -> backend.alerts.models" in done.stdout, done.stdout
