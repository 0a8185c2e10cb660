"""Admin: users with their A and B posts, the duty roster, sessions and push tokens. B posts
and roster entries change through backend.accounts.actions, like any other caller."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from .actions import (
    do_remove_duty_shift,
    do_remove_grid_assignment,
    do_save_duty_shift,
    do_save_grid_assignment,
)
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

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not GridAssignment:
            super().save_formset(request, form, formset, change)
            return
        assignments = formset.save(commit=False)
        for removed in formset.deleted_objects:
            do_remove_grid_assignment(assignment=removed)
        for assignment in assignments:
            do_save_grid_assignment(assignment=assignment)


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    list_display = ("user", "community", "grid", "starts_at", "ends_at")
    list_filter = ("community",)
    raw_id_fields = ("user", "grid")
    date_hierarchy = "starts_at"

    def save_model(self, request: HttpRequest, obj: DutyShift, form: Any, change: bool) -> None:
        do_save_duty_shift(shift=obj)

    def delete_model(self, request: HttpRequest, obj: DutyShift) -> None:
        do_remove_duty_shift(shift=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DutyShift]) -> None:
        for shift in queryset:
            do_remove_duty_shift(shift=shift)


@admin.register(MobileSession)
class MobileSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "client", "created_at", "revoked_at", "revoke_reason")
    raw_id_fields = ("user",)


@admin.register(PushToken)
class PushTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "provider", "platform", "last_seen_at")
    raw_id_fields = ("user",)
    exclude = ("token_digest",)
