from typing import Any

from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "backend.notify"
    label = "notify"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from backend.core import dispatcher, health, metrics, stream

        from . import outbox, senders, sms, voice
        from .ladder import enqueue_ladders
        from .models import Channel

        stream.on_urgent("ladder", enqueue_ladders)
        outbox.register_sender(Channel.PUSH, senders.send_push)
        outbox.register_sender(Channel.SMS, senders.send_sms)
        outbox.register_sender(Channel.VOICE, senders.send_voice)
        dispatcher.register_duty("outbox", outbox.send_due)
        health.register_check("outbox", outbox.health_check)
        metrics.register_gauge(
            "gridline_outbox_pending",
            "Push, SMS and voice messages due in the outbox and not yet sent.",
            outbox.pending_by_channel,
            labels=["channel"],
        )

        def reset(*, setting: str, **kwargs: Any) -> None:
            if setting.startswith(("SMS_", "ALIYUN_", "TENCENT_")):
                sms.reset_backends()
            if setting.startswith(("VOICE_", "ALIYUN_")):
                voice.reset_backends()

        setting_changed.connect(reset, weak=False, dispatch_uid="notify-backends")
