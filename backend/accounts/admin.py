from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import (
    BusinessLineAssignment,
    DutyShift,
    GridAssignment,
    MobileSession,
    PushToken,
    User,
)


class GridAssignmentInline(admin.TabularInline):
    model = GridAssignment
    extra = 0
    raw_id_fields = ("grid",)
    verbose_name = "B post (grid)"


class BusinessLineAssignmentInline(admin.TabularInline):
    model = BusinessLineAssignment
    extra = 0
    verbose_name = "A post (business line)"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("phone",)
    list_display = ("phone", "name", "role", "community", "is_active")
    list_filter = ("role", "community", "is_active")
    search_fields = ("phone", "name")
    raw_id_fields = ("resident",)
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("Post", {"fields": ("name", "role", "district", "community", "resident")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
    )
    add_fieldsets = ((None, {"fields": ("phone", "name", "role", "password1", "password2")}),)
    inlines = (GridAssignmentInline, BusinessLineAssignmentInline)


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    list_display = ("user", "community", "grid", "starts_at", "ends_at")
    list_filter = ("community",)
    raw_id_fields = ("user", "grid")
    date_hierarchy = "starts_at"


@admin.register(MobileSession)
class MobileSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "client", "created_at", "revoked_at", "revoke_reason")
    raw_id_fields = ("user",)


@admin.register(PushToken)
class PushTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "provider", "platform", "last_seen_at")
    raw_id_fields = ("user",)
    exclude = ("token_digest",)
