"""manage.py dispatcher: run the durable clock, the event relay and push delivery.

Run one or more next to the ASGI processes; they share the work through row locks.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from backend.core import dispatcher, metrics


class Command(BaseCommand):
    help = "Fire due timers, relay unpublished events and push urgent ones (run several)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--poll", type=float, default=0.1, help="idle poll interval, s")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        if settings.DISPATCHER_METRICS_PORT:
            metrics.serve_process_metrics(settings.DISPATCHER_METRICS_PORT)
        self.stdout.write(f"dispatcher running (poll {options['poll']} s)")
        dispatcher.serve(stop=stop, poll=options["poll"])
