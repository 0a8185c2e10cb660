"""Admin: the catalog, departments, the holiday calendar, Open311 keys (shown once), cases."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from .actions.keys import do_issue_open311_key
from .models import (
    CalendarDay,
    Case,
    CaseDocument,
    CaseRating,
    CaseStep,
    Department,
    Open311Key,
    ServiceItem,
)


@admin.register(ServiceItem)
class ServiceItemAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_zh",
        "name_en",
        "category",
        "line",
        "department",
        "time_limit_days",
        "proxy_allowed",
        "in_person_delivery",
        "active",
        "is_sample",
    )
    list_filter = ("category", "line", "department", "active", "is_sample", "district")
    search_fields = ("code", "name_zh", "name_en")
    list_editable = ("time_limit_days", "active")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "district")
    filter_horizontal = ("members",)


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Exceptions to Monday-Friday for SLA clocks (holidays, make-up working days)."""

    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)
    date_hierarchy = "date"


@admin.register(Open311Key)
class Open311KeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "district", "sees_all_requests", "active", "last_used_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ("rotate",)

    def save_model(self, request: HttpRequest, obj: Open311Key, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key = do_issue_open311_key(key=obj)
        messages.warning(request, f"api_key for {obj.name} (shown once): {key}")

    @admin.action(description="Issue a new key (shown once; the old one stops working)")
    def rotate(self, request: HttpRequest, queryset: object) -> None:
        for obj in queryset:  # type: ignore[attr-defined]
            key = do_issue_open311_key(key=obj)
            messages.warning(request, f"api_key for {obj.name} (shown once): {key}")


class StepInline(admin.TabularInline):
    model = CaseStep
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "from_state", "to_state", "actor", "at", "note", "data")
    exclude = ("location", "accuracy_m")


class DocumentInline(admin.TabularInline):
    model = CaseDocument
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "label", "added_by", "added_at")
    exclude = ("photo",)


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Read-only: cases change through the workflow (API), which keeps the timeline."""

    list_display = ("number", "item", "state", "queue_key", "channel", "due_at", "overdue_at")
    list_filter = ("state", "channel", "item__category", "community")
    search_fields = ("number",)
    inlines = (StepInline, DocumentInline)
    exclude = ("location",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CaseRating)
class CaseRatingAdmin(admin.ModelAdmin):
    list_display = ("case", "score", "via", "recorded_by", "at")
    list_filter = ("score", "via")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
