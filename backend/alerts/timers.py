"""Clock handlers of the alerts domain."""

from __future__ import annotations

from backend.core import clock
from backend.core.models import Timer

from . import actions


@clock.handles(actions.ESCALATE)
def escalate(timer: Timer) -> None:
    actions.escalate(alert_id=int(timer.key), tier=int(timer.payload["tier"]))


@clock.handles(actions.DEVICE_SILENT)
def device_silent(timer: Timer) -> None:
    actions.device_went_silent(device_id=int(timer.key))
