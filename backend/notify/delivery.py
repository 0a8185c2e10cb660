"""Push urgent stream events to the phones of users who have no live socket (a dispatcher duty,
registered in NotifyConfig.ready)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from backend.accounts.models import PushToken
from backend.core.dispatcher import PRESENCE_TTL
from backend.core.models import SocketPresence, StreamEvent

from .push import get_provider, prune_unregistered

logger = logging.getLogger(__name__)

# An urgent event a "live" socket has not taken within this long is pushed anyway: the
# socket may have died with its process (kill -9) before its presence row expired.
DELIVERY_GRACE = timedelta(seconds=5)
PUSH_BATCH = 100

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


def push_pending() -> int:
    """Push urgent events no socket has taken: at once for users with no live socket, after
    DELIVERY_GRACE for users whose socket has not taken them (it may be dead).

    One query finds only what is due (the partial index `stream_push_pending` holds just the
    urgent events not yet delivered nor pushed) and claims it with SKIP LOCKED, so two
    dispatchers never push the same event twice and an idle round reads nothing."""
    now = timezone.now()
    live = SocketPresence.objects.filter(
        user_id=OuterRef("user_id"), seen_at__gte=now - PRESENCE_TTL
    )
    with transaction.atomic():
        claimed = list(
            StreamEvent.objects.select_for_update(skip_locked=True)
            .filter(urgent=True, pushed_at__isnull=True, delivered_at__isnull=True)
            .filter(Q(at__lte=now - DELIVERY_GRACE) | ~Exists(live))
            .order_by("at")[:PUSH_BATCH]
        )
        if not claimed:
            return 0
        StreamEvent.objects.filter(pk__in=[e.pk for e in claimed]).update(pushed_at=now)
    push_events(claimed)
    return len(claimed)
