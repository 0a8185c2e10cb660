from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "backend.notify"
    label = "notify"

    def ready(self) -> None:
        from backend.core import dispatcher

        from .delivery import push_pending

        dispatcher.register_duty("push", push_pending)
