"""Runs one benchmark module that exposes `run(small) -> {"name": {"value", "unit", "baseline",
"ratio"}}` (bench/visits_photos.py, bench/visits_sync.py) in a process of its own:

    python -m bench.extra bench.visits_sync OUT.json [--small]

Such a module picks its own database (see its docstring); `bench.run` gives it the caller's
DATABASE_URL and the private Redis of the run.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--small"]
    if len(args) != 2:
        sys.exit("usage: python -m bench.extra MODULE OUT.json [--small]")
    module, out = args
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    rows = importlib.import_module(module).run(small="--small" in sys.argv)
    Path(out).write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
