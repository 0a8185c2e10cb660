"""manage.py dc09_send: send one DC-09 message to a receiver, as a panel would, and print
the answer (ACK, NAK or DUH). For trying the receiver without hardware."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from alarm_receiver.sender import frame, send


class Command(BaseCommand):
    help = "Send a SIA DC-09 event (or a NULL message) to the alarm receiver; print its answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="the panel's account (hex)")
        parser.add_argument("--code", default="PA", help="SIA event code (PA panic, FA fire...)")
        parser.add_argument("--zone", type=int, default=1)
        parser.add_argument("--seq", type=int, default=1, help="sequence number 1-9999")
        parser.add_argument("--key", default="", help="AES key (16/24/32 characters)")
        parser.add_argument("--null", action="store_true", help="a NULL supervision message")
        parser.add_argument("--host", default=settings.ALARM_RECEIVER_HOST)
        parser.add_argument("--port", type=int, default=settings.ALARM_RECEIVER_TCP_PORT)
        parser.add_argument("--udp", action="store_true", help="over UDP (default TCP)")

    def handle(self, *args: Any, **o: Any) -> None:
        message = frame(
            o["account"], o["code"], seq=o["seq"], zone=o["zone"], key=o["key"], null=o["null"]
        )
        self.stdout.write(f"sent    {message.strip().decode()}")
        answer = send(message, o["host"], o["port"], udp=o["udp"])
        self.stdout.write(f"answer  {answer.strip().decode(errors='replace')}")
