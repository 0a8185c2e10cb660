from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "backend.assessment"
    label = "assessment"
    verbose_name = "Assessment 考核"

    def ready(self) -> None:
        from backend.core.dispatcher import register_housekeeping

        from . import follow_ups  # registers the SMS clock handler

        register_housekeeping("assessment.follow_ups", follow_ups.ask_due)
