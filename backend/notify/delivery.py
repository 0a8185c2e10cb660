"""What a push says about a stream event, and nothing more: the kind of event, its tier, its
grid and the id of the thing (alert, visit task, case). No name, address, phone or ID number
ever leaves through a push provider (PIPL: FCM and the phone makers' channels are someone
else's servers, FCM's abroad); the app fetches the rest over the API."""

from __future__ import annotations

import re
from typing import Any

from backend.core.models import StreamEvent

TITLES = {
    "emergency": ("紧急求助", "Emergency call"),
    "help": ("求助", "Help request"),
    "device_offline": ("设备离线", "Device offline"),
    "low_battery": ("设备电量低", "Device battery low"),
    "alert_follow_up": ("紧急求助回访", "Follow-up visit after an emergency"),
    "device_check": ("设备离线，请上门检查", "Device check visit"),
    "delivery": ("办理结果待送达", "Result to hand over"),
    "finding_follow_up": ("走访跟进", "Follow-up visit"),
    "tasks_changed": ("走访任务有更新", "Your visit list changed"),
}
BODY = "请立即打开应用查看。"
# The ids a push may carry, by the key the event's data holds them under.
ID_KEYS = ("alert_id", "task_id", "case_id")
# A kind is one of our own codes (emergency, device_check ...), never free text.
KIND = re.compile(r"[a-z_]{1,40}")


def _id(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def push_data(event: StreamEvent) -> dict[str, str]:
    """A data message of strings: kind, tier, grid, ids, and a fixed title and body."""
    data = event.data if isinstance(event.data, dict) else {}
    kind = data.get("kind")
    kind = kind if isinstance(kind, str) and KIND.fullmatch(kind) else ""
    title_zh, _ = TITLES.get(kind, ("新消息", "New event"))
    payload = {
        "type": event.type,
        "event_id": str(event.seq),
        "kind": kind,
        "tier": _id(data.get("tier")),
        "grid_id": _id(data.get("grid_id")),
        "title": title_zh,
        "body": BODY,
    }
    for key in ID_KEYS:
        if _id(data.get(key)):
            payload[key] = _id(data.get(key))
    return payload


def ladder_kind(event: StreamEvent) -> str:
    """The kind a ladder policy is chosen by: the alert's or task's kind, else the event type."""
    kind = event.data.get("kind") if isinstance(event.data, dict) else None
    return kind if isinstance(kind, str) and kind else event.type


def subject_of(event: StreamEvent) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    for key in ID_KEYS:
        if _id(data.get(key)):
            return f"{key.removesuffix('_id')}:{data[key]}"
    return f"event:{event.type}"
