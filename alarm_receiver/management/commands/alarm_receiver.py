"""manage.py alarm_receiver: the SIA DC-09 receiver (TCP and UDP) as a process of its own.

Run one or several (a panel fails over between a primary and a backup receiver); they share
nothing but the database, which makes a message received twice one alert.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from alarm_receiver.server import start


class Command(BaseCommand):
    help = "Receive SIA DC-09 alarm messages over TCP and UDP; ACK each after its commit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.ALARM_RECEIVER_HOST)
        parser.add_argument(
            "--tcp-port", type=int, default=settings.ALARM_RECEIVER_TCP_PORT, help="0: no TCP"
        )
        parser.add_argument(
            "--udp-port", type=int, default=settings.ALARM_RECEIVER_UDP_PORT, help="0: no UDP"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._serve(options["host"], options["tcp_port"], options["udp_port"]))

    async def _serve(self, host: str, tcp_port: int, udp_port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        listening = await start(host, tcp_port or None, udp_port or None)
        self.stdout.write(
            f"alarm receiver listening on {host} tcp {listening.tcp_port or 'off'} "
            f"udp {listening.udp_port or 'off'}"
        )
        self.stdout.flush()
        await stop.wait()
        listening.close()
        c = listening.receiver.counts
        self.stdout.write(
            f"alarm receiver stopped: {c.ack} ACK, {c.nak} NAK, {c.duh} DUH, "
            f"{c.cpu_s:.3f} s CPU working messages"
        )
