from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "backend.community"
    label = "community"
    verbose_name = "Community life 居务公开与民主议事"

    def ready(self) -> None:
        from backend.core import dispatcher
        from backend.notify import outbox

        from . import timers  # noqa: F401  (registers the notice and poll clock handlers)
        from .actions.calls import SUBJECT, on_call_outcome
        from .sms import send_due_notice_sms

        dispatcher.register_duty("community.notice_sms", send_due_notice_sms)
        outbox.register_listener(SUBJECT, on_call_outcome)
