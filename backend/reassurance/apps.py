from django.apps import AppConfig


class ReassuranceConfig(AppConfig):
    name = "backend.reassurance"
    label = "reassurance"
    verbose_name = "关爱电话 reassurance calls"

    def ready(self) -> None:
        from backend.notify import outbox

        from . import timers  # noqa: F401  (the weekly job and the answer window on the clock)
        from .actions import SUBJECT, on_outbox

        outbox.register_listener(SUBJECT, on_outbox)
