from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from leaflet.admin import LeafletGeoAdmin

from . import devices
from .models import AlarmAccount, Alert, AlertRecipient, AlertStep, Device, EscalationPolicy


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    """Tiers and timeouts per community and alert kind (empty community = district default)."""

    list_display = ("community", "kind", "tier_timeouts", "nearest_workers", "heartbeat_misses")
    list_filter = ("kind",)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("device_id", "kind", "resident", "last_heard_at", "battery", "revoked_at")
    search_fields = ("device_id",)
    raw_id_fields = ("resident", "household")
    exclude = ("secret",)
    readonly_fields = ("last_heard_at", "battery", "rotated_at", "revoked_at")
    actions = ("rotate_secret", "revoke")

    def save_model(self, request: HttpRequest, obj: Device, form: object, change: bool) -> None:
        if change:
            # A changed heartbeat interval moves the silence deadline.
            devices.do_update_device(device=obj, fields=list(getattr(form, "changed_data", [])))
            return
        device, secret = devices.do_register_device(
            device_id=obj.device_id,
            kind=obj.kind,
            resident=obj.resident,
            heartbeat_interval_s=obj.heartbeat_interval_s,
        )
        obj.pk = device.pk
        messages.warning(request, f"Secret for {device.device_id} (shown once): {secret}")

    @admin.action(description="Rotate the secret (shown once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset:
            secret = devices.do_rotate_device_secret(device=device)
            messages.warning(request, f"New secret for {device.device_id} (shown once): {secret}")

    @admin.action(description="Revoke")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset:
            devices.do_revoke_device(device=device)


@admin.register(AlarmAccount)
class AlarmAccountAdmin(admin.ModelAdmin):
    """DC-09 accounts, to look up and revoke (through their device). They are registered with
    `manage.py alarm_account`, which shows the AES key once; the key is never shown here."""

    list_display = ("account", "device", "receiver", "line", "created_at")
    search_fields = ("account", "device__device_id")
    exclude = ("key",)
    readonly_fields = ("account", "device", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class StepInline(admin.TabularInline):
    model = AlertStep
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "actor", "at", "note", "data")
    exclude = ("location",)


class RecipientInline(admin.TabularInline):
    model = AlertRecipient
    extra = 0
    can_delete = False
    readonly_fields = ("user", "tier", "notified_at", "acknowledged_at")


@admin.register(Alert)
class AlertAdmin(LeafletGeoAdmin):
    list_display = ("pk", "kind", "state", "tier", "community", "created_at", "accepted_by")
    list_filter = ("state", "kind", "community")
    date_hierarchy = "created_at"
    raw_id_fields = ("device", "raised_by", "resident", "household", "grid", "accepted_by")
    inlines = (RecipientInline, StepInline)

    # The lifecycle goes through the API, so that every step is on the timeline.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
