from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"

    def ready(self) -> None:
        from backend.core import dispatcher

        from . import signals  # noqa: F401  (connects the receivers)
        from .actions import prune_positions

        dispatcher.register_housekeeping("worker_positions", prune_positions)
