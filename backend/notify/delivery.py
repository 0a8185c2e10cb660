"""Push urgent stream events to the phones of users who have no live socket."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from backend.accounts.models import PushToken
from backend.core.models import StreamEvent

from .push import get_provider, prune_unregistered

logger = logging.getLogger(__name__)

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


def push_data(event: StreamEvent) -> dict[str, str]:
    """An FCM data message: strings only; the app fetches the rest through the API/stream."""
    data = event.data
    kind = str(data.get("kind", ""))
    title_zh, _ = TITLES.get(kind, ("新消息", "New event"))
    household = data.get("household") or {}
    return {
        "type": event.type,
        "event_id": str(event.seq),
        "alert_id": str(data.get("alert_id", "")),
        "kind": kind,
        "tier": str(data.get("tier", "")),
        "title": title_zh,
        "body": str(household.get("address", ""))[:200] if isinstance(household, dict) else "",
    }


def push_events(events: Iterable[StreamEvent]) -> int:
    """Send each event to every registered phone of its user; prune dead tokens."""
    by_user: dict[int, list[StreamEvent]] = defaultdict(list)
    for event in events:
        by_user[event.user_id].append(event)
    tokens: dict[tuple[int, str], list[str]] = defaultdict(list)
    for row in PushToken.objects.filter(user_id__in=by_user):
        tokens[(row.user_id, row.provider)].append(row.token)
    sent = 0
    for (user_id, provider_name), user_tokens in tokens.items():
        provider = get_provider(provider_name)
        for event in by_user[user_id]:
            try:
                results = provider.send(
                    tokens=user_tokens,
                    data=push_data(event),
                    urgent=True,
                    collapse_key=f"{event.type}-{event.data.get('alert_id', event.seq)}"[:64],
                )
            except Exception:
                logger.exception("push of event %s to user %s failed", event.seq, user_id)
                continue
            prune_unregistered(results)
            sent += sum(1 for r in results if r.ok)
    return sent
