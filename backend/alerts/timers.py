"""Clock handlers of the alerts domain."""

from __future__ import annotations

from backend.core import clock, observe
from backend.core.models import Timer

from . import actions, devices


@clock.handles(actions.ESCALATE)
def escalate(timer: Timer) -> None:
    observe.bind(alert_id=int(timer.key))
    actions.escalate(alert_id=int(timer.key), tier=int(timer.payload["tier"]))


@clock.handles(devices.DEVICE_SILENT)
def device_silent(timer: Timer) -> None:
    devices.device_went_silent(device_id=int(timer.key), due_at=timer.due_at)


@clock.handles(actions.TEXT_CONTACTS)
def text_contacts(timer: Timer) -> None:
    observe.bind(alert_id=int(timer.key))
    actions.text_emergency_contacts(alert_id=int(timer.key))
