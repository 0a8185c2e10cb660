from django.contrib import admin

from .models import LadderPolicy, OutboxMessage


@admin.register(LadderPolicy)
class LadderPolicyAdmin(admin.ModelAdmin):
    """Per community and event kind: when the SMS and the voice call follow an unacknowledged
    push (empty community = district default; none = the built-in defaults)."""

    list_display = ("community", "kind", "sms_after_s", "voice_after_s")
    list_filter = ("kind",)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """What went out, or is waiting, or died: read only (the dispatcher owns these rows)."""

    list_display = ("pk", "channel", "subject", "rung", "status", "attempts", "provider")
    list_filter = ("channel", "status", "provider")
    search_fields = ("subject", "provider_message_id")
    exclude = ("to",)  # a phone number: not shown in the list of what was sent

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
