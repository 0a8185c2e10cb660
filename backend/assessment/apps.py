from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "backend.assessment"
    label = "assessment"
    verbose_name = "Assessment 考核"

    def ready(self) -> None:
        from backend.core.dispatcher import register_housekeeping
        from backend.notify import outbox

        from . import follow_ups  # registers the SMS clock handler

        register_housekeeping("assessment.follow_ups", follow_ups.ask_due)
        # A resident's text back to a follow-up SMS ("3", "123456 3") is their answer.
        outbox.register_listener(follow_ups.SUBJECT, follow_ups.on_sms_reply, what="reply")
