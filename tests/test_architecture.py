"""Dependency direction: backend imports none of mobile_api, realtime and board; those three
do not import each other; only backend/config wires them all. No part of the product imports
the test and benchmark support (tests, bench, harness)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = {"tests", "bench", "harness"}
FORBIDDEN = {
    "backend": {"mobile_api", "realtime", "board"} | SUPPORT,
    "mobile_api": {"realtime", "board"} | SUPPORT,
    "realtime": {"mobile_api", "board"} | SUPPORT,
    "board": {"mobile_api", "realtime"} | SUPPORT,
    "harness": {"backend", "mobile_api", "realtime", "board", "tests", "bench"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_dependency_direction() -> None:
    violations = []
    for package, forbidden in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            bad = _imports(path) & forbidden
            if package == "backend" and path.is_relative_to(ROOT / "backend" / "config"):
                bad &= SUPPORT  # config wires the product, never the support code
            if bad:
                violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not violations, violations
